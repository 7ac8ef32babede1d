// The sink's check of each change's vectors against the collection it opened (layout.ts), and
// what the writer does with it: a vector column added while streaming, a changed dimension or
// kind stops the sink (ConfigError) before anything of the batch is written; a column left out
// of tables[].vectors is never written; a whole row without one of the table's vector columns
// removes that vector from its point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent, VectorValue } from '../../src/event/change-event.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import { ConfigError } from '../../src/shared/errors.js';
import type { Logger } from '../../src/shared/log.js';
import type { BatchContext } from '../../src/sink/output.js';
import type { PointChange, SinkRecord, Step } from '../../src/sink/plan.js';
import type { Body, QdrantHttp } from '../../src/sink/qdrant/http.js';
import {
  collectionVectors,
  createdVectors,
  VectorMapping,
  type CollectionVectors,
} from '../../src/sink/qdrant/layout.js';
import { pipelineNamespace } from '../../src/sink/qdrant/point-id.js';
import { CollectionWriter } from '../../src/sink/qdrant/writer.js';

const warnings: string[] = [];
const log = {
  warn: (_: unknown, msg: string) => warnings.push(msg),
  info() {},
  debug() {},
  error() {},
} as unknown as Logger;

type Kind = TableDescriptor['vectors'][number]['kind'];
const col = (name: string, dimension: number | null, kind: Kind = 'vector') => ({
  name,
  kind,
  dimension,
  distance: 'Cosine' as const,
  hnsw: null,
});

const table = (...vectors: TableDescriptor['vectors']): TableDescriptor => ({
  schema: 'public',
  table: 'docs',
  topic: 't.public.docs',
  key: [{ name: 'id', type: 'int4' }],
  vectors,
  payload: ['title'],
});

const dense = (n: number, x = 0.5): VectorValue => ({
  kind: 'dense',
  values: new Float32Array(n).fill(x),
  half: false,
});
const sparse: VectorValue = {
  kind: 'sparse',
  dim: 100,
  indices: new Int32Array([1, 5]),
  values: new Float32Array([0.5, 0.25]),
};

const unnamed4: CollectionVectors = { unnamedSize: 4, named: new Map(), sparse: new Set() };
const namedAB: CollectionVectors = {
  unnamedSize: null,
  named: new Map([
    ['a', 4],
    ['b', 4],
  ]),
  sparse: new Set(['s']),
};

test('collectionVectors reads both layouts from config.params; createdVectors matches ensureCollection', () => {
  assert.deepEqual(collectionVectors({ vectors: { size: 4, distance: 'Cosine' } }), unnamed4);
  assert.deepEqual(
    collectionVectors({
      vectors: { a: { size: 4, distance: 'Dot' }, b: { size: 4, distance: 'Cosine' } },
      sparse_vectors: { s: {} },
    }),
    namedAB,
  );
  assert.deepEqual(createdVectors(table(col('e', 4))), unnamed4);
  assert.deepEqual(createdVectors(table(col('a', 4), col('b', 4), col('s', null, 'sparsevec'))), namedAB);
});

test('one unnamed vector: only its own column goes into it; a new column stops, naming column, collection and fix', () => {
  const m = new VectorMapping('docs', table(col('embedding', 4)), undefined, unnamed4);
  assert.equal(m.problem({ embedding: dense(4) }), undefined);
  assert.equal(m.problem({ embedding: null }), undefined);
  // A NULL of a column the collection lacks has nothing to write.
  assert.equal(m.problem({ embedding: dense(4), embedding_v2: null }), undefined);
  for (const v2 of [dense(4), dense(8)]) {
    const p = m.problem({ embedding: dense(4), embedding_v2: v2 });
    assert.ok(p, 'refused');
    assert.equal(p.object, 'public.docs.embedding_v2');
    assert.match(p.message, /collection docs has one unnamed vector, which holds public\.docs\.embedding/);
    assert.match(p.fix, /new collection \(set tables\[\]\.collection/);
    assert.match(p.fix, /re-sync the table/);
    assert.match(p.fix, /tables\[\]\.vectors/);
  }
  // Alone too (a partial update of the new column only).
  assert.ok(m.problem({ embedding_v2: dense(4) }));
});

test('configured tables[].vectors: other vector columns are never written nor refused', () => {
  const m = new VectorMapping('docs', table(col('embedding', 4)), ['embedding'], unnamed4);
  assert.equal(m.problem({ embedding: dense(4), embedding_v2: dense(8) }), undefined);
  assert.equal(m.written('embedding_v2'), false);
  const named = new VectorMapping('docs', table(col('a', 4), col('b', 4)), ['a'], namedAB);
  assert.deepEqual(named.layout.dense, ['a'], 'b is in the collection but not configured: not written');
});

test('named vectors: a column maps to the vector of its name; one the collection lacks stops with the fix', () => {
  const m = new VectorMapping('docs', table(col('a', 4), col('b', 4)), undefined, namedAB);
  assert.equal(m.problem({ a: dense(4), b: null, s: sparse }), undefined);
  const p = m.problem({ a: dense(4), c: dense(6) });
  assert.ok(p);
  assert.equal(p.object, 'public.docs.c');
  assert.match(p.message, /collection docs has no vector "c" \(it has a, b, s/);
  assert.match(p.fix, /size 6; Qdrant ≥ 1\.18: PUT \/collections\/docs\/vectors\/c/);
  assert.match(p.fix, /new collection/);
  // Added to the collection (a vector of the collection the descriptor did not know): written.
  const added = new VectorMapping('docs', table(col('a', 4), col('b', 4)), undefined, {
    ...namedAB,
    named: new Map([...namedAB.named, ['c', 6]]),
  });
  assert.equal(added.problem({ a: dense(4), c: dense(6) }), undefined);
  assert.deepEqual(added.layout.dense, ['a', 'b', 'c']);
  assert.deepEqual([...added.expected].sort(), ['a', 'b'], 'c is no column of the table as described');
});

test('a changed dimension or kind stops; an array column of another length is the row’s own fault', () => {
  const m = new VectorMapping('docs', table(col('embedding', 4)), undefined, unnamed4);
  const p = m.problem({ embedding: dense(8) });
  assert.ok(p);
  assert.equal(p.object, 'public.docs.embedding');
  assert.match(
    p.message,
    /has 8 dimensions in the events, but Qdrant collection docs holds it as its unnamed vector of size 4/,
  );
  assert.match(p.fix, /cannot change: sync the table into a new collection/);
  assert.match(m.problem({ embedding: sparse })!.message, /arrives as a sparse vector.*dense one/);
  const named = new VectorMapping('docs', table(col('a', 4), col('b', 4)), undefined, namedAB);
  assert.match(named.problem({ b: dense(3) })!.message, /holds it as vector "b" of size 4/);
  assert.match(named.problem({ s: dense(3) })!.message, /arrives as a dense vector.*sparse one/);
  const arrays = new VectorMapping('docs', table(col('embedding', 4, 'float4[]')), undefined, unnamed4);
  assert.equal(arrays.problem({ embedding: dense(3) }), undefined);
});

// The writer, against a fake Qdrant HTTP client.

function fakeHttp() {
  const sent: Array<{ method: string; path: string; json: unknown }> = [];
  const http = {
    async write(method: string, _c: string, path: string, body: Body) {
      const text = typeof body === 'string' ? body : body.map((p) => Buffer.from(p).toString()).join('');
      sent.push({ method, path, json: JSON.parse(text) });
    },
  } as unknown as QdrantHttp;
  return { http, sent };
}

function change(
  i: number,
  vectors: Record<string, VectorValue | null>,
  kind: PointChange['kind'] = 'upsert',
): PointChange {
  const event: ChangeEvent = {
    op: kind === 'upsert' ? 'c' : 'u',
    source: {
      lsn: 100n + BigInt(i),
      xid: 1,
      commitTimeMicros: 0n,
      schema: 'public',
      table: 'docs',
      snapshot: false,
      seq: 0,
    },
    key: { id: i },
    values: { title: `t${i}` },
    vectors,
    unchanged: kind === 'partial' ? ['embedding'] : [],
  };
  const record: SinkRecord = { topic: 't', partition: 0, offset: String(i), key: null, value: null };
  return { kind, event, values: event.values!, vectors, lsn: event.source.lsn, records: [record] };
}

const step = (changes: PointChange[]): Step => ({
  kind: 'points',
  changes: new Map(changes.map((c) => [String(c.event.key.id), c])),
});

const ctx: BatchContext = {
  fence: async () => {},
  deadLetter: async () => assert.fail('nothing is dead-lettered'),
  applied: () => {},
  signal: new AbortController().signal,
};

const writer = (
  http: QdrantHttp,
  d: TableDescriptor,
  o: { configuredVectors?: string[]; collectionVectors?: CollectionVectors } = {},
  describe?: () => Promise<never>,
) =>
  new CollectionWriter(
    http,
    'docs',
    d,
    pipelineNamespace('p'),
    { batchSize: 100, requestMaxBytes: 1 << 20, retryMaxMs: 100, ...o },
    log,
    async () => {},
    describe,
  );

test('writer: a change that does not fit stops the batch before anything of it is written', async () => {
  const { http, sent } = fakeHttp();
  let described = 0;
  const w = writer(http, table(col('embedding', 4)), {}, async () => {
    described++;
    return { vectors: { size: 4, distance: 'Cosine' } } as never;
  });
  const batch = [change(1, { embedding: dense(4) }), change(2, { embedding_v2: dense(4) }, 'partial')];
  await assert.rejects(w.apply([step(batch)], ctx), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /public\.docs\.embedding_v2 .*collection docs/);
    return true;
  });
  assert.equal(sent.length, 0, 'nothing written, nothing dead-lettered');
  assert.equal(described, 1, 'the collection is read again before stopping');
});

test('writer: the collection read again fits (the named vector was added): the batch goes on', async () => {
  const { http, sent } = fakeHttp();
  const d = table(col('a', 4), col('b', 4));
  const w = writer(
    http,
    d,
    { collectionVectors: createdVectors(d) },
    async () => ({ vectors: { a: { size: 4 }, b: { size: 4 }, c: { size: 6 } } }) as never,
  );
  await w.apply([step([change(1, { a: dense(4), b: dense(4), c: dense(6) })])], ctx);
  const body = sent[0]!.json as { points: Array<{ vector: Record<string, number[]> }> };
  assert.deepEqual(Object.keys(body.points[0]!.vector).sort(), ['a', 'b', 'c']);
});

test('writer: with tables[].vectors, a partial of another vector column only sets the payload', async () => {
  const { http, sent } = fakeHttp();
  const w = writer(http, table(col('embedding', 4)), { configuredVectors: ['embedding'] });
  await w.apply(
    [
      step([
        change(1, { embedding_v2: dense(8) }, 'partial'),
        change(2, { embedding: dense(4), embedding_v2: dense(8) }),
      ]),
    ],
    ctx,
  );
  const ops = (sent.find((s) => s.path === '/points/batch')!.json as { operations: object[] }).operations;
  assert.deepEqual(
    ops.map((o) => Object.keys(o)[0]),
    ['set_payload'],
    'no update_vectors of the unnamed vector',
  );
  const up = sent.find((s) => s.path === '/points')!.json as { points: Array<{ vector: number[] }> };
  assert.equal(up.points[0]!.vector.length, 4, 'the unnamed vector is embedding');
});

test('writer: a whole row without one of the table’s vector columns removes that vector (dropped column)', async () => {
  const { http, sent } = fakeHttp();
  warnings.length = 0;
  const d = table(col('a', 4), col('b', 4));
  const w = writer(http, d);
  await w.apply([step([change(1, { b: dense(4) }), change(2, { b: dense(4) })])], ctx);
  const ops = (sent[0]!.json as { operations: Array<Record<string, { vector?: string[] }>> }).operations;
  assert.deepEqual(
    ops.filter((o) => 'delete_vectors' in o).map((o) => o.delete_vectors!.vector),
    [['a'], ['a']],
  );
  assert.equal(warnings.filter((w) => /without vector column a/.test(w)).length, 1, 'warned once');
  // A partial without it leaves it alone (unchanged).
  sent.length = 0;
  await w.apply([step([change(3, { b: dense(4) }, 'partial')])], ctx);
  const partial = (sent[0]!.json as { operations: object[] }).operations;
  assert.ok(partial.every((o) => !('delete_vectors' in o)));
});
