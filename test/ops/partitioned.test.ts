// A partitioned table, end to end (table → Kafka → Qdrant). The publication publishes it through
// its root (publish_via_partition_root), so every partition's changes are the root table's: its
// snapshot reads across partitions (split into key ranges across partitions:
// source-snapshot-key-ranges.test.ts), a partition created while streaming is captured
// at once, and a row moved to another partition arrives as its old key's delete and its new
// key's insert. Three operations on partitions change the root's rows without a change in the
// WAL stream — ATTACH PARTITION of a loaded table, DETACH PARTITION, TRUNCATE of one partition
// (Postgres decodes none of them for a root-published table): the source reads an attached
// partition's rows itself, and verify --repair deletes the points of the rows that left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitSlotActive } from '../helpers/pg.js';
import { pointCount } from '../helpers/qdrant.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { readLog, stopCleanly, type RunningProcess } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'part' });
const DIM = 8;

/** Rows ids lo..hi of the items table, each its own vector. */
const rowsOf = (lo: number, hi: number, title = 't') =>
  `SELECT i, '${title}' || i, i, (SELECT array_agg(sin(i * 31 + d)::real) FROM generate_series(0, ${DIM - 1}) d)::vector
     FROM generate_series(${lo}, ${hi}) i`;

/** Waits for a line of `run`'s log matching `line`. */
const logged = (run: RunningProcess, what: string, line: RegExp) =>
  waitFor(
    what,
    () =>
      readLog(run)
        .split('\n')
        .some((l) => line.test(l)),
    { timeoutMs: 60_000 },
  );

/** The items table partitioned by id range: part 1 holds ids 1..1000, part 2 ids 1001..secondTo − 1. */
async function partitionedTable(secondTo = 2001): Promise<string> {
  const table = uniqueName('part');
  await ctx.sql.query(
    `CREATE TABLE ${table} (id int, title text NOT NULL, n int, embedding vector(${DIM}), PRIMARY KEY (id))
       PARTITION BY RANGE (id)`,
  );
  await ctx.sql.query(`CREATE TABLE ${table}_1 PARTITION OF ${table} FOR VALUES FROM (1) TO (1001)`);
  await ctx.sql.query(
    `CREATE TABLE ${table}_2 PARTITION OF ${table} FOR VALUES FROM (1001) TO (${secondTo})`,
  );
  return table;
}

test('a partitioned table: its snapshot reads every partition; a partition created while streaming and rows moved between partitions arrive; the collection equals the table', async () => {
  const table = await partitionedTable();
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(1, 2000)}`);
  const sp = ctx.pipeline(table, { snapshot: { mode: 'initial', chunkRows: 100, parallelism: 2 } });
  const run = ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await ctx.waitCollectionEqualsTable(table, sp.collection);

  // While streaming: a new partition, rows moved into it (a key change across partitions),
  // updates and deletes in both of the first two.
  await ctx.sql.query(`CREATE TABLE ${table}_3 PARTITION OF ${table} FOR VALUES FROM (2001) TO (3001)`);
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(2001, 2100, 'new')}`);
  await ctx.sql.query(`UPDATE ${table} SET id = id + 2500, title = 'moved' WHERE id <= 20`);
  await ctx.sql.query(`UPDATE ${table} SET n = -n, title = 'updated' WHERE id % 10 = 3`);
  await ctx.sql.query(`DELETE FROM ${table} WHERE id % 10 = 7`);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  const { rows } = await ctx.sql.query<{ part: string; n: number }>(
    `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM ${table} WHERE id > 2500 GROUP BY 1`,
  );
  assert.deepEqual(
    rows,
    [{ part: `${table}_3`, n: 18 }],
    'the moved rows (20, 2 deleted since) are in the new partition',
  );
  run.child.kill('SIGTERM');
  await run.exited;
});

test('ATTACH, DETACH and TRUNCATE of a partition leave no change in the WAL stream: the source reads an attached partition itself, names verify --repair for one detached, which brings the collection back to the table', async () => {
  // The detached partition holds more rows than a verify pass lists (MAX_LISTED, 10,000 of a
  // kind): --repair goes on with passes while they find fewer divergences.
  const table = await partitionedTable(20_001);
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(1, 400)}`);
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(1001, 11_300)}`);
  const sp = ctx.pipeline(table);
  const run = ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await ctx.waitCollectionEqualsTable(table, sp.collection, 180_000);

  // A table loaded on its own, then attached: its rows are the root's now, and the WAL has none
  // of them. The source sees the partition come (src/source/postgres/partition-watch.ts) and
  // reads its rows, within the partition's bounds.
  const loaded = `${table}_3`;
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${loaded}`));
  await ctx.sql.query(`CREATE TABLE ${loaded} (LIKE ${table} INCLUDING ALL)`);
  await ctx.sql.query(`INSERT INTO ${loaded} ${rowsOf(20_001, 20_150, 'attached')}`);
  await ctx.sql.query(`ALTER TABLE ${table} ATTACH PARTITION ${loaded} FOR VALUES FROM (20001) TO (30001)`);
  await logged(
    run,
    'the source to read the partition added',
    new RegExp(
      `"level":30.*"partition":"public\\.${loaded}","where":"\\(\\(id IS NOT NULL\\) AND \\(id >= 20001\\) AND \\(id < 30001\\)\\)".*a partition was added`,
    ),
  );
  await ctx.waitCollectionEqualsTable(table, sp.collection);

  // Rows leave the root with no delete in the WAL: a detached partition (ids 1001..11300), a
  // truncated one (ids 1..400; one row written after, which the stream carries). Their points
  // stay until verify --repair deletes them: 10,000 in a first pass, the other 699 in a second.
  const detached = `${table}_2`;
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${detached}`));
  await ctx.sql.query(`ALTER TABLE ${table} DETACH PARTITION ${detached}`);
  await logged(
    run,
    'the source to warn of the partition gone, naming verify --repair',
    new RegExp(
      `"level":40.*"partition":"public\\.${detached}".*"fix":"vecrelay verify --config .* --table public\\.${table} --repair".*a partition was detached or dropped`,
    ),
  );
  await ctx.sql.query(`TRUNCATE ${table}_1`);
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(5, 5, 'after')}`);
  const repaired = await execVecrelay(
    ['verify', '--config', sp.config, '--repair', '--sample', '0', '--timeout', '120'],
    { timeoutMs: 600_000 },
  );
  assert.equal(repaired.code, 0, `${repaired.stdout}\n${repaired.stderr.slice(-3000)}`);
  assert.deepEqual(
    repaired.stdout.match(/^repair: \d+ keys re-synced through the pipeline; verifying again$/gm),
    [
      'repair: 10000 keys re-synced through the pipeline; verifying again',
      'repair: 699 keys re-synced through the pipeline; verifying again',
    ],
    repaired.stdout,
  );
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  assert.equal(await pointCount(sp.collection), 151, 'the attached rows and the row written after');
  run.child.kill('SIGTERM');
  await run.exited;
});

test('a partition attached and one dropped while no source runs: the next start reads the one and names verify --repair for the other', async () => {
  const table = await partitionedTable();
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(1, 300)}`);
  await ctx.sql.query(`INSERT INTO ${table} ${rowsOf(1001, 1300)}`);
  const sp = ctx.pipeline(table);
  const first = ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  // What it compares with at the next start: the partitions it saw, in the state topic.
  await logged(first, 'the partitions recorded', /"partitions":2,.*"msg":"partitions recorded"/);
  await stopCleanly(first);

  const loaded = `${table}_3`;
  await ctx.sql.query(`CREATE TABLE ${loaded} (LIKE ${table} INCLUDING ALL)`);
  await ctx.sql.query(`INSERT INTO ${loaded} ${rowsOf(2001, 2080, 'attached')}`);
  await ctx.sql.query(`ALTER TABLE ${table} ATTACH PARTITION ${loaded} FOR VALUES FROM (2001) TO (3001)`);
  await ctx.sql.query(`DROP TABLE ${table}_2`);

  const second = ctx.start(['run', '--config', sp.config]);
  await logged(
    second,
    'the attached partition read',
    new RegExp(`"partition":"public\\.${loaded}".*a partition was added`),
  );
  await logged(
    second,
    'the dropped partition named',
    new RegExp(`"level":40.*"partition":"public\\.${table}_2".*a partition was detached or dropped`),
  );
  const repaired = await execVecrelay(
    ['verify', '--config', sp.config, '--repair', '--sample', '0', '--timeout', '120'],
    { timeoutMs: 600_000 },
  );
  assert.equal(repaired.code, 0, `${repaired.stdout}\n${repaired.stderr.slice(-3000)}`);
  assert.match(repaired.stdout, /^repair: 300 keys re-synced through the pipeline; verifying again$/m);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  assert.equal(await pointCount(sp.collection), 380, 'the first partition and the attached one');
  await stopCleanly(second);
});
