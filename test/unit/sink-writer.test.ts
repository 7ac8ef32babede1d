// CollectionWriter against a fake Qdrant HTTP client: request bodies (written in pieces into
// reused buffers) are valid JSON with every point exactly once, stay intact until their answer
// arrives, respect batchSize / requestMaxBytes, and a rejected point is split out and dead-lettered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import type { BatchContext } from '../../src/sink/output.js';
import type { PointChange, SinkRecord } from '../../src/sink/plan.js';
import { KEY_FIELD, pipelineNamespace } from '../../src/sink/qdrant/point-id.js';
import { LSN_FIELD } from '../../src/sink/qdrant/points.js';
import { QdrantError } from '../../src/sink/qdrant/errors.js';
import type { Body, QdrantHttp } from '../../src/sink/qdrant/http.js';
import { CollectionWriter } from '../../src/sink/qdrant/writer.js';
import { descriptor, options, silent, step, upsert, vector } from '../helpers/writer-points.js';

const bodyText = (body: Body) =>
  typeof body === 'string' ? body : body.map((p) => Buffer.from(p).toString('utf8')).join('');

interface Sent {
  method: string;
  path: string;
  json: string;
}

/** A fake QdrantHttp: records each request body, answers after `delayMs`, rejects points on demand. */
function fakeHttp(options: { delayMs?: number; reject?: (point: { id: unknown }) => boolean } = {}) {
  const sent: Sent[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const http = {
    async write(method: string, _collection: string, path: string, body: Body) {
      const json = bodyText(body);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
        // The body must not have changed while the request was in flight (its buffers are reused
        // only after the answer).
        assert.equal(bodyText(body), json, 'the request body changed while in flight');
        const parsed = JSON.parse(json) as { points?: Array<{ id: unknown }> };
        if (options.reject && parsed.points?.some((p) => options.reject!(p)))
          throw new QdrantError('Qdrant answered 400: Wrong input: bad point', 400, false);
        sent.push({ method, path, json });
      } finally {
        inFlight--;
      }
    },
  } as unknown as QdrantHttp;
  return { http, sent, maxInFlight: () => maxInFlight };
}

/** What the consumer lends a batch: no fencing here, dead letters to `deadLetter`. */
const batchContext = (deadLetter: BatchContext['deadLetter']): BatchContext => ({
  fence: async () => {},
  deadLetter,
  applied: () => {},
  signal: new AbortController().signal,
});

type Point = { id: number | string; vector: number[]; payload: Record<string, unknown> };

function sentPoints(sent: Sent[]): Point[] {
  return sent.flatMap((s) => (JSON.parse(s.json) as { points: Point[] }).points);
}

function checkPoint(p: Point, i: number, dim: number) {
  const want = vector(i, dim);
  assert.equal(p.vector.length, dim);
  for (let k = 0; k < dim; k++) assert.equal(Math.fround(p.vector[k]!), want[k], `point ${i} element ${k}`);
  assert.equal(p.payload.title, `item "${i}" ü`);
  assert.equal(p.payload.n, i);
  assert.equal(p.payload[LSN_FIELD], 1000 + i);
}

test('upserts of many large points: every point once, exact, in requests of ≤ batchSize', async () => {
  const dim = 1536;
  const n = 1000;
  const { http, sent } = fakeHttp({ delayMs: 5 });
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(dim),
    pipelineNamespace('p'),
    options({ batchSize: 128 }),
    silent,
  );
  const ctx = batchContext(async () => assert.fail('nothing is dead-lettered'));
  const changes = Array.from({ length: n }, (_, i) => upsert(i, dim));
  // Two partitions' batches at once, as the consumer runs them: they share the buffer pool.
  await Promise.all([
    writer.apply([step(changes.slice(0, n / 2))], ctx),
    writer.apply([step(changes.slice(n / 2))], ctx),
  ]);
  assert.ok(sent.every((s) => s.method === 'PUT' && s.path === '/points'));
  assert.ok(sent.every((s) => (JSON.parse(s.json) as { points: unknown[] }).points.length <= 128));
  const points = sentPoints(sent);
  assert.deepStrictEqual(
    points.map((p) => p.id).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: n }, (_, i) => i),
  );
  for (const p of points) checkPoint(p, Number(p.id), dim);

  // A second round reuses the pooled buffers: still exact.
  sent.length = 0;
  await writer.apply([step(changes.slice(0, 300))], ctx);
  for (const p of sentPoints(sent)) checkPoint(p, Number(p.id), dim);
  assert.equal(sentPoints(sent).length, 300);
});

test('requestMaxBytes splits requests by size, and a point crossing the limit moves intact', async () => {
  const dim = 700; // ~9 KB of JSON a point
  const { http, sent } = fakeHttp({ delayMs: 2 });
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(dim),
    pipelineNamespace('p'),
    options({ requestMaxBytes: 40_000 }),
    silent,
  );
  const ctx = batchContext(async () => assert.fail('nothing is dead-lettered'));
  const changes = Array.from({ length: 50 }, (_, i) => upsert(i, dim));
  await writer.apply([step(changes)], ctx);
  assert.ok(sent.length >= 10, `${sent.length} requests`);
  for (const s of sent) assert.ok(Buffer.byteLength(s.json) <= 40_000 + 100, `${s.json.length} bytes`);
  const points = sentPoints(sent);
  assert.deepStrictEqual(
    points.map((p) => p.id),
    changes.map((_, i) => i),
  );
  for (const p of points) checkPoint(p, Number(p.id), dim);
});

test('a point Qdrant rejects is split out and dead-lettered; the rest are written', async () => {
  const dim = 64;
  const { http, sent } = fakeHttp({ reject: (p) => p.id === 37 });
  const dead: Array<{ offsets: string[]; reason: string }> = [];
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(dim),
    pipelineNamespace('p'),
    options({ batchSize: 16 }),
    silent,
  );
  const ctx = batchContext(async (records, reason) => {
    dead.push({ offsets: records.map((r) => r.offset), reason });
  });
  await writer.apply([step(Array.from({ length: 100 }, (_, i) => upsert(i, dim)))], ctx);
  assert.deepStrictEqual(dead, [{ offsets: ['37'], reason: 'Qdrant answered 400: Wrong input: bad point' }]);
  const points = sentPoints(sent);
  assert.deepStrictEqual(
    points.map((p) => p.id).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: 100 }, (_, i) => i).filter((i) => i !== 37),
  );
  for (const p of points) checkPoint(p, Number(p.id), dim);
});

test('derived ids carry the canonical key in the payload', async () => {
  const { http, sent } = fakeHttp();
  const ns = pipelineNamespace('p');
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(4, [{ name: 'sku', type: 'text' }]),
    ns,
    options(),
    silent,
  );
  const ctx = batchContext(async () => {});
  await writer.apply([step([upsert(1, 4, { sku: 'a"b' })])], ctx);
  const [point] = sentPoints(sent);
  assert.match(String(point!.id), /^[0-9a-f-]{36}$/);
  assert.equal(point!.payload[KEY_FIELD], '["a\\"b"]');
  checkPoint(point!, 1, 4);
});

test('conditional: upserts carry one guarded has_id clause per point, deletes go by that filter, applied records reported', async () => {
  const { http, sent } = fakeHttp();
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(4),
    pipelineNamespace('p'),
    options({ conditional: true, batchSize: 2 }),
    silent,
  );
  const applied: string[] = [];
  const ctx = {
    ...batchContext(async () => {}),
    applied: (rs: SinkRecord[]) => applied.push(...rs.map((r) => r.offset)),
  };
  const del = upsert(9, 4);
  del.kind = 'delete';
  await writer.apply([step([upsert(1, 4), upsert(2, 4), upsert(3, 4), del])], ctx);
  const upserts = sent
    .filter((s) => s.path === '/points')
    .map((s) => JSON.parse(s.json) as Record<string, unknown>);
  assert.equal(upserts.length, 2, 'batchSize 2: two requests');
  const clause = (id: number, lsn: number) => ({
    must: [
      { has_id: [id] },
      {
        must_not: [
          { key: LSN_FIELD, range: { gt: lsn } },
          {
            must: [
              { key: LSN_FIELD, match: { value: lsn } },
              { key: '_vecrelay_seq', range: { gt: 0 } },
            ],
          },
        ],
      },
    ],
  });
  assert.deepEqual(upserts[0]!.update_filter, { should: [clause(1, 1001), clause(2, 1002)] });
  assert.deepEqual(upserts[1]!.update_filter, { should: [clause(3, 1003)] });
  const deletes = sent.filter((s) => s.path === '/points/delete').map((s) => JSON.parse(s.json) as unknown);
  assert.deepEqual(deletes, [{ filter: { should: [clause(9, 1009)] } }]);
  assert.deepEqual(applied.sort(), ['1', '2', '3', '9']);
});

test('a tombstone alone deletes its point by id, unguarded, even with conditional writes', async () => {
  const { http, sent } = fakeHttp();
  const writer = new CollectionWriter(
    http,
    'c',
    descriptor(4),
    pipelineNamespace('p'),
    options({ conditional: true }),
    silent,
  );
  const applied: string[] = [];
  const ctx = {
    ...batchContext(async () => assert.fail('nothing is dead-lettered')),
    applied: (rs: SinkRecord[]) => applied.push(...rs.map((r) => r.offset)),
  };
  const tomb = upsert(7, 4);
  tomb.kind = 'delete';
  tomb.tombstone = true;
  const del = upsert(8, 4);
  del.kind = 'delete';
  await writer.apply([step([tomb, del])], ctx);
  const deletes = sent.filter((s) => s.path === '/points/delete').map((s) => JSON.parse(s.json) as unknown);
  assert.equal(deletes.length, 2);
  assert.deepEqual(deletes[1], { points: [7] }, 'the tombstone: by id, no filter');
  assert.ok('filter' in (deletes[0] as object), 'the delete event: by its guard');
  assert.deepEqual(applied.sort(), ['7', '8']);
});

/** A whole row with its vector NULL. */
function nullVector(i: number, d: TableDescriptor): PointChange {
  const c = upsert(i, 4);
  c.vectors = Object.fromEntries(d.vectors.map((v) => [v.name, null]));
  return c;
}

test('a whole row with a NULL vector: the upsert leaves it out and a delete_vectors follows in the same request', async () => {
  const named: TableDescriptor = {
    ...descriptor(4),
    vectors: [
      { name: 'embedding', kind: 'vector', dimension: 4, distance: 'Cosine', hnsw: null },
      { name: 'title_vec', kind: 'vector', dimension: 4, distance: 'Cosine', hnsw: null },
    ],
  };
  for (const conditional of [false, true]) {
    for (const d of [descriptor(4), named]) {
      const { http, sent } = fakeHttp();
      const writer = new CollectionWriter(
        http,
        'c',
        d,
        pipelineNamespace('p'),
        options({ conditional }),
        silent,
      );
      const applied: string[] = [];
      const ctx = {
        ...batchContext(async () => assert.fail('nothing is dead-lettered')),
        applied: (rs: SinkRecord[]) => applied.push(...rs.map((r) => r.offset)),
      };
      const cleared = nullVector(3, d);
      if (d === named) cleared.vectors.title_vec = { kind: 'dense', values: vector(3, 4), half: false };
      // A whole row carries every vector column (one it lacks is cleared too: see below).
      const full = upsert(1, 4);
      if (d === named) full.vectors.title_vec = { kind: 'dense', values: vector(1, 4), half: false };
      await writer.apply([step([full, cleared])], ctx);
      const what = `${d === named ? 'named' : 'unnamed'}, conditional ${conditional}`;
      // The row with a vector goes as a plain upsert; the other as one /points/batch request.
      assert.deepEqual(
        sent.map((s) => `${s.method} ${s.path}`),
        ['PUT /points', 'POST /points/batch'],
        what,
      );
      const { operations } = JSON.parse(sent[1]!.json) as { operations: Array<Record<string, unknown>> };
      assert.equal(operations.length, 2, what);
      const up = operations[0]!.upsert as { points: Point[]; update_filter?: unknown };
      assert.equal(up.points.length, 1);
      assert.equal(up.points[0]!.id, 3);
      assert.equal(up.points[0]!.payload[LSN_FIELD], 1003);
      const del = operations[1]!.delete_vectors as { vector: string[]; points?: unknown; filter?: unknown };
      if (d === named) {
        const v = up.points[0]!.vector as unknown as Record<string, number[]>;
        assert.deepEqual(Object.keys(v), ['title_vec'], what);
        assert.deepEqual(v.title_vec!.map(Math.fround), Array.from(vector(3, 4)), what);
        assert.deepEqual(del.vector, ['embedding'], what);
      } else {
        assert.deepEqual(up.points[0]!.vector, {}, what);
        assert.deepEqual(del.vector, [''], `${what}: the unnamed vector is ""`);
      }
      if (conditional) {
        assert.ok(up.update_filter, what);
        assert.equal(del.points, undefined, `${what}: by the guard, not by id`);
        assert.deepEqual((del.filter as { must: unknown[] }).must[0], { has_id: [3] }, what);
      } else {
        assert.equal(up.update_filter, undefined, what);
        assert.deepEqual(del.points, [3], what);
      }
      assert.deepEqual(applied.sort(), ['1', '3'], what);
    }
  }
});
