// Schema changes of vector columns while streaming are never silently mis-applied (issue 10,
// deliverable 4; src/sink/qdrant/layout.ts). The usual model migration — ADD COLUMN embedding_v2,
// then a backfill UPDATE — never replaces the points' vector with the new model's: the sink stops
// (`vecrelay sink` exits 2) naming the column, the collection and the fix, or, when
// tables[].vectors lists the vectors to sync, goes on without the new column. A vector column
// dropped and added again with another dimension stops the sink the same way. Nothing is
// dead-lettered, by the source or the sink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { waitSlotActive } from '../helpers/pg.js';
import { deadLetters, insertRows } from '../helpers/sink-chaos.js';
import { useSinkPipelines, type SinkPipeline } from '../helpers/sink-pipeline.js';
import type { RunningProcess } from '../helpers/source-process.js';
import { scrollAll } from '../helpers/qdrant.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'schemachg' });
const DIM = 8;

async function started(options: Parameters<typeof ctx.pipeline>[1] = {}) {
  const table = uniqueName('schemachg');
  await ctx.createTable(table, DIM);
  await insertRows(ctx, table, 1, 20);
  const sp = ctx.pipeline(table, options);
  ctx.startSource(sp.config);
  await waitSlotActive(ctx.sql, sp.p.slot);
  const sink = ctx.start(['sink', '--config', sp.config]);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  return { sp, sink, table };
}

async function stoppedWithin(sink: RunningProcess, ms: number) {
  return Promise.race([
    sink.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the sink did not stop within ${ms / 1000} s`)), ms),
    ),
  ]);
}

/** The row with id `id` written by the sink (its payload title), or undefined. */
async function title(sp: SinkPipeline, id: number): Promise<unknown> {
  return (await scrollAll(sp.collection)).find((p) => Number(p.id) === id)?.payload.title;
}

test('ADD COLUMN embedding_v2 + backfill UPDATE: the sink stops (exit 2) naming column, collection and fix; the first vector is untouched', async () => {
  const { sp, sink, table } = await started();
  await ctx.sql.query(`ALTER TABLE ${table} ADD COLUMN embedding_v2 vector(6)`);
  // A row whose new column is NULL has nothing for the collection to take: it is applied.
  await ctx.sql.query(
    `INSERT INTO ${table} (id, title, n, embedding) SELECT 21, 't21', 21, embedding FROM ${table} WHERE id = 1`,
  );
  await waitFor('row 21 in the collection', async () => (await title(sp, 21)) === 't21');
  await ctx.waitCollectionEqualsTable(table, sp.collection);

  // The backfill with the new model.
  await ctx.sql.query(
    `UPDATE ${table} SET embedding_v2 = '[1,2,3,4,5,6]', title = 'backfilled' WHERE id <= 10`,
  );
  const { code } = await stoppedWithin(sink, 90_000);
  assert.equal(code, 2, 'exit 2: a re-sync, not a retry, fixes it');
  const log = readFileSync(sink.logFile, 'utf8');
  assert.match(log, new RegExp(`public\\.${table}\\.embedding_v2 is a vector column`), 'names the column');
  assert.match(
    log,
    new RegExp(
      `collection ${sp.collection} has one unnamed vector, which holds public\\.${table}\\.embedding`,
    ),
  );
  assert.match(log, /new collection \(set tables\[\]\.collection/, 'names the fix');
  assert.match(log, /tables\[\]\.vectors/, 'and the other fix');

  // Nothing of the backfill was applied: every point keeps the first model's vector and its
  // payload as before (the table's other columns did not change).
  const points = await scrollAll(sp.collection);
  assert.equal(points.length, 21);
  assert.ok(
    points.every((p) => p.payload.title !== 'backfilled'),
    'the batch was not applied in part',
  );
  const { rows } = await ctx.sql.query<{ id: number; embedding: string }>(
    `SELECT id, embedding::text FROM ${table} ORDER BY id`,
  );
  for (const row of rows) {
    const v = points.find((p) => Number(p.id) === row.id)!.vector as number[];
    const want = JSON.parse(row.embedding) as number[];
    assert.equal(v.length, DIM, `point ${row.id} keeps an ${DIM}-dim vector`);
    // Cosine: stored normalised.
    const norm = Math.hypot(...want);
    want.forEach((x, k) => assert.ok(Math.abs(v[k]! - x / norm) < 1e-5, `point ${row.id} element ${k}`));
  }
  assert.equal(await deadLetters(sp), 0n, 'nothing dead-lettered (source or sink)');
});

test('with tables[].vectors: [embedding], ADD COLUMN + backfill goes on without the new column', async () => {
  const { sp, sink, table } = await started({ extraTable: { vectors: ['embedding'] } });
  await ctx.sql.query(`ALTER TABLE ${table} ADD COLUMN embedding_v2 vector(6)`);
  await ctx.sql.query(
    `UPDATE ${table} SET embedding_v2 = '[1,2,3,4,5,6]', title = 'backfilled' WHERE id <= 10`,
  );
  await ctx.sql.query(`UPDATE ${table} SET title = 'marker' WHERE id = 20`);
  await waitFor('the marker', async () => (await title(sp, 20)) === 'marker');
  // title, n and embedding equal the table's: the backfill applied, the first vector untouched.
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  const point = (await scrollAll(sp.collection)).find((p) => Number(p.id) === 1)!;
  assert.ok(!('embedding_v2' in point.payload), 'the new vector is no payload either');
  assert.ok(Array.isArray(point.vector), 'still one unnamed vector');
  assert.equal(await deadLetters(sp), 0n, 'nothing dead-lettered (source or sink)');
  assert.equal(sink.child.exitCode, null, 'the sink runs on');
});

test('the vector column dropped and added with another dimension: the sink stops (exit 2), nothing dead-lettered', async () => {
  const { sp, sink, table } = await started();
  await ctx.sql.query(`ALTER TABLE ${table} DROP COLUMN embedding`);
  await ctx.sql.query(`ALTER TABLE ${table} ADD COLUMN embedding vector(4)`);
  await ctx.sql.query(`UPDATE ${table} SET embedding = '[1,2,3,4]' WHERE id <= 5`);
  const { code } = await stoppedWithin(sink, 90_000);
  assert.equal(code, 2);
  const log = readFileSync(sink.logFile, 'utf8');
  assert.match(
    log,
    new RegExp(
      `public\\.${table}\\.embedding has 4 dimensions in the events, but Qdrant collection ${sp.collection} holds it as its unnamed vector of size ${DIM}`,
    ),
  );
  assert.match(log, /cannot change: sync the table into a new collection/);
  const points = await scrollAll(sp.collection);
  assert.ok(
    points.every((p) => !Array.isArray(p.vector) || p.vector.length === DIM),
    'no point got a vector of another size',
  );
  assert.equal(await deadLetters(sp), 0n, 'nothing dead-lettered (source or sink)');
});

test('a TOASTed vector and a backfill of a new column of the same size: the partial update never replaces the first vector', async () => {
  // 600 dims (2.4 kB) are stored out of line: the backfill's events leave `embedding` unsent and
  // carry only embedding_v2 — which the sink used to write into the unnamed vector.
  const dim = 600;
  const table = uniqueName('schemachgtoast');
  await ctx.createTable(table, dim);
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 't' || i, i,
       (SELECT array_agg(sin(i * 7 + k))::vector FROM generate_series(1, ${dim}) k)
     FROM generate_series(1, 10) i`,
  );
  const sp = ctx.pipeline(table);
  ctx.startSource(sp.config);
  await waitSlotActive(ctx.sql, sp.p.slot);
  const sink = ctx.start(['sink', '--config', sp.config]);
  await ctx.waitCollectionEqualsTable(table, sp.collection);

  await ctx.sql.query(`ALTER TABLE ${table} ADD COLUMN embedding_v2 vector(${dim})`);
  await ctx.sql.query(
    `UPDATE ${table} SET embedding_v2 = (SELECT array_agg(cos(id + k))::vector FROM generate_series(1, ${dim}) k)`,
  );
  const { code } = await stoppedWithin(sink, 90_000);
  assert.equal(code, 2);
  assert.match(
    readFileSync(sink.logFile, 'utf8'),
    new RegExp(`public\\.${table}\\.embedding_v2 is a vector column`),
  );
  // title, n and embedding as in the table: no point got the new model's vector.
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  assert.equal(await deadLetters(sp), 0n, 'nothing dead-lettered (source or sink)');
});
