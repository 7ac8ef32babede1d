// Reads a small compacted topic from the beginning up to its high watermark (state, table
// descriptors). kafkajs reads only through consumer groups: a throwaway group, never committed,
// deleted afterwards.
import { randomUUID } from 'node:crypto';
import type { Admin, KafkaMessage, Kafka } from 'kafkajs';

export async function readCompacted(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  onMessage: (message: KafkaMessage) => void,
): Promise<void> {
  if (!(await admin.listTopics()).includes(topic)) return;
  const offsets = await admin.fetchTopicOffsets(topic);
  const pending = new Map(
    offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]),
  );
  if (pending.size === 0) return;
  const groupId = `vecrelay-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            onMessage(message);
            if (BigInt(message.offset) + 1n >= (pending.get(partition) ?? 0n)) pending.delete(partition);
            if (pending.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => {});
  }
}
