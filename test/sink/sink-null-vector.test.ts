// A whole-row update that sets a vector column to NULL removes that vector from the point (the
// sink deletes it explicitly: writer.ts upsertClearing), with one unnamed vector and with named
// vectors; the row's other vectors and its payload stay — also on a Qdrant 1.18 whose upserts
// keep the vectors they leave out (the test server modelling optimized segments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitSlotActive } from '../helpers/pg.js';
import { chaosPipeline, insertRows, waitCollectionEqualsTable } from '../helpers/sink-chaos.js';
import { scrollAll, type StoredPoint } from '../helpers/qdrant.js';
import { lit, TRANSPORTS, useQdrantGrpc, useSinkPipelines, vec } from '../helpers/sink-pipeline.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'nullvec' });
const noGrpc = useQdrantGrpc();

const byId = async (collection: string) =>
  new Map((await scrollAll(collection)).map((p) => [Number(p.id), p] as [number, StoredPoint]));

test('UPDATE … SET embedding = NULL leaves the point without its (unnamed) vector, payload kept', async () => {
  const { sql } = ctx;
  const table = uniqueName('nullvec');
  const dim = 8;
  await ctx.createTable(table, dim);
  for (let i = 1; i <= 10; i++)
    await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
  const { collection, config, p } = ctx.pipeline(table);
  const run = ctx.start(['run', '--config', config]);
  await waitSlotActive(sql, p.slot);
  await ctx.waitCollectionEqualsTable(table, collection);

  await sql.query(`UPDATE ${table} SET embedding = NULL, title = 'cleared' WHERE id <= 3`);
  // A later change of another row: once it is there, the NULL updates before it were applied.
  await sql.query(`UPDATE ${table} SET title = 'marker' WHERE id = 10`);
  await waitFor('the marker', async () => (await byId(collection)).get(10)?.payload.title === 'marker');
  await ctx.waitCollectionEqualsTable(table, collection);
  const points = await byId(collection);
  assert.equal(points.size, 10, 'the rows with a NULL vector keep their points');
  for (let i = 1; i <= 3; i++) {
    const pt = points.get(i)!;
    assert.equal(pt.payload.title, 'cleared');
    const v = pt.vector;
    assert.ok(
      v === undefined || (!Array.isArray(v) && Object.keys(v).length === 0),
      `point ${i} has no vector: ${JSON.stringify(v)}`,
    );
  }
  assert.ok(Array.isArray(points.get(4)!.vector), 'the other points keep theirs');

  // Setting it again brings the vector back.
  await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id = 1`, [lit(vec(100, dim))]);
  await waitFor('vector 1 back', async () => Array.isArray((await byId(collection)).get(1)?.vector));
  await ctx.waitCollectionEqualsTable(table, collection);

  run.child.kill('SIGTERM');
  assert.equal((await run.exited).code, 0);
});

// Over both transports: named vectors deleted (delete_vectors) and kept, over REST and gRPC.
for (const transport of TRANSPORTS)
  test(
    `[${transport}] with named vectors, SET a = NULL removes vector a and keeps vector b`,
    { skip: transport === 'grpc' && noGrpc },
    async () => {
      const { sql } = ctx;
      const table = uniqueName('nullvec2');
      const dim = 4;
      await sql.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, title text, a vector(${dim}), b vector(${dim}))`,
      );
      ctx.cleanup(() => sql.query(`DROP TABLE IF EXISTS ${table}`));
      for (let i = 1; i <= 5; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4)`, [
          i,
          `t${i}`,
          lit(vec(i, dim)),
          lit(vec(i + 50, dim)),
        ]);
      const { collection, config, p } = ctx.pipeline(table, { transport });
      const run = ctx.start(['run', '--config', config]);
      await waitSlotActive(sql, p.slot);
      const names = (pt: StoredPoint | undefined) =>
        pt?.vector && !Array.isArray(pt.vector) ? Object.keys(pt.vector).sort() : [];
      await waitFor('5 points with both vectors', async () => {
        const points = await byId(collection);
        return points.size === 5 && [...points.values()].every((pt) => names(pt).join() === 'a,b');
      });

      await sql.query(`UPDATE ${table} SET a = NULL, title = 'no a' WHERE id IN (1, 2)`);
      await sql.query(`UPDATE ${table} SET b = NULL WHERE id = 3`);
      await waitFor('vectors removed', async () => {
        const points = await byId(collection);
        return (
          names(points.get(1)).join() === 'b' &&
          names(points.get(2)).join() === 'b' &&
          names(points.get(3)).join() === 'a'
        );
      });
      const points = await byId(collection);
      assert.equal(points.get(1)!.payload.title, 'no a');
      assert.deepEqual(names(points.get(4)), ['a', 'b']);
      assert.equal(points.size, 5);

      run.child.kill('SIGTERM');
      assert.equal((await run.exited).code, 0);
    },
  );

for (const transport of TRANSPORTS)
  test(`[${transport}] Qdrant 1.18, points in optimized segments (upserts keep omitted vectors): SET embedding = NULL still removes it`, async () => {
    const cp = await chaosPipeline(ctx, 'nullvec118', {
      qdrant: { version: '1.18.3', optimizedSegments: true },
      transport,
    });
    await insertRows(ctx, cp.table, 1, 10);
    const run = ctx.start(['run', '--config', cp.config]);
    await waitSlotActive(ctx.sql, cp.p.slot);
    await waitCollectionEqualsTable(ctx, cp);

    await ctx.sql.query(`UPDATE ${cp.table} SET embedding = NULL, title = 'cleared' WHERE id <= 3`);
    await waitCollectionEqualsTable(ctx, cp); // the titles: the updates were applied
    const points = new Map((await cp.qdrant.scrollAll(cp.collection)).map((p) => [Number(p.id), p]));
    for (let i = 1; i <= 3; i++) {
      const v = points.get(i)!.vector;
      assert.ok(
        v === undefined || (!Array.isArray(v) && Object.keys(v).length === 0),
        `point ${i} has no vector: ${JSON.stringify(v)}`,
      );
    }
    assert.ok(Array.isArray(points.get(4)!.vector));

    run.child.kill('SIGTERM');
    assert.equal((await run.exited).code, 0);
  });
