// One streaming session's writer to Kafka (src/source/change-log.ts ChangeWriter): each event
// becomes its records (event-codec.ts) and goes out through the publisher's lanes; an event too
// large for a batch, or a row the source could not turn into an event, goes to the dead-letter
// topic as a bounded record (source-dead-letters.ts).
import type { LoadedConfig } from '../config/load.js';
import type { ChangeEvent } from '../event/change-event.js';
import { deadLetterTopic } from '../event/names.js';
import type { Logger } from '../shared/log.js';
import { metrics } from '../shared/metrics.js';
import type { ChangeWriter, DeadRow, TableName, Track } from '../source/change-log.js';
import { toMessages, type TopicRoute } from './event-codec.js';
import type { EventProducer } from './event-producer.js';
import { Publisher } from './publisher.js';
import { logOversized, oversizedDeadLetter, oversizedMessage, rowDeadLetter } from './source-dead-letters.js';

export class KafkaChangeWriter implements ChangeWriter {
  private readonly publisher: Publisher;
  private readonly deadLetters: string;
  readonly failed: Promise<never>;

  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
    private readonly producers: EventProducer[],
    private readonly route: (t: TableName) => TopicRoute,
  ) {
    this.deadLetters = deadLetterTopic(config.kafka.topicPrefix, config.name);
    let fail!: (err: Error) => void;
    this.failed = new Promise<never>((_, reject) => (fail = reject));
    this.failed.catch(() => {}); // the session awaits it; unobserved until then
    this.publisher = new Publisher(
      producers,
      {
        batchMaxBytes: config.source.batchMaxBytes,
        requestMaxBytes: config.source.requestMaxBytes,
        maxInFlightBytes: config.source.maxInFlightBytes,
        lingerMs: 5,
      },
      fail,
    );
  }

  async publish(event: ChangeEvent, keyColumns: string[], track: Track): Promise<'queued' | 'oversized'> {
    const { schema, table } = event.source;
    const messages = toMessages(event, keyColumns, this.route({ schema, table }));
    const limit = this.config.source.batchMaxBytes;
    const oversized = oversizedMessage(messages, limit);
    if (oversized) {
      // No batch can hold it: a bounded dead letter takes its place, and the stream goes on.
      logOversized(this.log, event, oversized, limit);
      metrics.deadLetters.inc({ topic: this.deadLetters });
      await this.publisher.publish(oversizedDeadLetter(this.deadLetters, event, oversized, limit), track());
      return 'oversized';
    }
    for (const m of messages) await this.publisher.publish(m, track());
    return 'queued';
  }

  async deadLetter(row: DeadRow, err: Error, track: Track): Promise<void> {
    metrics.deadLetters.inc({ topic: this.deadLetters });
    const limit = this.config.source.batchMaxBytes;
    await this.publisher.publish(rowDeadLetter(this.deadLetters, row, err, limit), track());
  }

  flush(): void {
    this.publisher.flush();
  }

  drain(): Promise<void> {
    return this.publisher.drain();
  }

  async close(): Promise<void> {
    await Promise.all(this.producers.map((p) => p.close().catch(() => {})));
  }
}
