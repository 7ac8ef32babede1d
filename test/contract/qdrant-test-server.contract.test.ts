// The bundled test server's own /__test/ endpoints (fault injection, reset), which the sink tests
// use to simulate an unavailable Qdrant. Skipped against a real Qdrant. Faults set on the shared
// stack server are scoped (`paths`) to this test's collection so concurrent suites are unaffected;
// clearing and resetting are exercised on a private in-process server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QdrantClient, QdrantClientResourceExhaustedError } from '@qdrant/js-client-rest';
import { startQdrantTestServer, type QdrantTestServer } from '../qdrant-server/server.js';
import { assertError, collection, env, ok, qdrantClient, raw, single } from './qdrant-helpers.js';

const skip = env.qdrantIsReal ? 'QDRANT_URL points at a real Qdrant, which has no /__test/ endpoints' : false;

test('injected 503s fail the next N matching requests with an error envelope', { skip }, async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const other = await collection(t, single(2, 'Dot'));
  await ok('POST', '/__test/faults', {
    status: 503,
    count: 2,
    paths: `^/collections/${name}/points/scroll$`,
  });
  assert.equal((await raw('POST', `/collections/${other}/points/scroll`, {})).status, 200);
  assertError(
    await raw('POST', `/collections/${name}/points/scroll`, {}),
    503,
    'Shard temporarily unavailable:',
  );
  await assert.rejects(
    qdrantClient().scroll(name, { limit: 1 }),
    (err: { status?: number }) => err.status === 503,
  );
  assert.equal((await raw('POST', `/collections/${name}/points/scroll`, {})).status, 200);
});

test('an injected 429 carries Retry-After, which the client reports', { skip }, async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const paths = `^/collections/${name}/points$`;
  await ok('POST', '/__test/faults', { status: 429, count: 2, retry_after: 2, paths });
  const res = await raw('PUT', `/collections/${name}/points?wait=true`, {
    points: [{ id: 1, vector: [1, 1] }],
  });
  assertError(res, 429, 'Rate limiting exceeded:');
  assert.equal(res.headers.get('retry-after'), '2');
  await assert.rejects(
    qdrantClient().upsert(name, { wait: true, points: [{ id: 1, vector: [1, 1] }] }),
    (err: unknown) => err instanceof QdrantClientResourceExhaustedError && err.retry_after === 2,
  );
  const done = await qdrantClient().upsert(name, { wait: true, points: [{ id: 1, vector: [1, 1] }] });
  assert.equal(done.status, 'completed');
});

test('a delay-only fault answers normally after the delay', { skip }, async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('POST', '/__test/faults', {
    delay_ms: 300,
    count: 1,
    paths: `^/collections/${name}/points/count$`,
  });
  const started = Date.now();
  assert.deepEqual(await ok('POST', `/collections/${name}/points/count`, {}), { count: 0 });
  assert.ok(Date.now() - started >= 250);
});

test('a bad fault request is refused', { skip }, async () => {
  assertError(await raw('POST', '/__test/faults', { status: 200 }), 400, 'Format error in JSON body:');
  assertError(
    await raw('POST', '/__test/faults', { status: 503, paths: '(' }),
    400,
    'Format error in JSON body:',
  );
});

let privateServer: QdrantTestServer | undefined;
const privateSkip = skip;

before(async () => {
  if (!privateSkip) privateServer = await startQdrantTestServer({ port: 0 });
});
after(async () => {
  await privateServer?.close();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${privateServer!.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

test(
  'optimizedSegments models Qdrant ≤ 1.18: an upsert keeps the vectors it leaves out; 1.19 drops them',
  { skip: privateSkip },
  async () => {
    // Qdrant 1.18.3 lib/shard/src/update.rs upsert_points: a point in a non-appendable segment is
    // moved with its old vectors, the request's inserted over them (fixed in 1.19.0).
    for (const [version, kept] of [
      ['1.18.3', true],
      ['1.19.0', false],
    ] as const) {
      const server = await startQdrantTestServer({ port: 0, version, optimizedSegments: true });
      try {
        const client = new QdrantClient({ url: server.url, checkCompatibility: false });
        await client.createCollection('named', {
          vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 2, distance: 'Dot' } },
        });
        await client.createCollection('single', { vectors: { size: 2, distance: 'Dot' } });
        await client.upsert('named', { points: [{ id: 1, vector: { a: [1, 1], b: [2, 2] } }] });
        await client.upsert('single', { points: [{ id: 1, vector: [1, 1] }] });
        await client.upsert('named', { points: [{ id: 1, vector: { b: [3, 3] } }] });
        await client.upsert('single', { points: [{ id: 1, vector: {} }] });
        const [named] = await client.retrieve('named', { ids: [1], with_vector: true });
        const [single] = await client.retrieve('single', { ids: [1], with_vector: true });
        assert.deepEqual(named!.vector, kept ? { a: [1, 1], b: [3, 3] } : { b: [3, 3] }, version);
        assert.deepEqual(single!.vector ?? {}, kept ? [1, 1] : {}, version);
      } finally {
        await server.close();
      }
    }
  },
);

test('DELETE /__test/faults clears pending faults; GET lists them', { skip: privateSkip }, async () => {
  await call('POST', '/__test/faults', { status: 500, count: 5, paths: '^/collections$' });
  const listed = JSON.parse((await call('GET', '/__test/faults')).text) as {
    result: Array<{ remaining: number }>;
  };
  assert.equal(listed.result[0]?.remaining, 5);
  assert.equal((await call('GET', '/collections')).status, 500);
  assert.equal((await call('DELETE', '/__test/faults')).status, 200);
  assert.equal((await call('GET', '/collections')).status, 200);
});

test('POST /__test/reset drops every collection', { skip: privateSkip }, async () => {
  const client = new QdrantClient({ url: privateServer!.url, checkCompatibility: false });
  await client.createCollection('one', { vectors: { size: 2, distance: 'Dot' } });
  await client.createCollection('two', { vectors: { size: 2, distance: 'Dot' } });
  assert.equal((await client.getCollections()).collections.length, 2);
  assert.equal((await call('POST', '/__test/reset')).status, 200);
  assert.deepEqual((await client.getCollections()).collections, []);
});

test(
  'API keys as Qdrant checks them: 401 without or with a wrong key, 403 writing with the read-only key, / open; /__test/api-key rotates',
  { skip },
  async () => {
    const server = await startQdrantTestServer({ apiKeys: { apiKey: 'rw-1', readOnlyApiKey: 'ro-1' } });
    try {
      const call = (method: string, path: string, key?: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(key ? { 'api-key': key } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      assert.equal((await call('GET', '/')).status, 200, 'GET / needs no key');
      assert.equal((await call('GET', '/healthz')).status, 200);
      const none = await call('GET', '/collections');
      assert.equal(none.status, 401);
      assert.equal(await none.text(), 'Must provide an API key or an Authorization bearer token');
      const wrong = await call('GET', '/collections', 'nope');
      assert.equal(wrong.status, 401);
      assert.equal(await wrong.text(), 'Invalid API key or JWT');
      const bearer = await fetch(`${server.url}/collections`, { headers: { authorization: 'Bearer rw-1' } });
      assert.equal(bearer.status, 200, 'Authorization: Bearer <key> works too');
      assert.equal((await call('PUT', '/collections/c', 'rw-1', single(2, 'Dot'))).status, 200);
      assert.equal((await call('POST', '/collections/c/points/scroll', 'ro-1', {})).status, 200, 'reads: ok');
      const write = await call('PUT', '/collections/c/points?wait=true', 'ro-1', {
        points: [{ id: 1, vector: [1, 1] }],
      });
      assert.equal(write.status, 403);
      assert.deepEqual(((await write.json()) as { status: unknown }).status, {
        error: 'Forbidden: Global manage access is required',
      });

      // Rotation (what a restart with a new service.api_key does): the old key stops working.
      assert.equal((await call('POST', '/__test/api-key', undefined, { api_key: 'rw-2' })).status, 200);
      assert.equal((await call('GET', '/collections', 'rw-1')).status, 401);
      assert.equal((await call('GET', '/collections', 'rw-2')).status, 200);
    } finally {
      await server.close();
    }
  },
);

// Aliases too (as Qdrant keeps them in its storage).
test('--state keeps collections, points and payload indexes across a restart', { skip }, async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'qdrant-state-')), 'state.json');
  let server = await startQdrantTestServer({ stateFile });
  const client = () => new QdrantClient({ url: server.url, checkCompatibility: false });
  try {
    await client().createCollection('c', { vectors: { size: 2, distance: 'Dot' } });
    await client().createPayloadIndex('c', { field_name: 'n', field_schema: 'integer', wait: true });
    await client().upsert('c', {
      points: [
        { id: 1, vector: [0.5, 0.25], payload: { n: 1 } },
        { id: '936da01f-9abd-4d9d-80c7-02af85c822a8', vector: [1, 2], payload: {} },
      ],
    });
    await client().updateCollectionAliases({
      actions: [{ create_alias: { collection_name: 'c', alias_name: 'a' } }],
    });
  } finally {
    await server.close();
  }
  server = await startQdrantTestServer({ stateFile });
  try {
    const points = await client().retrieve('c', { ids: [1], with_vector: true, with_payload: true });
    assert.deepEqual(points[0]?.vector, [0.5, 0.25]);
    assert.equal(points[0]?.payload?.n, 1);
    assert.equal((await client().count('c')).count, 2);
    assert.ok('n' in (await client().getCollection('c')).payload_schema);
    assert.deepEqual((await client().getAliases()).aliases, [{ alias_name: 'a', collection_name: 'c' }]);
    assert.equal((await client().count('a')).count, 2);
  } finally {
    await server.close();
  }
});

test(
  '--state keeps the settings PATCH /collections/{name} left (hnsw_config, metadata)',
  { skip },
  async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const stateFile = path.join(mkdtempSync(path.join(tmpdir(), 'qdrant-state-')), 'state.json');
    let server = await startQdrantTestServer({ stateFile });
    const client = () => new QdrantClient({ url: server.url, checkCompatibility: false });
    try {
      await client().createCollection('c', {
        vectors: { v: { size: 2, distance: 'Dot', hnsw_config: { m: 0 } } },
        metadata: { mark: true, keep: 1 },
      });
      await client().updateCollection('c', {
        vectors: { v: { hnsw_config: { m: 20 } } },
        hnsw_config: { ef_construct: 90 },
        metadata: { mark: null },
      });
    } finally {
      await server.close();
    }
    server = await startQdrantTestServer({ stateFile });
    try {
      const { config } = await client().getCollection('c');
      const vectors = config.params.vectors as Record<string, { hnsw_config?: { m?: number } }>;
      assert.equal(vectors.v?.hnsw_config?.m, 20);
      assert.equal(config.hnsw_config.ef_construct, 90);
      assert.deepEqual(config.metadata, { keep: 1 });
    } finally {
      await server.close();
    }
  },
);

test(
  '--version: an older Qdrant answers its version and ignores update_filter (unknown to serde before 1.16)',
  { skip },
  async () => {
    const server = await startQdrantTestServer({ version: '1.15.4' });
    try {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      assert.equal(((await (await call('GET', '/')).json()) as { version: string }).version, '1.15.4');
      await call('PUT', '/collections/c', single(2, 'Dot'));
      await call('PUT', '/collections/c/points?wait=true', {
        points: [{ id: 1, vector: [1, 1], payload: { v: 2 } }],
      });
      const res = await call('PUT', '/collections/c/points?wait=true', {
        points: [{ id: 1, vector: [1, 1], payload: { v: 1 } }],
        update_filter: { must: [{ key: 'v', match: { value: 1 } }] },
      });
      assert.equal(res.status, 200);
      const { result } = (await (
        await call('POST', '/collections/c/points', { ids: [1], with_payload: true })
      ).json()) as {
        result: Array<{ payload: { v: number } }>;
      };
      assert.equal(result[0]?.payload.v, 1, 'written unconditionally');
    } finally {
      await server.close();
    }
  },
);
