// The local stack's Kafka: a compacted topic is created up front, a keyed message round-trips
// through the idempotent producer and a consumer group, and committed offsets are kept: a new
// member of the same group resumes after them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type Consumer, type EachMessagePayload } from 'kafkajs';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const env = stackEnv();
const kafka = new Kafka({ clientId: 'stack-test', brokers: env.kafkaBrokers, logLevel: logLevel.WARN });
const admin = kafka.admin();
const topic = uniqueName('stack.topic');
const groupId = uniqueName('stack-group');

before(async () => {
  await admin.connect();
});

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

/** Joins the group, collects messages until `stop` says so, commits what it processed, leaves. */
async function consumeUntil(stop: (seen: EachMessagePayload[]) => boolean): Promise<EachMessagePayload[]> {
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const seen: EachMessagePayload[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async (payload) => {
        seen.push(payload);
        await consumer.commitOffsets([
          {
            topic: payload.topic,
            partition: payload.partition,
            offset: (BigInt(payload.message.offset) + 1n).toString(),
          },
        ]);
      },
    });
    await waitFor('the consumer group to receive the messages', () => stop(seen), { timeoutMs: 60_000 });
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

test('createTopics makes a compacted topic with the asked partitions', async () => {
  const created = await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: 3,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
    waitForLeaders: true,
  });
  assert.equal(created, true);
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(meta.topics[0]!.partitions.length, 3);
  const { resources } = await admin.describeConfigs({
    resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['cleanup.policy'] }],
    includeSynonyms: false,
  });
  assert.equal(resources[0]!.configEntries[0]!.configValue, 'compact');
});

test('a keyed message round-trips through a consumer group with committed offsets', async () => {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: 'row-1', value: 'first' }] });

    const first = await consumeUntil((seen) => seen.some((m) => m.message.value?.toString() === 'first'));
    const got = first.find((m) => m.message.value?.toString() === 'first')!;
    assert.equal(got.message.key?.toString(), 'row-1');

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const partition = committed[0]!.partitions.find((p) => p.partition === got.partition)!;
    assert.equal(
      BigInt(partition.offset),
      BigInt(got.message.offset) + 1n,
      'the offset after the message is committed',
    );

    // Same key → same partition; a new member of the group resumes after the committed offset.
    await producer.send({ topic, acks: -1, messages: [{ key: 'row-1', value: 'second' }] });
    const second = await consumeUntil((seen) => seen.some((m) => m.message.value?.toString() === 'second'));
    assert.deepEqual(
      second.map((m) => m.message.value?.toString()),
      ['second'],
      'the message committed by the first member is not delivered again',
    );
    assert.equal(second[0]!.partition, got.partition, 'one key always maps to one partition');
  } finally {
    await producer.disconnect();
  }
});
