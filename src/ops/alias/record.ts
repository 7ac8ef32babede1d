// Where an alias pointed before vecrelay moved it, so `rollback` can point it back: a record in the
// pipeline's state topic (src/kafka/state-store.ts), key `alias:<alias name>`, written after each
// move. `rollback` writes one too (previous and current swapped), so a second rollback moves the
// alias forward again. `teardown --topics` deletes the state topic, and these records with it.
import type { Admin, Kafka } from 'kafkajs';
import type { LoadedConfig } from '../../config/load.js';
import { stateTopic } from '../../event/names.js';
import { readCompacted } from '../../kafka/compacted.js';
import { StateStore } from '../../kafka/state-store.js';
import { bounded } from '../connect.js';

export interface AliasRecord {
  alias: string;
  /** The collection it pointed at before the move; null when there was no such alias. */
  previous: string | null;
  /** The collection it points at since the move. */
  current: string;
  /** "schema.table" whose collection `cutover` pointed it at. */
  table?: string;
  by: 'cutover' | 'rollback';
  flippedAt: string;
}

export const aliasStateKey = (alias: string): string => `alias:${alias}`;

export class AliasRecords {
  private readonly topic: string;

  constructor(
    config: LoadedConfig,
    private readonly kafka: Kafka,
    private readonly admin: Admin,
  ) {
    this.topic = stateTopic(config.kafka.topicPrefix, config.name);
  }

  /** Whether the state topic exists (the source creates it at its first start). */
  async ready(): Promise<boolean> {
    return (await bounded('Kafka', this.admin.listTopics())).includes(this.topic);
  }

  async read(alias: string): Promise<AliasRecord | undefined> {
    if (!(await this.ready())) return undefined;
    const key = aliasStateKey(alias);
    let found: AliasRecord | undefined;
    await bounded(
      'Kafka',
      readCompacted(this.kafka, this.admin, this.topic, (m) => {
        if (m.key?.toString('utf8') === key)
          found = m.value ? (JSON.parse(m.value.toString('utf8')) as AliasRecord) : undefined;
      }),
      30_000,
    );
    return found;
  }

  async write(record: AliasRecord): Promise<void> {
    // Never auto-created: the state topic is compacted, and only the source creates it so.
    const producer = this.kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await bounded('Kafka', producer.connect());
    try {
      await bounded(
        'Kafka',
        new StateStore(this.kafka, this.admin, producer, this.topic).write(
          aliasStateKey(record.alias),
          record,
        ),
      );
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }

  get where(): string {
    return `the state topic ${this.topic}`;
  }
}
