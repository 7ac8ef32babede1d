// The Kafka broker may die in the middle of a chunked snapshot: SIGKILL after some chunks are in
// Kafka, while the table is written to, then started again on the same data. The source must not
// die nor start the snapshot over: it says once that Kafka is gone, keeps every change in the
// slot, and once Kafka is back the snapshot resumes after its last recorded chunk (whose record
// is in the same broker) — and in the end the topic holds exactly the table: 0 missing, 0 extra,
// 0 mismatched. The broker is a scratch one: the shared stack's keeps serving the other tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { changeTopic } from '../../src/kafka/topics.js';
import { readTopic } from '../helpers/kafka.js';
import { connectPg, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { startScratchKafka, type ScratchKafka } from '../helpers/scratch-kafka.js';
import { readLog, stopCleanly, writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';
import { assertTopicEqualsTable, createWorkloadTable, startWriter } from './source-workload.js';

const ctx = useSourcePipelines({ prefix: 'kfsnap' });
let kafka: ScratchKafka;

before(async () => {
  kafka = await startScratchKafka();
});
after(async () => {
  await kafka?.stop();
});

const ROWS = 10_000;
/** Small chunks: some hundreds of them, so that the broker dies with most still to read. */
const CHUNK_ROWS = 20;

test('Kafka broker SIGKILLed mid-snapshot while rows are written, then restarted: the snapshot resumes after its last recorded chunk, the topic equals the table', async () => {
  const { sql } = ctx;
  const table = uniqueName('ksnap');
  await createWorkloadTable(sql, table, ROWS);
  const p = ctx.pipeline(table, { snapshot: { mode: 'initial', chunkRows: CHUNK_ROWS } });
  const config = writeConfig(p, {
    kafka: { brokers: kafka.brokers, topicPrefix: p.topicPrefix, partitions: 3, replicationFactor: 1 },
  });
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const source = ctx.startSource(config);
  const log = () => readLog(source);
  await waitSlotStreaming(sql, p.slot);
  const writer = startWriter(connectPg, table, { firstId: ROWS + 1 });
  try {
    await readTopic(topic, (r) => r.length >= 20 * CHUNK_ROWS, { brokers: kafka.brokers, timeoutMs: 60_000 });
    await kafka.kill();
    // Not vacuous: the broker died with the snapshot under way.
    assert.doesNotMatch(log(), /snapshot of table done/, 'the snapshot was still running when Kafka died');
    const where = `Kafka at ${kafka.brokers[0]} (kafka.brokers)`;
    await waitFor('the warning naming Kafka', () => log().includes(where), { timeoutMs: 60_000 });
    const before = writer.committed;
    await waitFor('writes while the broker is dead', () => writer.committed >= before + 20, {
      timeoutMs: 60_000,
    });
    await kafka.start();
    await waitFor(
      'the snapshot to finish after the broker is back',
      () => /snapshot of table done/.test(log()),
      {
        timeoutMs: 180_000,
        intervalMs: 250,
      },
    );
    const after = writer.committed;
    await waitFor('writes after the snapshot', () => writer.committed >= after + 20, { timeoutMs: 60_000 });
  } finally {
    await writer.stop();
  }
  const { rows, records, keys } = await assertTopicEqualsTable(sql, table, topic, { brokers: kafka.brokers });
  assert.ok(rows >= ROWS, `the whole table (${rows} rows)`);

  const text = log();
  assert.equal(text.match(/snapshot of table starts/g)?.length, 1, 'started once, never over');
  assert.match(text, /snapshot of table resumes after its last recorded chunk/, 'resumed where it was');
  assert.match(text, /Kafka is back: resumed/);
  const errors = text.split('\n').filter((l) => l.includes('"level":50'));
  assert.deepEqual(errors, [], 'no error-level line: the outage is a warning');
  await stopCleanly(source);

  // What the state topic says last is the snapshot's end, with every row it read: no record of
  // the attempt that Kafka's death cut short (held up in the producer, or written by a reader of
  // that attempt still going) landed after the next attempt's, putting back an older state.
  // The bound is the keys with a snapshot event that are still in the table: the writer never
  // brings a deleted id back, so each of them existed when the attempt that finished read past
  // it, and is in its count. A key whose event the cut-short attempt got into Kafka but which was
  // deleted before the chunk was read again is in the topic (at least once) and rightly not in
  // the count: CI saw 1 such key.
  const snapshotRead = new Set(
    (await readTopic(topic, (r) => r.length >= records, { brokers: kafka.brokers }))
      .filter((r) => r.event?.op === 'r' && keys.has(r.key))
      .map((r) => r.key),
  ).size;
  const status = JSON.parse((await execVecrelay(['status', '--config', config, '--json'])).stdout) as {
    tables: Array<{ snapshot: { status: string; rows: number | null } | null }>;
  };
  const recorded = status.tables[0]!.snapshot;
  assert.equal(recorded?.status, 'done', `the table's last record: ${JSON.stringify(recorded)}`);
  assert.ok(
    (recorded.rows ?? 0) >= snapshotRead,
    `it counts every row read: ${recorded.rows} recorded, ${snapshotRead} keys still in the table with a snapshot event`,
  );
});
