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
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { readTopic } from '../helpers/kafka.js';
import { slotInfo } from '../helpers/pg.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { readLog as log, stopCleanly, type RunningProcess } from '../helpers/source-process.js';
import { uniqueName } from '../helpers/stack.js';
import {
  assertCollectionEqualsTable,
  assertTopicEqualsTable,
  crashAndRestart,
  createWorkloadTable,
} from './source-workload.js';

const ctx = useSinkPipelines({ prefix: 'snapx' });

const ROWS = 5000;
/** Small chunks: 25 of them, so a crash at the n-th lands mid-table. */
const CHUNK_ROWS = 200;

/** `vecrelay run` (source and sink) over `table` into a collection of its own. */
const pipelineFor = (table: string) =>
  ctx.pipeline(table, { snapshot: { mode: 'initial', chunkRows: CHUNK_ROWS } });

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
    const sp = pipelineFor(table);
    const { first, second } = await crashAndRestart(ctx, sp, ROWS, point);
    await assertTopicEqualsTable(ctx.sql, table, sp.topic);
    await assertCollectionEqualsTable(ctx.sql, table, sp.collection);
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
