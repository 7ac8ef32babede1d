// The gRPC transport (transport-grpc.ts, proto-points.ts, grpc-client.ts) behind CollectionWriter,
// against a fake Points service: each request is serialised as it would go on the wire and read
// back with the protobuf descriptors of @qdrant/js-client-grpc, so the hand-written point bytes
// must be valid protobuf with every value exact. gRPC status codes must land in the same classes
// as REST's (record → dead letter, gone → TargetGone, auth → ConfigError, overload → retried).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary, toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import {
  ConnectError,
  ConnectErrorCode,
  DeletePointsSchema,
  UpdateBatchPointsSchema,
  UpdateStatus,
  UpsertPointsSchema,
  type PointStruct,
} from '@qdrant/js-client-grpc';
import { ConfigError } from '../../src/shared/errors.js';
import { TargetGone, type BatchContext } from '../../src/sink/output.js';
import type { PointChange } from '../../src/sink/plan.js';
import { QdrantError } from '../../src/sink/qdrant/errors.js';
import { QdrantGrpc } from '../../src/sink/qdrant/grpc-client.js';
import { KEY_FIELD, pipelineNamespace } from '../../src/sink/qdrant/point-id.js';
import { LSN_FIELD, SEQ_FIELD } from '../../src/sink/qdrant/points.js';
import { GrpcPoints } from '../../src/sink/qdrant/transport-grpc.js';
import { CollectionWriter, type WriterOptions } from '../../src/sink/qdrant/writer.js';
import {
  descriptor,
  options as writerOptions,
  silent,
  step,
  upsert as itemUpsert,
  vector,
} from '../helpers/writer-points.js';

type Sent = { method: 'Upsert' | 'Delete' | 'UpdateBatch'; json: Record<string, unknown>; msg: unknown };

/** Serialised and read back, as the server would read it. */
function wire<D extends DescMessage>(schema: D, msg: MessageShape<D>): MessageShape<D> {
  return fromBinary(schema, toBinary(schema, msg));
}

type Fail = (method: string, msg: unknown) => ConnectError | undefined;

/** A QdrantGrpc whose Points service records each request and answers Completed, or fails on demand. */
function fakeGrpc(fail: Fail = () => undefined) {
  const sent: Sent[] = [];
  const grpc = new QdrantGrpc({ url: 'http://127.0.0.1:1' });
  const ok = { result: { status: UpdateStatus.Completed }, time: 0 };
  const answer = async <D extends DescMessage>(method: Sent['method'], schema: D, req: MessageShape<D>) => {
    await new Promise((r) => setTimeout(r, 1));
    const msg = wire(schema, req);
    const err = fail(method, msg);
    if (err) throw err;
    sent.push({ method, msg, json: toJson(schema, msg) as Record<string, unknown> });
  };
  Object.assign(grpc, {
    points: {
      upsert: async (req: MessageShape<typeof UpsertPointsSchema>) => {
        await answer('Upsert', UpsertPointsSchema, req);
        return ok;
      },
      delete: async (req: MessageShape<typeof DeletePointsSchema>) => {
        await answer('Delete', DeletePointsSchema, req);
        return ok;
      },
      updateBatch: async (req: MessageShape<typeof UpdateBatchPointsSchema>) => {
        await answer('UpdateBatch', UpdateBatchPointsSchema, req);
        return { result: req.operations.map(() => ok.result), time: 0 };
      },
    },
  });
  return { grpc, sent };
}

/** Row i's upsert at seq 2, with a JSON value too (a Struct in the proto payload). */
const upsert = (i: number, dim: number, key?: Record<string, bigint | string>): PointChange =>
  itemUpsert(i, dim, key, {
    seq: 2,
    values: { meta: { kind: 'json', json: `{"tags":["a",${i}],"x":1.5}` } },
  });

/** Retries cut short: a fault that outlasts them fails the test quickly. */
const options = (o: Partial<WriterOptions> = {}) => writerOptions({ retryMaxMs: 200, ...o });

function writer(grpc: QdrantGrpc, o: Partial<WriterOptions> = {}, d = descriptor(8)) {
  return new CollectionWriter(
    (shape) => new GrpcPoints(grpc, shape),
    'c',
    d,
    pipelineNamespace('p'),
    options(o),
    silent,
  );
}

function context(
  dead: Array<{ offsets: string[]; reason: string }> = [],
  applied: string[] = [],
): BatchContext {
  return {
    fence: async () => {},
    deadLetter: async (records, reason) => void dead.push({ offsets: records.map((r) => r.offset), reason }),
    applied: (rs) => applied.push(...rs.map((r) => r.offset)),
    signal: new AbortController().signal,
  };
}

const upserted = (sent: Sent[]): PointStruct[] =>
  sent
    .filter((s) => s.method === 'Upsert')
    .flatMap((s) => (s.msg as MessageShape<typeof UpsertPointsSchema>).points);

function checkPoint(p: PointStruct, dim: number) {
  const i = Number(p.id!.pointIdOptions.value);
  const v = p.vectors!.vectorsOptions;
  assert.equal(v.case, 'vector');
  const dense = v.value.vector;
  assert.equal(dense.case, 'dense');
  assert.deepEqual(new Float32Array(dense.value.data), vector(i, dim), `point ${i}: every float32 exact`);
  const payload = Object.fromEntries(Object.entries(p.payload).map(([k, x]) => [k, x.kind.value]));
  assert.equal(payload.title, `item "${i}" ü`);
  assert.equal(payload.n, BigInt(i));
  assert.equal(payload[LSN_FIELD], BigInt(1000 + i));
  assert.equal(payload[SEQ_FIELD], 2n);
  const meta = p.payload.meta!.kind;
  assert.equal(meta.case, 'structValue');
  const tags = meta.value.fields.tags!.kind;
  assert.equal(tags.case, 'listValue');
  assert.deepEqual(
    tags.value.values.map((x) => x.kind.value),
    ['a', BigInt(i)],
  );
  assert.equal(meta.value.fields.x!.kind.value, 1.5);
}

test('gRPC: upserts of many large points, every point once, exact, in requests of ≤ batchSize, wait=true', async () => {
  const dim = 1536;
  const { grpc, sent } = fakeGrpc();
  const w = writer(grpc, { batchSize: 100 }, descriptor(dim));
  const applied: string[] = [];
  const changes = Array.from({ length: 500 }, (_, i) => upsert(i, dim));
  await Promise.all([
    w.apply([step(changes.slice(0, 250))], context([], applied)),
    w.apply([step(changes.slice(250))], context([], applied)),
  ]);
  assert.ok(
    sent.every((s) => s.method === 'Upsert' && s.json.wait === true && s.json.collectionName === 'c'),
  );
  assert.ok(sent.every((s) => (s.msg as { points: unknown[] }).points.length <= 100));
  const points = upserted(sent);
  assert.deepEqual(
    points.map((p) => Number(p.id!.pointIdOptions.value)).sort((a, b) => a - b),
    [...Array(500).keys()],
  );
  for (const p of points) checkPoint(p, dim);
  assert.equal(applied.length, 500);
});

test('gRPC: derived ids are uuids with the canonical key in the payload', async () => {
  const { grpc, sent } = fakeGrpc();
  await writer(grpc, {}, descriptor(8, [{ name: 'sku', type: 'text' }])).apply(
    [step([upsert(1, 8, { sku: 'a"b' })])],
    context(),
  );
  const [p] = upserted(sent);
  assert.equal(p!.id!.pointIdOptions.case, 'uuid');
  assert.equal(p!.payload[KEY_FIELD]!.kind.value, '["a\\"b"]');
});

test('gRPC: conditional upserts carry one guarded has_id clause per point, deletes go by filter, tombstones by id', async () => {
  const { grpc, sent } = fakeGrpc();
  const del = upsert(9, 8);
  del.kind = 'delete';
  const tomb = upsert(7, 8);
  tomb.kind = 'delete';
  tomb.tombstone = true;
  const applied: string[] = [];
  await writer(grpc, { conditional: true, batchSize: 2 }).apply(
    [step([upsert(1, 8), upsert(2, 8), upsert(3, 8), del, tomb])],
    context([], applied),
  );
  const clause = (id: number, lsn: number) => ({
    filter: {
      must: [
        { hasId: { hasId: [{ num: String(id) }] } },
        {
          filter: {
            mustNot: [
              { field: { key: LSN_FIELD, range: { gt: lsn } } },
              {
                filter: {
                  must: [
                    { field: { key: LSN_FIELD, match: { integer: String(lsn) } } },
                    { field: { key: SEQ_FIELD, range: { gt: 2 } } },
                  ],
                },
              },
            ],
          },
        },
      ],
    },
  });
  assert.deepEqual(
    sent.map((s) => s.method),
    ['Delete', 'Delete', 'Upsert', 'Upsert'],
  );
  assert.deepEqual(sent[0]!.json.points, { filter: { should: [clause(9, 1009)] } });
  assert.deepEqual(sent[1]!.json.points, { points: { ids: [{ num: '7' }] } }, 'the tombstone: by id');
  assert.deepEqual(sent[2]!.json.updateFilter, { should: [clause(1, 1001), clause(2, 1002)] });
  assert.deepEqual(sent[3]!.json.updateFilter, { should: [clause(3, 1003)] });
  assert.deepEqual(applied.sort(), ['1', '2', '3', '7', '9']);
});

test('gRPC: a NULL vector is upserted without it and deleted in the same UpdateBatch; partials set payload and vectors', async () => {
  const { grpc, sent } = fakeGrpc();
  const cleared = upsert(3, 8);
  cleared.vectors = { embedding: null };
  const partial = upsert(4, 8);
  partial.kind = 'partial';
  partial.values = { title: 'new' };
  await writer(grpc).apply([step([cleared, partial])], context());
  assert.deepEqual(
    sent.map((s) => s.method),
    ['UpdateBatch', 'UpdateBatch'],
  );
  const ops = (s: Sent) => s.json.operations as Array<Record<string, Record<string, unknown>>>;
  const [up, delVectors] = ops(sent[0]!);
  const point = (up!.upsert!.points as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual(point.id, { num: '3' });
  assert.deepEqual(point.vectors, { vectors: {} }, 'no vector: an empty map, as REST sends {}');
  assert.deepEqual(delVectors!.deleteVectors, {
    pointsSelector: { points: { ids: [{ num: '3' }] } },
    vectors: { names: [''] },
  });
  const [setPayload, updateVectors] = ops(sent[1]!);
  assert.deepEqual(setPayload!.setPayload!.payload, {
    title: { stringValue: 'new' },
    [LSN_FIELD]: { integerValue: '1004' },
    [SEQ_FIELD]: { integerValue: '2' },
  });
  const pv = (
    updateVectors!.updateVectors!.points as Array<{ vectors: { vector: { dense: { data: number[] } } } }>
  )[0]!;
  assert.deepEqual(new Float32Array(pv.vectors.vector.dense.data), vector(4, 8));
});

test('gRPC: a truncate deletes by position filter', async () => {
  const { grpc, sent } = fakeGrpc();
  await writer(grpc).apply([{ kind: 'truncate', lsn: 5000n, seq: 3, records: [] }], context());
  assert.deepEqual(sent[0]!.json.points, {
    filter: {
      should: [
        { field: { key: LSN_FIELD, range: { lt: 5000 } } },
        {
          filter: {
            must: [
              { field: { key: LSN_FIELD, match: { integer: '5000' } } },
              { field: { key: SEQ_FIELD, range: { lt: 3 } } },
            ],
          },
        },
      ],
    },
  });
});

const hasPoint = (msg: unknown, id: number) =>
  (msg as MessageShape<typeof UpsertPointsSchema>).points?.some(
    (p) => p.id?.pointIdOptions.value === BigInt(id),
  );

test('gRPC INVALID_ARGUMENT: the rejected point is split out and dead-lettered; the rest are written', async () => {
  const { grpc, sent } = fakeGrpc((_m, msg) =>
    hasPoint(msg, 37)
      ? new ConnectError('Wrong input: Vector dimension error', ConnectErrorCode.InvalidArgument)
      : undefined,
  );
  const dead: Array<{ offsets: string[]; reason: string }> = [];
  await writer(grpc, { batchSize: 16 }).apply(
    [step(Array.from({ length: 100 }, (_, i) => upsert(i, 8)))],
    context(dead),
  );
  assert.deepEqual(dead, [
    {
      offsets: ['37'],
      reason: 'Qdrant gRPC Upsert answered InvalidArgument: Wrong input: Vector dimension error',
    },
  ]);
  assert.equal(upserted(sent).length, 99);
});

test('gRPC UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, INTERNAL: retried, then applied', async () => {
  for (const code of [
    ConnectErrorCode.Unavailable,
    ConnectErrorCode.ResourceExhausted,
    ConnectErrorCode.DeadlineExceeded,
    ConnectErrorCode.Internal,
  ]) {
    let failures = 2;
    const { grpc, sent } = fakeGrpc(() => (failures-- > 0 ? new ConnectError('busy', code) : undefined));
    const applied: string[] = [];
    await writer(grpc).apply([step([upsert(1, 8)])], context([], applied));
    assert.equal(upserted(sent).length, 1, ConnectErrorCode[code]);
    assert.deepEqual(applied, ['1'], ConnectErrorCode[code]);
  }
});

test('gRPC NOT_FOUND on the collection: TargetGone; UNAUTHENTICATED / PERMISSION_DENIED: ConfigError naming the env', async () => {
  const gone = fakeGrpc(
    () => new ConnectError("Not found: Collection `c` doesn't exist!", ConnectErrorCode.NotFound),
  );
  await assert.rejects(writer(gone.grpc).apply([step([upsert(1, 8)])], context()), TargetGone);
  for (const code of [ConnectErrorCode.Unauthenticated, ConnectErrorCode.PermissionDenied]) {
    const auth = fakeGrpc(() => new ConnectError('Invalid api-key', code));
    const w = new CollectionWriter(
      (shape) => new GrpcPoints(auth.grpc, shape),
      'c',
      descriptor(8),
      pipelineNamespace('p'),
      options({ apiKeyEnv: 'QDRANT_KEY' }),
      silent,
    );
    const dead: unknown[] = [];
    await assert.rejects(w.apply([step([upsert(1, 8)])], context(dead as never)), (err: Error) => {
      assert.ok(err instanceof ConfigError, ConnectErrorCode[code]);
      assert.match(err.message, /qdrant\.apiKeyEnv/);
      return true;
    });
    assert.deepEqual(dead, [], 'never dead-lettered');
  }
});

test('gRPC RESOURCE_EXHAUSTED with retry-after: the wait honours it (retry-after 12 is 12 s)', async () => {
  const grpc = new QdrantGrpc({ url: 'http://127.0.0.1:1' });
  const err = new ConnectError('rate limited', ConnectErrorCode.ResourceExhausted, { 'retry-after': '12' });
  const got = await grpc.call('Upsert', undefined, () => Promise.reject(err)).catch((e: unknown) => e);
  assert.deepEqual(
    ((e) => ({ status: e.status, retryAfterSeconds: e.retryAfterSeconds, retriable: e.retriable }))(
      got as QdrantError,
    ),
    { status: 429, retryAfterSeconds: 12, retriable: true },
  );
});
