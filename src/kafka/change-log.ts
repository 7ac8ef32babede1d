// The source's change log in Kafka (src/source/change-log.ts): one compacted topic per table,
// keyed by primary key; a dead-letter topic; `<prefix>._tables` for the table descriptors; the
// pipeline's state topic (snapshot progress, its owner). The source knows none of it.
import { Partitioners } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import type { PipelineIdentity } from '../event/identity.js';
import { changeTopic, deadLetterTopic, stateTopic, tablesTopic } from '../event/names.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import type { Logger } from '../shared/log.js';
import type {
  ChangeLog,
  ChangeLogClient,
  ChangeWriter,
  TableDescription,
  TableName,
} from '../source/change-log.js';
import { KafkaChangeWriter } from './change-writer.js';
import { createKafka, kafkaSettings } from './client.js';
import type { TopicRoute } from './event-codec.js';
import { createEventProducer, loadEventProducerClient } from './event-producer.js';
import { OWNER_KEY } from './owners.js';
import { kafkaSecurityProblem } from './security.js';
import { StateStore } from './state-store.js';
import { ensureTopics } from './topics.js';

export function kafkaChangeLog(config: LoadedConfig): ChangeLog {
  return {
    connect: (log) => new KafkaChangeLogClient(config, log),
    // A refused SASL login or TLS handshake: stop, naming kafka.sasl / kafka.ssl.
    refusal: (err) => kafkaSecurityProblem(err, config),
  };
}

const nameOf = (t: TableName) => `${t.schema}.${t.table}`;

class KafkaChangeLogClient implements ChangeLogClient {
  private readonly kafka;
  private readonly admin;
  /**
   * For the small writes (descriptors, state), one at a time and each awaited; change events
   * have producers of their own (event-producer.ts). The explicit partitioner only silences
   * kafkajs' start-up notice about its v2 default.
   */
  private readonly producer;
  private readonly connected: Promise<unknown>;
  private readonly state: StateStore;
  /** Each table's topic and its partition count (an existing topic keeps its own). */
  private readonly routes = new Map<string, TopicRoute>();

  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
  ) {
    loadEventProducerClient().catch(() => {}); // ahead of time; a failure surfaces where it is used
    this.kafka = createKafka(kafkaSettings(config), log.child({ component: 'kafka' }));
    this.admin = this.kafka.admin();
    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // Kafka connects while the source's Postgres checks run: start-up is mostly round trips.
    this.connected = Promise.all([this.admin.connect(), this.producer.connect()]).catch((err: unknown) => {
      throw kafkaSecurityProblem(err, config) ?? err;
    });
    this.connected.catch(() => {}); // awaited in check(); a failure surfaces there
    this.state = new StateStore(
      this.kafka,
      this.admin,
      this.producer,
      stateTopic(config.kafka.topicPrefix, config.name),
    );
  }

  async check(tables: TableName[]): Promise<void> {
    for (const t of tables) changeTopic(this.config.kafka.topicPrefix, t.schema, t.table); // a ConfigError when too long
    await this.connected;
  }

  async create(tables: TableName[], owner: PipelineIdentity): Promise<void> {
    const { config, admin } = this;
    const prefix = config.kafka.topicPrefix;
    const specs = tables.map((t) => ({
      topic: changeTopic(prefix, t.schema, t.table),
      partitions: config.kafka.partitions,
      replicationFactor: config.kafka.replicationFactor,
      compacted: true,
      compaction: config.kafka,
    }));
    const small = { partitions: 1, replicationFactor: config.kafka.replicationFactor };
    // Every topic in one call: creating each waits for its leader.
    const created = await ensureTopics(admin, [
      ...specs,
      { topic: deadLetterTopic(prefix, config.name), ...small, compacted: false },
      { topic: tablesTopic(prefix), ...small, compacted: true },
      { topic: this.state.topic, ...small, compacted: true },
    ]);
    if (created.length) this.log.info({ topics: created }, 'created topics');
    // An existing topic keeps its own partition count: truncate markers must reach all of them.
    const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
    const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
    tables.forEach((t, i) => {
      const topic = specs[i]!.topic;
      this.routes.set(nameOf(t), { topic, partitions: partitions.get(topic) ?? config.kafka.partitions });
    });
    // The pipeline's identity goes with its topics (owners.ts), first of all writes.
    await this.state.write(OWNER_KEY, owner);
  }

  readState(): Promise<Map<string, unknown>> {
    return this.state.readAll();
  }

  writeState(key: string, value: unknown): Promise<void> {
    return this.state.write(key, value);
  }

  async describe(tables: TableDescription[]): Promise<void> {
    const messages = tables.map((t) => {
      const descriptor: TableDescriptor = { ...t, topic: this.route(t).topic };
      return { key: nameOf(t), value: JSON.stringify(descriptor) };
    });
    await this.producer.send({ topic: tablesTopic(this.config.kafka.topicPrefix), acks: -1, messages });
  }

  async openWriter(): Promise<ChangeWriter> {
    const { config } = this;
    // Producers of its own: after a failed send their idempotence state is not to be trusted.
    const producers = await Promise.all(
      Array.from({ length: config.source.producers }, () => createEventProducer(kafkaSettings(config))),
    );
    return new KafkaChangeWriter(config, this.log, producers, (t) => this.route(t));
  }

  async close(): Promise<void> {
    await this.producer.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }

  private route(t: TableName): TopicRoute {
    const route = this.routes.get(nameOf(t));
    if (!route) throw new Error(`no topic for ${nameOf(t)}: create() did not list it`);
    return route;
  }
}
