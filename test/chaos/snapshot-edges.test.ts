// Two edges of chunked snapshots (issue 11) that snapshot-crash.test.ts does not reach: a SIGKILL
// before the replication slot exists (the publication and topics may exist, nothing else), and
// three tables snapshotted at once (snapshot.parallelism 3) — their chunks must really interleave
// in the WAL, and each table must arrive whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeTopic } from '../../src/kafka/topics.js';
import { readTopic } from '../helpers/kafka.js';
import { waitSlotStreaming } from '../helpers/pg.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { readLog as log, stopCleanly, writeConfig } from '../helpers/source-process.js';
import { uniqueName } from '../helpers/stack.js';
import {
  assertCollectionEqualsTable,
  assertTopicEqualsTable,
  crashAndRestart,
  createWorkloadTable,
} from './source-workload.js';

const ctx = useSinkPipelines({ prefix: 'snapedge' });

/** Every replication slot whose name starts with the pipeline's (unique) name. */
async function slotsOf(name: string): Promise<string[]> {
  const { rows } = await ctx.sql.query<{ slot_name: string }>(
    `SELECT slot_name FROM pg_replication_slots WHERE starts_with(slot_name, $1) ORDER BY 1`,
    [name],
  );
  return rows.map((r) => r.slot_name);
}

test('SIGKILL just before the slot is created, rows changed while down: table, topic and collection end equal, one slot', async () => {
  const rows = 3000;
  const table = uniqueName('snapedge');
  await createWorkloadTable(ctx.sql, table, rows);
  const sp = ctx.pipeline(table, { snapshot: { mode: 'initial', chunkRows: 200 } });
  const { second } = await crashAndRestart(ctx, sp, rows, 'slot-creating', async (first) => {
    assert.deepEqual(await slotsOf(sp.p.name), [], 'killed before any slot existed');
    assert.doesNotMatch(log(first), /created replication slot/);
  });
  await assertTopicEqualsTable(ctx.sql, table, sp.topic);
  await assertCollectionEqualsTable(ctx.sql, table, sp.collection);
  assert.match(log(second), /created replication slot/);
  assert.match(log(second), /snapshot of table starts/);
  assert.deepEqual(await slotsOf(sp.p.name), [sp.p.slot], 'exactly the pipeline slot, no stray one');
  await stopCleanly(second);
});

test('snapshot.parallelism 3: three tables are read at once (their chunks interleave in the WAL), each arrives whole', async () => {
  const rows = [1500, 1200, 1800];
  const tables = rows.map(() => uniqueName('snappar'));
  for (const [i, t] of tables.entries()) await createWorkloadTable(ctx.sql, t, rows[i]);
  ctx.cleanup(async () => {
    for (const t of tables.slice(1)) await ctx.sql.query(`DROP TABLE IF EXISTS ${t}`);
  });
  const p = ctx.sourcePipeline(tables[0]!, {
    snapshot: { mode: 'initial', chunkRows: 50, parallelism: 3 },
    tables: tables.map((t) => ({ table: `public.${t}` })),
  });
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  // Each chunk's rows carry the position of its high watermark: one position per chunk.
  const chunks: bigint[][] = [];
  for (const [i, t] of tables.entries()) {
    const topic = changeTopic(p.topicPrefix, 'public', t);
    await assertTopicEqualsTable(ctx.sql, t, topic);
    const records = await readTopic(topic, (r) => r.filter((x) => x.event?.op === 'r').length >= rows[i]!);
    const positions = new Set(records.filter((r) => r.event?.op === 'r').map((r) => r.event!.source.lsn));
    chunks.push([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  for (const [i, c] of chunks.entries())
    assert.ok(
      c.length >= 10,
      `table ${i} was read in ${c.length} chunks (want many, to see them interleave)`,
    );
  // Overlap: a WAL position with chunks of every table on both sides of it — all three tables were
  // being read at the same time. Read one after another, the last chunk of one would precede the
  // first of the next.
  const latestStart = chunks.map((c) => c[0]!).reduce((a, b) => (a > b ? a : b));
  const earliestEnd = chunks.map((c) => c.at(-1)!).reduce((a, b) => (a < b ? a : b));
  assert.ok(
    latestStart < earliestEnd,
    `the three snapshots overlap in the WAL: tables span ${chunks
      .map((c) => `${c[0]!.toString(16)}..${c.at(-1)!.toString(16)}`)
      .join(', ')}`,
  );
  // And they interleave chunk by chunk, not merely touch: every table has chunks inside the span
  // where all three run.
  for (const [i, c] of chunks.entries()) {
    const inside = c.filter((lsn) => lsn > latestStart && lsn < earliestEnd).length;
    assert.ok(inside >= 2, `table ${i}: ${inside} chunks while all three were read`);
  }
  // The log says the same: every table started before any was done.
  const text = log(source);
  const starts = [...text.matchAll(/snapshot of table starts/g)].map((m) => m.index);
  const firstDone = text.search(/snapshot of table done/);
  assert.equal(starts.length, 3, 'three snapshots started');
  assert.ok(firstDone > Math.max(...starts), 'all three started before the first was done');
  await stopCleanly(source);
});
