// The test server's gRPC front as the sink's error handling sees it: injected gRPC statuses and
// delays (POST /__test/faults with grpc_code / transport: "grpc"), each reaching Qdrant's JS gRPC
// client as its error class, and API keys checked as Qdrant's tonic auth layer checks them
// (UNAUTHENTICATED without or with a wrong key, PERMISSION_DENIED writing with the read-only key,
// the health check open). On a private in-process server serving both fronts, so faults and keys
// touch no other test; skipped against a real Qdrant (no /__test/ endpoints).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectError, ConnectErrorCode as Code, QdrantClient } from '@qdrant/js-client-grpc';
import { startQdrantTestServer, type QdrantTestServer } from '../qdrant-server/server.js';
import { grpcTransport } from './grpc-transport.js';
import { testServerOnly as skip } from './qdrant-helpers.js';
import { restTransport, TransportError, type ErrorKind, type Transport } from './transports.js';

let server: QdrantTestServer;
let rest: Transport;
let grpc: Transport;
const name = 'faults';

async function faults(body: unknown): Promise<Response> {
  return fetch(`${server.url}/__test/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function kindOf(p: Promise<unknown>): Promise<ErrorKind | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof TransportError) return err.kind;
    throw err;
  }
}

before(async () => {
  if (skip) return;
  server = await startQdrantTestServer({ grpcPort: 0 });
  rest = restTransport(server.url, undefined);
  grpc = grpcTransport(server.grpcUrl!, undefined);
  await rest.createCollection(name, { vectors: { size: 2, distance: 'Dot' } });
});
after(async () => {
  if (!skip) await server.close();
});

test(
  'each injected gRPC status reaches the client as its error class, once per count',
  { skip },
  async () => {
    const cases: Array<[string, ErrorKind]> = [
      ['UNAVAILABLE', 'unavailable'],
      ['RESOURCE_EXHAUSTED', 'rate_limited'],
      ['INVALID_ARGUMENT', 'invalid'],
      ['UNAUTHENTICATED', 'unauthenticated'],
      ['PERMISSION_DENIED', 'forbidden'],
      ['NOT_FOUND', 'not_found'],
      ['INTERNAL', 'internal'],
      ['DEADLINE_EXCEEDED', 'timeout'],
    ];
    for (const [code, kind] of cases) {
      assert.equal(
        (await faults({ grpc_code: code, count: 2, paths: '^/qdrant.Points/Upsert$' })).status,
        200,
      );
      const upsert = () => grpc.upsert(name, [{ id: 1, vector: [1, 1] }]);
      assert.equal(await kindOf(upsert()), kind, code);
      assert.equal(await kindOf(upsert()), kind, `${code}, second of count 2`);
      assert.equal(await kindOf(upsert()), 'ok', `${code}: spent`);
    }
    // By number too, and the client's own code.
    await faults({ grpc_code: 14, paths: 'Count$' });
    const client = new QdrantClient({ url: server.grpcUrl, checkCompatibility: false });
    await assert.rejects(
      client.api('points').count({ collectionName: name }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.Unavailable,
    );
  },
);

test(
  'RESOURCE_EXHAUSTED with retry_after carries retry-after metadata, as Qdrant rate limiting',
  { skip },
  async () => {
    await faults({ grpc_code: 'RESOURCE_EXHAUSTED', retry_after: 1.2, paths: 'UpdateBatch$' });
    await assert.rejects(
      grpc.batch(name, [{ delete: { points: [5] } }]),
      (err: unknown) => err instanceof TransportError && err.kind === 'rate_limited' && err.retryAfter === 2,
    );
  },
);

test(
  'gRPC faults are per method and per transport: other calls and the REST front pass',
  { skip },
  async () => {
    await faults({ grpc_code: 'UNAVAILABLE', count: 1, paths: '^/qdrant.Points/Upsert$' });
    await faults({ status: 503, count: 1, paths: `^/collections/${name}/points/count$` });
    assert.equal(await kindOf(grpc.count(name)), 'ok', 'a gRPC Count is not Upsert, nor a REST rule');
    assert.equal(
      await kindOf(rest.upsert(name, [{ id: 2, vector: [1, 1] }])),
      'ok',
      'REST ignores gRPC rules',
    );
    assert.equal(await kindOf(rest.count(name)), 'unavailable');
    assert.equal(await kindOf(grpc.upsert(name, [{ id: 2, vector: [1, 1] }])), 'unavailable');
  },
);

test(
  'a point_id rule fails only the calls naming that point: a batch is narrowed down to it',
  { skip },
  async () => {
    await faults({ grpc_code: 'INVALID_ARGUMENT', count: 100, paths: 'Upsert$', point_id: 13 });
    const points = (ids: number[]) => ids.map((id) => ({ id, vector: [1, id] }));
    assert.equal(await kindOf(grpc.upsert(name, points([10, 11, 12, 13]))), 'invalid');
    assert.equal(await kindOf(grpc.upsert(name, points([10, 11]))), 'ok');
    assert.equal(await kindOf(grpc.upsert(name, points([12, 13]))), 'invalid');
    assert.equal(await kindOf(grpc.upsert(name, points([12]))), 'ok');
    assert.equal(await kindOf(grpc.upsert(name, points([13]))), 'invalid');
    assert.equal(await kindOf(rest.upsert(name, points([13]))), 'ok', 'not on REST');
    assert.equal(await kindOf(grpc.delete(name, { points: [13] })), 'ok', "only the rule's method");
    const left = (await (await fetch(`${server.url}/__test/faults`)).json()) as {
      result: Array<{ remaining: number }>;
    };
    assert.equal(left.result[0]?.remaining, 97, 'only the failed calls count');
    await fetch(`${server.url}/__test/faults`, { method: 'DELETE' });
  },
);

test(
  'a collection-scoped rule fails only calls to its collection: gRPC by collection_name, REST by path',
  { skip },
  async () => {
    const other = 'faults_other';
    await rest.createCollection(other, { vectors: { size: 2, distance: 'Dot' } });
    await faults({ grpc_code: 'UNAVAILABLE', count: 1, paths: 'Upsert$', collection: name });
    await faults({ status: 503, count: 1, collection: name });
    const point = [{ id: 3, vector: [1, 3] }];
    for (const tr of [grpc, rest]) assert.equal(await kindOf(tr.upsert(other, point)), 'ok', tr.name);
    assert.equal(await kindOf(grpc.upsert(name, point)), 'unavailable');
    assert.equal(await kindOf(rest.count(name)), 'unavailable');
    await rest.deleteCollection(other);
  },
);

test('a gRPC delay-only fault answers normally after the delay', { skip }, async () => {
  await faults({ transport: 'grpc', delay_ms: 300, paths: 'Get$' });
  const started = Date.now();
  assert.deepEqual(await grpc.get(name, [424242]), []);
  assert.ok(Date.now() - started >= 250, `answered after ${Date.now() - started} ms`);
});

test('a malformed gRPC fault is refused', { skip }, async () => {
  assert.equal((await faults({ grpc_code: 'NOT_A_CODE' })).status, 400);
  assert.equal((await faults({ grpc_code: 99 })).status, 400);
  assert.equal((await faults({ grpc_code: 'INTERNAL', status: 500 })).status, 400);
});

test(
  'API keys over gRPC as over REST: UNAUTHENTICATED / 401, PERMISSION_DENIED / 403 on writes with the read-only key',
  { skip },
  async (t) => {
    const keyed = await startQdrantTestServer({
      grpcPort: 0,
      apiKeys: { apiKey: 'rw', readOnlyApiKey: 'ro' },
    });
    t.after(() => keyed.close());
    const both = (key: string | undefined) => [
      restTransport(keyed.url, key),
      grpcTransport(keyed.grpcUrl!, key),
    ];
    const [restRw, grpcRw] = both('rw');
    await restRw!.createCollection('keyed', { vectors: { size: 2, distance: 'Dot' } });
    await grpcRw!.upsert('keyed', [{ id: 1, vector: [1, 1] }]);
    for (const tr of both(undefined)) {
      await assert.rejects(tr.count('keyed'), (err: TransportError) => {
        assert.equal(err.kind, 'unauthenticated', tr.name);
        assert.equal(err.message, 'Must provide an API key or an Authorization bearer token');
        return true;
      });
    }
    for (const tr of both('wrong')) {
      await assert.rejects(tr.count('keyed'), (err: TransportError) => {
        assert.equal(err.kind, 'unauthenticated', tr.name);
        assert.equal(err.message, 'Invalid API key or JWT');
        return true;
      });
    }
    for (const tr of both('ro')) {
      assert.equal(await tr.count('keyed'), 1, `${tr.name}: the read-only key reads`);
      await assert.rejects(tr.upsert('keyed', [{ id: 2, vector: [1, 1] }]), (err: TransportError) => {
        assert.equal(err.kind, 'forbidden', tr.name);
        assert.equal(err.message, 'Forbidden: Global manage access is required');
        return true;
      });
    }
    const open = new QdrantClient({ url: keyed.grpcUrl, checkCompatibility: false });
    assert.equal((await open.api('service').healthCheck({})).title, 'qdrant - vector search engine');
  },
);
