// Reads a range of a topic (from given offsets to the high watermark seen at the start) within a
// bounded time: kafkajs reads only through consumer groups, so a throwaway group that is never
// committed and is deleted afterwards. A read that does not end in time is an Unreachable naming
// Kafka (connect.ts), never a hang.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { bounded } from './connect.js';

/** How long a whole read may take: joining a group alone takes a few seconds. */
export const READ_TIMEOUT_MS = 60_000;

export interface Range {
  partition: number;
  /** First offset to read. */
  from: bigint;
  /** One past the last offset to read. */
  to: bigint;
}

/** The partitions' [low, high) offsets. */
export async function partitionOffsets(where: string, admin: Admin, topic: string): Promise<Range[]> {
  const offsets = await bounded(where, admin.fetchTopicOffsets(topic));
  return offsets.map((o) => ({ partition: o.partition, from: BigInt(o.low), to: BigInt(o.high) }));
}

export async function readRanges(
  where: string,
  kafka: Kafka,
  admin: Admin,
  topic: string,
  ranges: Range[],
  onMessage: (partition: number, message: KafkaMessage) => void,
): Promise<void> {
  const pending = new Map(ranges.filter((r) => r.to > r.from).map((r) => [r.partition, r]));
  if (pending.size === 0) return;
  const groupId = `vecrelay-dlq-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const read = async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const range = pending.get(partition);
            if (!range) return;
            const offset = BigInt(message.offset);
            if (offset >= range.from && offset < range.to) onMessage(partition, message);
            if (offset + 1n >= range.to) pending.delete(partition);
            if (pending.size === 0) resolve();
          },
        })
        .catch(reject);
      for (const r of pending.values())
        consumer.seek({ topic, partition: r.partition, offset: r.from.toString() });
    });
  };
  try {
    await bounded(where, read(), READ_TIMEOUT_MS);
  } finally {
    await Promise.race([consumer.disconnect().catch(() => {}), pause(5000)]);
    await Promise.race([admin.deleteGroups([groupId]).catch(() => {}), pause(5000)]);
  }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
