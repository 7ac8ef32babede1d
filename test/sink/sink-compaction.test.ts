// The change topic is a replayable copy of the table even after Kafka compacts it: the topic is
// created with aggressive cleaning, rows are updated (whole rows), deleted, re-inserted and
// inserted while the sink's group is stopped, and the test waits until the cleaner has removed
// the delete events (only the tombstones are left). Then (b) the stopped group catches up into
// its collection — the deletes reach it as tombstones alone — and (a) a new group rebuilds a new
// collection: both equal the table, 0 missing, 0 extra. Both over REST and over gRPC
// (qdrant.transport): the compacted topic is the slow part (the cleaner), so one test and one
// topic serve both transports — a lagging group and a new group each — rather than the whole
// test running twice. (Not as node:test subtests: the files' hooks clean up after each test,
// subtests included, which would drop the shared topic after the first transport.) And the
// source creates change topics with the configured compaction settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { readTopic, withAdmin, type TopicRecord } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import { deadLetters } from '../helpers/sink-chaos.js';
import {
  lit,
  TRANSPORTS,
  useQdrantGrpc,
  useSinkPipelines,
  vec,
  type SinkPipeline,
  type Transport,
} from '../helpers/sink-pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'compact' });
const noGrpc = useQdrantGrpc();
// gRPC left out when this Qdrant serves none (a real one without QDRANT_GRPC_URL).
const transports = TRANSPORTS.filter((tr) => tr === 'rest' || !noGrpc);

/** Every record of a one-partition topic, up to its high watermark. */
async function wholeTopic(topic: string): Promise<TopicRecord[]> {
  const [partition] = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  const last = BigInt(partition!.high) - 1n;
  return readTopic(topic, (records) => records.some((r) => r.offset >= last), { timeoutMs: 60_000 });
}

/** Runs `step`, naming the transport in its failure. */
const over = <T>(transport: Transport, step: Promise<T>): Promise<T> =>
  step.catch((err: Error) => {
    throw new Error(`[${transport}] ${err.message}`, { cause: err });
  });

test(`[${transports.join(', ')}] forced compaction: a lagging group and a new group both converge to the table over each transport (deletes as tombstones only)`, async () => {
  const { sql } = ctx;
  const table = uniqueName('compact');
  const dim = 8; // stored inline: every update sends the whole row
  await ctx.createTable(table, dim);
  for (let i = 1; i <= 40; i++)
    await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
  const sp = ctx.pipeline(table, { partitions: 1 });
  // A lagging group per transport: the pipeline's own over REST, one with its own collection over
  // gRPC; both read the topic before it is compacted, then stop.
  const lagging = new Map<Transport, SinkPipeline>(
    transports.map((tr) => [tr, tr === 'rest' ? sp : ctx.replayConfig(sp, tr)]),
  );

  // The change topic, created before the source does (it keeps an existing topic as it is):
  // segments roll every 100 ms (on the next append), any dirt is worth cleaning, nothing is
  // protected by age, tombstones stay (delete.retention.ms: a day). The broker's cleaner wakes
  // every 15 s (log.cleaner.backoff.ms, default).
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: sp.topic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.ms', value: '100' },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
            { name: 'min.compaction.lag.ms', value: '0' },
            { name: 'delete.retention.ms', value: '86400000' },
          ],
        },
      ],
    }),
  );

  ctx.startSource(sp.config);
  await waitSlotActive(sql, sp.p.slot);
  for (const [transport, lp] of lagging) {
    const sink = ctx.start(['sink', '--config', lp.config]);
    await over(transport, ctx.waitCollectionEqualsTable(table, lp.collection));
    // The group stops: everything below happens while it lags.
    sink.child.kill('SIGTERM');
    assert.equal((await sink.exited).code, 0, `[${transport}] the lagging sink stops cleanly`);
  }

  // Whole-row updates (twice on the same rows), deletes (some of updated rows), re-inserts of
  // deleted keys, new rows.
  await sql.query(`UPDATE ${table} SET title = 'once', n = n + 100 WHERE id <= 20`);
  await sql.query(`UPDATE ${table} SET title = 'twice', n = n + 100, embedding = $1 WHERE id <= 20`, [
    lit(vec(999, dim)),
  ]);
  await sql.query(`DELETE FROM ${table} WHERE id BETWEEN 11 AND 25`);
  await sql.query(`INSERT INTO ${table} VALUES (21, 'back', 21, $1), (22, 'back', 22, $2)`, [
    lit(vec(2100, dim)),
    lit(vec(2200, dim)),
  ]);
  for (let i = 41; i <= 50; i++)
    await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
  const deleted = [...Array.from({ length: 10 }, (_, i) => 11 + i), 23, 24, 25].map((id) => `[${id}]`);

  // Wait for the cleaner: each round appends a row (rolling the segment that holds the deletes,
  // so it can be cleaned) and reads the topic back, until no delete event is left and each
  // deleted key is down to its tombstone.
  let filler = 1000;
  let records: TopicRecord[] = [];
  await waitFor(
    'the cleaner to remove the delete events',
    async () => {
      filler++;
      await sql.query(`INSERT INTO ${table} VALUES ($1, 'filler', $1, $2)`, [filler, lit(vec(filler, dim))]);
      records = await wholeTopic(sp.topic);
      // The cleaner works segment by segment: a deleted key's older events may outlive its
      // delete event for a round, so wait for both.
      const onlyTombstones = deleted.every((key) =>
        records.filter((r) => r.key === key).every((r) => r.event === null),
      );
      return onlyTombstones && !records.some((r) => r.event?.op === 'd');
    },
    { timeoutMs: 240_000, intervalMs: 2_000 },
  );
  for (const key of deleted) {
    const left = records.filter((r) => r.key === key);
    assert.deepEqual(
      left.map((r) => (r.event === null ? 'tombstone' : r.event.op)),
      ['tombstone'],
      `key ${key}: only its tombstone is left`,
    );
  }
  // The cleaner really ran over the updates too: each updated, surviving key kept one event.
  for (const id of [1, 5, 10])
    assert.equal(records.filter((r) => r.key === `[${id}]`).length, 1, `key [${id}] compacted to one event`);

  for (const [transport, lp] of lagging) {
    // (b) The lagging group catches up into its collection: the deleted rows' points go, though
    // their delete events are gone.
    const back = ctx.start(['sink', '--config', lp.config]);
    await over(transport, ctx.waitCollectionEqualsTable(table, lp.collection, 120_000));

    // (a) A new group rebuilds a new collection from the compacted topic alone.
    const replay = ctx.replayConfig(sp, transport);
    const rebuild = ctx.start(['sink', '--config', replay.config]);
    await over(transport, ctx.waitCollectionEqualsTable(table, replay.collection, 120_000));

    for (const proc of [back, rebuild]) {
      proc.child.kill('SIGTERM');
      assert.equal((await proc.exited).code, 0, `[${transport}] the sinks stop cleanly`);
    }
  }
  // Every group of the pipeline dead-letters to its one topic.
  assert.equal(await deadLetters(sp), 0n, 'nothing dead-lettered');
});

test('the source creates change topics with kafka.deleteRetentionMs and kafka.minCompactionLagMs', async () => {
  const table = uniqueName('compactcfg');
  await ctx.createTable(table, 4);
  const sp = ctx.pipeline(table, { partitions: 1 });
  const config = writeConfig(sp.p, {
    kafka: {
      brokers: stackEnv().kafkaBrokers,
      topicPrefix: sp.p.topicPrefix,
      partitions: 1,
      replicationFactor: 1,
      deleteRetentionMs: 7_200_000,
      minCompactionLagMs: 60_000,
    },
  });
  ctx.startSource(config);
  await waitSlotActive(ctx.sql, sp.p.slot);
  const entries = await waitFor(`topic ${sp.topic} and its configs`, () =>
    withAdmin(async (admin) => {
      if (!(await admin.listTopics()).includes(sp.topic)) return undefined;
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: kafkajs.ConfigResourceTypes.TOPIC,
            name: sp.topic,
            configNames: ['cleanup.policy', 'delete.retention.ms', 'min.compaction.lag.ms'],
          },
        ],
      });
      return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
    }),
  );
  assert.deepEqual(entries, {
    'cleanup.policy': 'compact',
    'delete.retention.ms': '7200000',
    'min.compaction.lag.ms': '60000',
  });
});
