// Postgres → Kafka → Qdrant through `vecrelay run`: after inserts, full updates, payload-only
// updates of rows whose vector is TOASTed (read back at the source into whole rows), deletes and a truncate, the collection equals the table — ids, vectors (normalised
// for Cosine, with tolerance) and payloads. Each test runs with the sink writing over REST and
// over gRPC (qdrant.transport).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scrollAll } from '../helpers/qdrant.js';
import { waitSlotActive } from '../helpers/pg.js';
import { lit, TRANSPORTS, useQdrantGrpc, useSinkPipelines, vec } from '../helpers/sink-pipeline.js';
import { uniqueName } from '../helpers/stack.js';

const ctx = useSinkPipelines();
const noGrpc = useQdrantGrpc();

for (const transport of TRANSPORTS) {
  const skip = transport === 'grpc' && noGrpc;

  test(
    `[${transport}] insert, update, payload-only update of a TOASTed row, delete and truncate: the collection equals the table`,
    { skip },
    async () => {
      const { sql } = ctx;
      const table = uniqueName('e2e');
      const dim = 1536; // large enough to be TOASTed out of line: title-only updates do not send it
      await ctx.createTable(table, dim);
      for (let i = 1; i <= 50; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
      const { collection, config, p } = ctx.pipeline(table, { transport });
      const run = ctx.start(['run', '--config', config]);
      await waitSlotActive(sql, p.slot);
      await ctx.waitCollectionEqualsTable(table, collection);

      await sql.query(`INSERT INTO ${table} VALUES (51, 'new', NULL, $1)`, [lit(vec(51, dim))]);
      await sql.query(`UPDATE ${table} SET title = 'renamed', n = n * 10 WHERE id <= 10`); // the vector is unsent: read back by key
      await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id = 11`, [lit(vec(1000, dim))]);
      await sql.query(`DELETE FROM ${table} WHERE id BETWEEN 20 AND 25`);
      await ctx.waitCollectionEqualsTable(table, collection);
      const points = await scrollAll(collection);
      const five = points.find((pt) => Number(pt.id) === 5)!;
      assert.ok(
        Array.isArray(five.vector) && five.vector.length === dim,
        'a payload-only update keeps the vector',
      );

      await sql.query(`TRUNCATE ${table}`);
      await sql.query(`INSERT INTO ${table} VALUES (100, 'after truncate', 1, $1)`, [lit(vec(100, dim))]);
      await ctx.waitCollectionEqualsTable(table, collection);

      run.child.kill('SIGTERM');
      assert.equal((await run.exited).code, 0);
    },
  );

  test(
    `[${transport}] TRUNCATE inside a transaction: rows written before it in that transaction go, rows after it stay`,
    { skip },
    async () => {
      const { sql } = ctx;
      const table = uniqueName('e2e_txtrunc');
      const dim = 8;
      await ctx.createTable(table, dim);
      for (let i = 1; i <= 20; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
      const { collection, config, p } = ctx.pipeline(table, { transport });
      const run = ctx.start(['run', '--config', config]);
      await waitSlotActive(sql, p.slot);
      await ctx.waitCollectionEqualsTable(table, collection);

      // Every change of this transaction shares its commit LSN: only their order within it (the
      // events' seq) tells the truncate which points are older than it.
      await sql.query('BEGIN');
      for (let i = 21; i <= 30; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, 'before', $1, $2)`, [i, lit(vec(i, dim))]);
      await sql.query(`UPDATE ${table} SET title = 'touched' WHERE id <= 5`);
      await sql.query(`TRUNCATE ${table}`);
      for (let i = 31; i <= 40; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, 'after', $1, $2)`, [i, lit(vec(i, dim))]);
      await sql.query(`UPDATE ${table} SET title = 'after, updated' WHERE id = 35`);
      await sql.query('COMMIT');
      await ctx.waitCollectionEqualsTable(table, collection);
      const ids = (await scrollAll(collection)).map((pt) => Number(pt.id)).sort((a, b) => a - b);
      assert.deepEqual(
        ids,
        Array.from({ length: 10 }, (_, i) => 31 + i),
      );

      run.child.kill('SIGTERM');
      assert.equal((await run.exited).code, 0);
    },
  );

  test(
    `[${transport}] unchangedColumns partial: payload-only updates of TOASTed rows keep their vectors; vector updates replace them`,
    { skip },
    async () => {
      const { sql } = ctx;
      const table = uniqueName('e2e_partial');
      const dim = 1536; // TOASTed: a title-only update leaves the vector unsent, the event is partial
      await ctx.createTable(table, dim);
      for (let i = 1; i <= 20; i++)
        await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
      const { collection, config, p } = ctx.pipeline(table, {
        transport,
        extraTable: { unchangedColumns: 'partial' },
      });
      const run = ctx.start(['run', '--config', config]);
      await waitSlotActive(sql, p.slot);
      await ctx.waitCollectionEqualsTable(table, collection);

      await sql.query(`UPDATE ${table} SET title = 'renamed ' || id, n = NULL WHERE id <= 10`); // set_payload
      await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id = 15`, [lit(vec(1500, dim))]);
      await ctx.waitCollectionEqualsTable(table, collection);

      run.child.kill('SIGTERM');
      assert.equal((await run.exited).code, 0);
    },
  );
}
