// Reading what the source wrote: every message of a topic, decoded, from the beginning.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
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

export function testKafka(): Kafka {
  return new Kafka({
    clientId: 'vecrelay-test',
    brokers: stackEnv().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
}

/**
 * Reads `topic` from the beginning until `done(records)` holds, then returns the records in
 * (partition, offset) order of arrival per partition.
 */
export async function readTopic(
  topic: string,
  done: (records: TopicRecord[]) => boolean,
  { timeoutMs = 60_000 } = {},
): Promise<TopicRecord[]> {
  const kafka = testKafka();
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
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString('utf8') ?? '',
          event: message.value ? decodeEvent(message.value) : null,
        });
      },
    });
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
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key?.toString('utf8') ?? '',
          event: message.value ? decodeEvent(message.value) : null,
        });
      },
    });
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
