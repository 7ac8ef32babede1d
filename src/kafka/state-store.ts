// A small compacted topic holding each pipeline's durable state (each table's snapshot progress,
// src/event/snapshot-state.ts), so a restarted process knows what its predecessor completed. The source
// creates the topic with its others (source.ts prepare()).
// Read: from the beginning to the high watermark (compacted.ts), last value per key wins.
import type { Admin, Kafka, Producer } from 'kafkajs';
import { readCompacted } from './compacted.js';

export class StateStore {
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write<T>(key: string, value: T): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value: JSON.stringify(value) }],
    });
  }

  /** Every key's last value (one read of the topic; a deleted key is absent). */
  async readAll(): Promise<Map<string, unknown>> {
    const all = new Map<string, unknown>();
    await readCompacted(this.kafka, this.admin, this.topic, (message) => {
      const key = message.key?.toString();
      if (key === undefined) return;
      if (message.value) all.set(key, JSON.parse(message.value.toString()) as unknown);
      else all.delete(key);
    });
    return all;
  }

  async read<T>(key: string): Promise<T | undefined> {
    let found: T | undefined;
    await readCompacted(this.kafka, this.admin, this.topic, (message) => {
      if (message.key?.toString() === key)
        found = message.value ? (JSON.parse(message.value.toString()) as T) : undefined;
    });
    return found;
  }
}
