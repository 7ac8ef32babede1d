// The dead-letter topic: a record Qdrant rejected for itself, or that could not be decoded, is
// written here with its original bytes, the reason and where it came from — then the sink moves
// on. Written (acks=all) before the offset past it is committed, so nothing silently vanishes.
import type { Producer } from 'kafkajs';
import { metrics } from '../shared/metrics.js';
import type { SinkRecord } from './plan.js';

export { deadLetterTopic } from '../kafka/topics.js';

export class DeadLetterWriter {
  constructor(
    private readonly producer: Producer,
    readonly topic: string,
  ) {}

  async write(records: SinkRecord[], reason: string, lsn?: bigint): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value,
        headers: {
          'vecrelay.error': reason.slice(0, 4000),
          'vecrelay.topic': r.topic,
          'vecrelay.partition': String(r.partition),
          'vecrelay.offset': r.offset,
          ...(lsn !== undefined ? { 'vecrelay.lsn': lsn.toString(16) } : {}),
        },
      })),
    });
    for (const r of records) metrics.deadLetters.inc({ topic: r.topic });
  }
}
