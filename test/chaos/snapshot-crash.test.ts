// Chunked snapshots survive a SIGKILL at each of their phases (issue 11): right after the slot is
// created, after a table's first record, between a chunk's watermarks, between a chunk that Kafka
// holds and its progress record, after a progress record, after a table's last. Each test runs
// `vecrelay run` (source and sink) over a table under writes, kills it at that point (a named
// crash point, src/shared/crash-point.ts), deletes and updates rows while it is down, restarts it,
// and compares the whole table with the whole topic and the whole collection: 0 missing, 0 extra,
// 0 mismatched. With the exported-snapshot design these lost rows for good (a slot with no
// snapshot record streamed only; a dropped slot took the deletes made while down with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { changeTopic } from '../../src/kafka/topics.js';
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { readTopic, withAdmin } from '../helpers/kafka.js';
import { connectPg, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { dropCollection } from '../helpers/qdrant.js';
import { writeConfig, type RunningProcess } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import {
  assertCollectionEqualsTable,
  assertTopicEqualsTable,
  createWorkloadTable,
  startWriter,
} from './source-workload.js';

const ctx = useSourcePipelines({ prefix: 'snapx' });

const ROWS = 5000;
/** Small chunks: 25 of them, so a crash at the n-th lands mid-table. */
const CHUNK_ROWS = 200;

function pipelineFor(table: string) {
  const collection = uniqueName('snapxcoll');
  const p = ctx.pipeline(table, {
    snapshot: { mode: 'initial', chunkRows: CHUNK_ROWS },
    tables: [{ table: `public.${table}`, collection }],
  });
  ctx.cleanup(async () => {
    await dropCollection(collection);
    await withAdmin((admin) => admin.deleteGroups([`vecrelay-${p.name}`])).catch(() => {});
  });
  const config = writeConfig(p, { qdrant: { url: stackEnv().qdrantUrl } });
  return { p, config, collection, topic: changeTopic(p.topicPrefix, 'public', table) };
}

async function stopCleanly(run: RunningProcess) {
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, `stopped cleanly; log:\n${readFileSync(run.logFile, 'utf8').slice(-3000)}`);
}

const log = (run: RunningProcess) => readFileSync(run.logFile, 'utf8');

const points: Array<{ point: string; after: (first: RunningProcess, second: RunningProcess) => void }> = [
  {
    point: 'slot-created',
    // The slot exists and no table has a record: the restart snapshots the table (before, it
    // streamed only and the table's rows never arrived).
    after: (_, second) => assert.match(log(second), /snapshot of table starts/),
  },
  { point: 'snapshot-recorded', after: () => {} },
  { point: 'chunk-low-watermark:3', after: () => {} },
  { point: 'chunk-high-watermark:3', after: () => {} },
  // In Kafka but not recorded: that chunk is read again (replays converge).
  { point: 'chunk-acknowledged:3', after: () => {} },
  {
    point: 'chunk-recorded:10',
    // Resumed after the 10th chunk, not from row one.
    after: (_, second) => {
      const resumed = /"rows":(\d+)[^\n]*snapshot of table resumes/.exec(log(second));
      assert.ok(resumed, 'the restart resumed the snapshot');
      assert.ok(Number(resumed[1]) >= 10 * CHUNK_ROWS, `after 10 chunks (${resumed[1]} rows recorded)`);
      // Read in two key ranges at once (snapshot.parallelism 2), each resumed at its own key.
      assert.match(log(second), /"ranges":\[("\d+"|null),"\d+"\][^\n]*snapshot of table resumes/);
    },
  },
  {
    point: 'table-done',
    after: (_, second) => assert.doesNotMatch(log(second), /snapshot of table (starts|resumes)/),
  },
];

for (const { point, after } of points) {
  test(`SIGKILL at ${point}, rows deleted and updated while down: the table, the topic and the collection end equal`, async () => {
    const table = uniqueName('snapx');
    await createWorkloadTable(ctx.sql, table, ROWS);
    const { p, config, collection, topic } = pipelineFor(table);
    const writer = startWriter(connectPg, table, { firstId: ROWS + 1, batch: 5, paceMs: 50 });
    let first: RunningProcess | undefined;
    let second: RunningProcess | undefined;
    try {
      first = ctx.start(['run', '--config', config], { VECRELAY_CRASH_AT: point });
      const { signal } = await first.exited;
      assert.equal(signal, 'SIGKILL', `killed at ${point}; log:\n${log(first).slice(-3000)}`);
      // While it is down: deletes and updates of rows the snapshot read already and has still to read.
      await ctx.sql.query(`DELETE FROM ${table} WHERE id <= ${ROWS} AND id % 7 = 0`);
      await ctx.sql.query(
        `UPDATE ${table} SET version = version + 100, embedding = array_fill(-id::real, ARRAY[8])::vector WHERE id % 11 = 0`,
      );
      second = ctx.start(['run', '--config', config]);
      await waitSlotStreaming(ctx.sql, p.slot);
      const before = writer.committed;
      await waitFor('writes after the restart', () => writer.committed >= before + 10, { timeoutMs: 60_000 });
    } finally {
      await writer.stop();
    }
    await assertTopicEqualsTable(ctx.sql, table, topic);
    await assertCollectionEqualsTable(ctx.sql, table, collection);
    assert.ok(first && second);
    after(first, second);
    await stopCleanly(second);
  });
}

test('a snapshot never pins WAL: killed after 10 of 25 chunks, the slot had confirmed past the first chunk', async () => {
  const table = uniqueName('snapwal');
  await createWorkloadTable(ctx.sql, table, ROWS);
  const { p, config, topic } = pipelineFor(table);
  const first = ctx.start(['source', '--config', config], { VECRELAY_CRASH_AT: 'chunk-recorded:10' });
  const { signal } = await first.exited;
  assert.equal(signal, 'SIGKILL', `killed; log:\n${log(first).slice(-3000)}`);
  // The first chunk's events carry its high watermark's position.
  const records = await readTopic(topic, (r) => r.length >= CHUNK_ROWS, { timeoutMs: 60_000 });
  const firstChunk = records
    .filter((r) => r.event?.op === 'r')
    .map((r) => r.event!.source.lsn)
    .reduce((a, b) => (a < b ? a : b));
  const slot = await slotInfo(ctx.sql, p.slot);
  assert.ok(slot?.confirmed, 'the slot exists');
  assert.ok(
    parseLsn(slot.confirmed) >= firstChunk,
    `confirmed ${slot.confirmed} while the snapshot was under way, past its first chunk (${firstChunk.toString(16)})`,
  );
});
