// Snapshots while streaming, on demand (issue 11): a table added to the config is added to the
// publication and snapshotted while the others stream; `vecrelay resync` re-reads a table or a key
// range through the running source; `snapshot: initial_only` stops once every table is in Kafka
// and drops its slot; several tables are read at once; the sink is told when each table's first
// snapshot runs (its descriptor says 'running', then 'done').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCompacted } from '../../src/kafka/compacted.js';
import { changeTopic, stateTopic, tablesTopic } from '../../src/event/names.js';
import { snapshotStateKey, type TableSnapshotState } from '../../src/event/snapshot-state.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import { endOffsets, readTopic, testKafka } from '../helpers/kafka.js';
import { connectPg, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import {
  readLog as log,
  stopCleanly as stop,
  writeConfig,
  type TestPipeline,
} from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';
import { assertTopicEqualsTable, createWorkloadTable } from '../chaos/source-workload.js';

const ctx = useSourcePipelines({ prefix: 'snapops' });

/** Every value ever written under `key` in a compacted topic, in order (before compaction). */
async function history<T>(topic: string, key: string): Promise<T[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const values: T[] = [];
  try {
    await readCompacted(kafka, admin, topic, (m) => {
      if (m.key?.toString() === key && m.value) values.push(JSON.parse(m.value.toString()) as T);
    });
  } finally {
    await admin.disconnect();
  }
  return values;
}

async function snapshotState(p: TestPipeline, table: string) {
  const states = await history<TableSnapshotState>(
    stateTopic(p.topicPrefix, p.name),
    snapshotStateKey('public', table),
  );
  return states.at(-1);
}

/** The last record of every resync request of the pipeline. */
async function resyncStates(p: TestPipeline): Promise<TableSnapshotState[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const last = new Map<string, TableSnapshotState>();
  try {
    await readCompacted(kafka, admin, stateTopic(p.topicPrefix, p.name), (m) => {
      const key = m.key?.toString() ?? '';
      if (key.startsWith('resync:') && m.value)
        last.set(key, JSON.parse(m.value.toString()) as TableSnapshotState);
    });
  } finally {
    await admin.disconnect();
  }
  return [...last.values()];
}

test('a table added to the config: added to the publication and snapshotted while the first streams', async () => {
  const first = uniqueName('added_a');
  const second = uniqueName('added_b');
  await createWorkloadTable(ctx.sql, first, 300);
  await createWorkloadTable(ctx.sql, second, 700);
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${second}`));
  const p = ctx.pipeline(first, { snapshot: { chunkRows: 100, parallelism: 2 } });
  const before = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  await assertTopicEqualsTable(ctx.sql, first, changeTopic(p.topicPrefix, 'public', first));
  await stop(before);

  // Other tables unaffected: a transaction left open holds the new table's snapshot at its first
  // chunk (each chunk waits for the transactions running at its low watermark: watermarks.ts),
  // and the first table's changes still arrive meanwhile — not after the snapshot.
  const blocker = await connectPg();
  ctx.cleanup(() => blocker.end());
  await blocker.query('BEGIN');
  await blocker.query('SELECT pg_current_xact_id()');
  const both: TestPipeline = { ...p, tables: [...p.tables, { table: `public.${second}` }] };
  const after = ctx.startSource(writeConfig(both));
  await waitSlotStreaming(ctx.sql, p.slot);
  await waitFor('the second table snapshot under way', () => /snapshot of table starts/.test(log(after)), {
    timeoutMs: 60_000,
  });
  const firstTopic = await ctx.watch(changeTopic(p.topicPrefix, 'public', first));
  await ctx.sql.query(`UPDATE ${first} SET version = version + 1 WHERE id <= 10`);
  await firstTopic.until(
    'the first table updates',
    (r) => r.filter((x) => x.event?.op === 'u').length >= 10,
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal((await snapshotState(p, second))?.status, 'running', 'the second table is still being read');
  assert.doesNotMatch(log(after), /snapshot of table done/);
  await blocker.query('COMMIT');
  await ctx.sql.query(`UPDATE ${second} SET version = version + 1 WHERE id > 690`);
  await assertTopicEqualsTable(ctx.sql, second, changeTopic(p.topicPrefix, 'public', second));
  await assertTopicEqualsTable(ctx.sql, first, changeTopic(p.topicPrefix, 'public', first));
  const published = await ctx.sql.query(
    `SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND tablename = $2`,
    [p.publication, second],
  );
  assert.equal(published.rowCount, 1, 'the source added the table to its publication');
  const state = await snapshotState(p, second);
  assert.equal(state?.status, 'done');
  assert.equal(state?.reason, 'added');
  assert.match(log(after), /added tables to the publication/);
  // The first table was not read again.
  assert.doesNotMatch(log(after), new RegExp(`"table":"public\\.${first}"[^\\n]*snapshot of table starts`));
  // The sink was told when the new table's first snapshot ran.
  const descriptors = await history<TableDescriptor>(tablesTopic(p.topicPrefix), `public.${second}`);
  const phases = descriptors.map((d) => d.snapshot);
  assert.deepEqual(phases.slice(phases.indexOf('running')), ['running', 'done']);
  await stop(after);
});

test('a table removed from the config: its changes no longer reach Kafka while the others stream, and the source says how to stop Postgres sending them', async () => {
  const kept = uniqueName('removed_a');
  const removed = uniqueName('removed_b');
  await createWorkloadTable(ctx.sql, kept, 50);
  await createWorkloadTable(ctx.sql, removed, 50);
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${removed}`));
  const p = ctx.pipeline(kept);
  const both: TestPipeline = { ...p, tables: [...p.tables, { table: `public.${removed}` }] };
  const before = ctx.startSource(writeConfig(both));
  await waitSlotStreaming(ctx.sql, p.slot);
  const removedTopic = changeTopic(p.topicPrefix, 'public', removed);
  await assertTopicEqualsTable(ctx.sql, removed, removedTopic);
  await assertTopicEqualsTable(ctx.sql, kept, changeTopic(p.topicPrefix, 'public', kept));
  await stop(before);

  const records = async () => [...(await endOffsets(removedTopic)).values()].reduce((a, b) => a + b, 0n);
  const recordsBefore = await records();
  const after = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  // The removed table's changes commit first: once the kept table's, after them in the WAL, are in
  // Kafka, the stream went past them.
  await ctx.sql.query(
    `INSERT INTO ${removed} SELECT i, 0, array_fill(i::real, ARRAY[8])::vector FROM generate_series(51, 60) i`,
  );
  await ctx.sql.query(`UPDATE ${removed} SET version = 5 WHERE id <= 10`);
  await ctx.sql.query(
    `INSERT INTO ${kept} SELECT i, 0, array_fill(i::real, ARRAY[8])::vector FROM generate_series(51, 60) i`,
  );
  await assertTopicEqualsTable(ctx.sql, kept, changeTopic(p.topicPrefix, 'public', kept));
  assert.equal(await records(), recordsBefore, "nothing more in the removed table's topic");
  assert.match(
    log(after),
    new RegExp(
      `also publishes public\\.${removed}, not in tables\\[\\]: [^\\n]*DROP TABLE [^\\n]*${removed}`,
    ),
  );
  await stop(after);
});

test('vecrelay resync --where re-reads the matching rows through the running source; --wait says when done', async () => {
  const table = uniqueName('resync');
  await createWorkloadTable(ctx.sql, table, 1000);
  const p = ctx.pipeline(table, { snapshot: { chunkRows: 150 } });
  const config = writeConfig(p);
  const source = ctx.startSource(config);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  await waitSlotStreaming(ctx.sql, p.slot);
  await assertTopicEqualsTable(ctx.sql, table, topic);
  const resync = await ctx.resync(config, table, 'id <= 100');
  assert.match(log(resync), new RegExp(`resync: public\\.${table} done, 100 rows`));
  const records = await readTopic(topic, (r) => r.filter((x) => x.event?.op === 'r').length >= 1100);
  const reads = new Map<string, number>();
  for (const r of records) if (r.event?.op === 'r') reads.set(r.key, (reads.get(r.key) ?? 0) + 1);
  const twice = [...reads.values()].filter((n) => n === 2).length;
  assert.equal(twice, 100, 'the 100 matching rows were read a second time, and only they');
  const requests = await resyncStates(p);
  assert.equal(requests.length, 1, 'one request recorded');
  assert.equal(requests[0]!.status, 'done');
  assert.equal(requests[0]!.where, 'id <= 100');
  assert.equal(requests[0]!.rows, 100);
  // `status` shows the table's newest resync beside its snapshot.
  const status = await execVecrelay(['status', '--config', config, '--json'], { timeoutMs: 120_000 });
  const shown = (JSON.parse(status.stdout) as { tables: Array<{ resync?: Record<string, unknown> }> })
    .tables[0];
  assert.deepEqual(
    { status: shown?.resync?.status, where: shown?.resync?.where, rows: shown?.resync?.rows },
    { status: 'done', where: 'id <= 100', rows: 100 },
    status.stdout,
  );
  const text = await execVecrelay(['status', '--config', config], { timeoutMs: 120_000 });
  assert.match(
    text.stdout,
    /\n {4}snapshot done \(1,000 rows, [0-9]+ chunks\)\n {4}resync done where id <= 100 \(100 rows, 1 chunk\)\n/,
    text.stdout,
  );
  await assertTopicEqualsTable(ctx.sql, table, topic);
  await stop(source);
});

test('vecrelay resync refuses a bad --where and a table not in the pipeline (exit 2), requesting nothing', async () => {
  const table = uniqueName('resyncbad');
  await createWorkloadTable(ctx.sql, table, 10);
  const p = ctx.pipeline(table, { snapshot: 'never' });
  const config = writeConfig(p);
  const source = ctx.startSource(config);
  await waitSlotStreaming(ctx.sql, p.slot);
  const badWhere = ctx.start([
    'resync',
    '--config',
    config,
    '--table',
    table,
    '--where',
    'no_such_column = 1',
  ]);
  assert.equal((await badWhere.exited).code, 2);
  assert.match(
    log(badWhere),
    /--where "no_such_column = 1" on public\.\S+: column "no_such_column" does not exist/,
  );
  const badTable = ctx.start(['resync', '--config', config, '--table', 'nope']);
  assert.equal((await badTable.exited).code, 2);
  assert.match(
    log(badTable),
    new RegExp(`--table nope: not a table of this pipeline \\(it captures public\\.${table}\\)`),
  );
  assert.deepEqual(await resyncStates(p), [], 'nothing was requested');
  await stop(source);
});

test('snapshot: initial_only: every row in Kafka, then the source exits 0 and drops its slot', async () => {
  const table = uniqueName('initonly');
  await createWorkloadTable(ctx.sql, table, 2000);
  const p = ctx.pipeline(table, { snapshot: { mode: 'initial_only', chunkRows: 300 } });
  const source = ctx.startSource(writeConfig(p));
  const { code } = await source.exited;
  assert.equal(code, 0, log(source).slice(-3000));
  assert.equal(await slotInfo(ctx.sql, p.slot), undefined, 'the slot is gone: no WAL retained');
  assert.match(log(source), /initial_only/);
  await assertTopicEqualsTable(ctx.sql, table, changeTopic(p.topicPrefix, 'public', table));
});

test('a vector column added while streaming: the table descriptor is published again with it', async () => {
  const table = uniqueName('descr');
  await createWorkloadTable(ctx.sql, table, 5);
  const p = ctx.pipeline(table, { snapshot: 'never' });
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  await ctx.sql.query(`ALTER TABLE ${table} ADD COLUMN embedding_v2 vector(4)`);
  await ctx.sql.query(`UPDATE ${table} SET embedding_v2 = '[1,2,3,4]' WHERE id = 1`);
  const key = `public.${table}`;
  const vectors = async () =>
    ((await history<TableDescriptor>(tablesTopic(p.topicPrefix), key)).at(-1)?.vectors ?? []).map(
      (v) => `${v.name}:${v.dimension}`,
    );
  await waitFor(
    'the descriptor with embedding_v2',
    async () => (await vectors()).includes('embedding_v2:4'),
    {
      timeoutMs: 60_000,
      intervalMs: 1000,
    },
  );
  assert.deepEqual((await vectors()).sort(), ['embedding:8', 'embedding_v2:4']);
  assert.equal(log(source).match(/table descriptor published again/g)?.length, 1, 'once, not per session');
  await stop(source);
});
