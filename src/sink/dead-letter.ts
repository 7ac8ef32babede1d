// The dead-letter topic: a record Qdrant rejected for itself, or that could not be decoded, is
// written here with its original bytes and headers, the reason and where it came from (the format:
// src/kafka/dead-letter-codec.ts) — then the sink moves on. Written (acks=all) before the offset
// past it is committed, so nothing silently vanishes; `vecrelay dlq --replay` sends it back.
import type { Producer } from 'kafkajs';
import { deadLetterHeaders, fromKafkaHeaders, toKafkaHeaders } from '../kafka/dead-letter-codec.js';
import { metrics } from '../shared/metrics.js';
import type { SinkRecord } from './plan.js';

export { deadLetterTopic } from '../kafka/topics.js';

export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write(records: SinkRecord[], reason: string): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value,
        headers: toKafkaHeaders(
          deadLetterHeaders(
            { stage: 'sink', topic: r.topic, partition: r.partition, offset: r.offset },
            reason,
            fromKafkaHeaders(r.headers),
          ),
        ),
      })),
    });
    for (const r of records) metrics.deadLetters.inc({ topic: r.topic });
  }
}
