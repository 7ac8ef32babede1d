// A small compacted topic holding each pipeline's durable state (e.g. whether the initial
// snapshot finished), so a restarted process knows what its predecessor completed.
// Read: from the beginning to the high watermark, last value per key wins.
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { ensureTopics } from './topics.js';

export class StateStore {
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async ensure(replicationFactor: number): Promise<void> {
    await ensureTopics(this.admin, [
      { topic: this.topic, partitions: 1, replicationFactor, compacted: true },
    ]);
  }

  async write<T>(key: string, value: T): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value: JSON.stringify(value) }],
    });
  }

  async read<T>(key: string): Promise<T | undefined> {
    const offsets = await this.admin.fetchTopicOffsets(this.topic);
    const high = BigInt(offsets[0]?.high ?? '0');
    const low = BigInt(offsets[0]?.low ?? '0');
    if (high === low) return undefined;
    // kafkajs reads only through consumer groups: a throwaway group, never committed, deleted after.
    const groupId = `vecrelay-state-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
    let found: T | undefined;
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ message }) => {
              if (message.key?.toString() === key)
                found = message.value ? (JSON.parse(message.value.toString()) as T) : undefined;
              if (BigInt(message.offset) + 1n >= high) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      await this.admin.deleteGroups([groupId]).catch(() => {});
    }
    return found;
  }
}
