// Reading what the source wrote: every message of a topic, decoded, from the beginning; a
// pipeline's topics, and how far a consumer group has got in one.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type EachMessagePayload } from 'kafkajs';
import { decodeEvent } from '../../src/event/avro.js';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { stackEnv, waitFor } from './stack.js';

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: string;
  /** null for a tombstone. */
  event: ChangeEvent | null;
}

/** A client of the stack's broker, or of `brokers` (a scratch broker's). */
export function testKafka(brokers: string[] = stackEnv().kafkaBrokers): Kafka {
  return new Kafka({
    clientId: 'vecrelay-test',
    brokers,
    logLevel: logLevel.NOTHING,
  });
}

/** Runs `fn` with a connected admin client, disconnected afterwards whatever happens. */
export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The topics of a pipeline: `<prefix>.<anything>`. */
export async function topicsWithPrefix(prefix: string): Promise<string[]> {
  return withAdmin(async (admin) => (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`)));
}

/** Deletes the topics of a pipeline, best effort (a test's cleanup). */
export async function deleteTopicsWithPrefix(prefix: string): Promise<void> {
  const topics = await topicsWithPrefix(prefix);
  if (topics.length) await withAdmin((admin) => admin.deleteTopics({ topics })).catch(() => {});
}

/**
 * Hands every message of `topic`, from its beginning, to `onMessage`. No offsets are committed:
 * test readers use a group of their own and never resume.
 */
export async function runFromBeginning(
  consumer: Consumer,
  topic: string,
  onMessage: (payload: EachMessagePayload) => void,
): Promise<void> {
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async (payload) => onMessage(payload),
  });
}

function decoded({ partition, message }: EachMessagePayload): TopicRecord {
  return {
    partition,
    offset: BigInt(message.offset),
    key: message.key?.toString('utf8') ?? '',
    event: message.value ? decodeEvent(message.value) : null,
  };
}

/**
 * Reads `topic` from the beginning until `done(records)` holds, then returns the records in
 * (partition, offset) order of arrival per partition.
 */
export async function readTopic(
  topic: string,
  done: (records: TopicRecord[]) => boolean,
  { timeoutMs = 60_000, brokers }: { timeoutMs?: number; brokers?: string[] } = {},
): Promise<TopicRecord[]> {
  const kafka = testKafka(brokers);
  const groupId = `test-reader-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxBytes: 50 << 20,
  });
  const records: TopicRecord[] = [];
  await consumer.connect();
  try {
    await runFromBeginning(consumer, topic, (m) => records.push(decoded(m)));
    await waitFor(`records on ${topic}`, () => done(records), { timeoutMs, intervalMs: 200 });
    return records;
  } finally {
    await consumer.disconnect();
  }
}

/** The state a sink would reach: last event per key (deletes and tombstones remove the row). */
export function finalState(records: TopicRecord[]): Map<string, ChangeEvent> {
  const rows = new Map<string, ChangeEvent>();
  for (const r of records) {
    if (r.event === null || r.event.op === 'd') rows.delete(r.key);
    else if (r.event.op === 't') rows.clear();
    else if (r.event.unchanged.length > 0 && rows.has(r.key)) {
      const before = rows.get(r.key)!;
      rows.set(r.key, {
        ...r.event,
        values: { ...before.values, ...r.event.values },
        vectors: { ...before.vectors, ...r.event.vectors },
        unchanged: [],
      });
    } else rows.set(r.key, r.event);
  }
  return rows;
}

export interface TopicWatch {
  /** Every record read so far, in order of arrival per partition. */
  readonly records: TopicRecord[];
  /** Waits until `done(records)` holds, then returns the records read so far. */
  until(
    what: string,
    done: (records: TopicRecord[]) => boolean,
    options?: { timeoutMs?: number },
  ): Promise<TopicRecord[]>;
  close(): Promise<void>;
}

/**
 * Like readTopic, but one consumer keeps reading `topic` from the beginning until closed, so a
 * test can wait for several things in turn without re-reading the topic each time. The topic must
 * exist already (the consumer would otherwise have it auto-created).
 */
export async function watchTopic(topic: string): Promise<TopicWatch> {
  const consumer = testKafka().consumer({
    groupId: `test-watch-${randomUUID()}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    // Short fetch waits: disconnecting waits for the fetch in progress (5 s by default).
    maxWaitTimeInMs: 100,
    maxBytes: 50 << 20,
    allowAutoTopicCreation: false,
  });
  const records: TopicRecord[] = [];
  await consumer.connect();
  try {
    await runFromBeginning(consumer, topic, (m) => records.push(decoded(m)));
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
  return {
    records,
    async until(what, done, { timeoutMs = 30_000 } = {}) {
      await waitFor(`${what} on ${topic}`, () => done(records), { timeoutMs, intervalMs: 50 });
      return records;
    },
    close: () => consumer.disconnect(),
  };
}

/** Partition → the group's committed offset on `topic` (-1n: none yet). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (admin) => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  });
}

/** Partition → the end (high watermark) of `topic`. */
export async function endOffsets(topic: string): Promise<Map<number, bigint>> {
  return withAdmin(async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  });
}

/** True when the group has committed the end of every non-empty partition of `topic`. */
export async function groupAtEnd(groupId: string, topic: string): Promise<boolean> {
  const [committed, ends] = await Promise.all([committedOffsets(groupId, topic), endOffsets(topic)]);
  for (const [partition, end] of ends) if (end > 0n && committed.get(partition) !== end) return false;
  return true;
}
