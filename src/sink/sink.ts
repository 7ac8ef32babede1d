// The sink: one consumer group per pipeline keeps one place in the target per table (a Qdrant
// collection) equal to the table. This file wires the pieces: the dead-letter topic, the output
// (qdrant/output.ts) opened for every table once the source has described it, and the consumer
// (consumer.ts) that applies batches through it. A second target is another Output.
import { Partitioners, type Kafka } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { splitTable } from '../config/load.js';
import type { TableConfig } from '../config/schema.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import { createKafka, kafkaSettings } from '../kafka/client.js';
import { readDescriptors, watchDescriptors, type DescriptorWatch } from '../kafka/descriptors.js';
import { ensureTopics } from '../kafka/topics.js';
import { changeTopic, sinkGroupId } from '../event/names.js';
import { sleep } from '../shared/backoff.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { setReady } from '../shared/metrics.js';
import { runWithRestarts } from '../shared/retry.js';
import { SinkConsumer } from './consumer.js';
import { DeadLetterWriter, deadLetterTopic } from './dead-letter.js';
import type { Output, TableOutput } from './output.js';
import { pipelineNamespace } from './qdrant/point-id.js';
import { QdrantOutput } from './qdrant/output.js';

export { sinkGroupId } from '../event/names.js';

export class Sink {
  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    // A broker or Qdrant that went away ends the run; the sink starts again from its committed
    // offsets. A misconfiguration (a refused API key, say) stops it. A failure its library marks
    // retriable (kafkajs' "not the leader" while a new topic's leader is elected, a broker
    // restarting) is an ordinary event: a warning; anything else is unexpected: an error.
    await runWithRestarts(signal, () => this.runOnce(signal), {
      onRetry: (err, { delayMs }) => {
        const passing = (err as { retriable?: unknown } | undefined)?.retriable === true;
        this.log[passing ? 'warn' : 'error'](
          { err, delayMs },
          `the sink failed: ${messageOf(err)}; restarting`,
        );
      },
    });
  }

  private async runOnce(signal: AbortSignal): Promise<void> {
    const { config, log } = this;
    if (!config.qdrant) throw new ConfigError(`${config.file}: qdrant: the sink needs qdrant.url`);
    setReady('sink', false); // ready once consuming
    const output = await QdrantOutput.connect(
      {
        url: config.qdrant.url,
        transport: config.qdrant.transport,
        grpcUrl: config.qdrant.grpcUrl,
        apiKey: config.qdrantApiKey,
        apiKeyEnv: config.qdrant.apiKeyEnv,
        caFile: config.qdrant.caFile,
        collectionPrefix: config.qdrant.collectionPrefix,
        namespace: pipelineNamespace(config.name),
        batchSize: config.sink.batchSize,
        requestMaxBytes: config.sink.requestMaxBytes,
        retryMaxMs: config.sink.retryMaxMs,
        bulkLoad: config.qdrant.bulkLoad,
      },
      log,
      signal,
    ).catch((err: unknown) => {
      if (signal.aborted) return undefined;
      throw err;
    });
    if (!output) return;
    const kafka = createKafka(kafkaSettings(config), log.child({ component: 'kafka' }));
    const admin = kafka.admin();
    // The dead-letter producer is not idempotent. Idempotence would drop the duplicate a retried
    // send can leave and keep sends in order, but neither matters here: a dead letter is written
    // (acks=all) before its offset is committed, so a sink that restarts before the commit writes
    // it again anyway (dead letters are at least once), and each names its origin (topic,
    // partition, offset) instead of relying on its place in the topic. kafkajs' idempotence also
    // wants unlimited retries (else it warns "Limiting retries for the idempotent producer may
    // invalidate EoS guarantees" at every start), and a send retrying without end while the
    // broker is away would hold up the batch, and a stop, instead of failing it for a redelivery.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // silences kafkajs' v2 partitioner notice
    });
    let consumer: SinkConsumer | undefined;
    let watch: Promise<DescriptorWatch | undefined> | undefined;
    try {
      await admin.connect();
      await producer.connect();
      const dlq = new DeadLetterWriter(producer, deadLetterTopic(config.kafka.topicPrefix, config.name));
      await ensureTopics(admin, [
        {
          topic: dlq.topic,
          partitions: 1,
          replicationFactor: config.kafka.replicationFactor,
          compacted: false,
        },
      ]);
      const outputs = await this.openTables(kafka, admin, output, signal);
      if (signal.aborted) return;
      // Beside the consumer, not before it: its group join would delay the start.
      watch = this.followTables(kafka, admin, output, signal).catch((err: unknown) => {
        log.warn(
          { err },
          `could not follow the table descriptors: ${messageOf(err)}; a bulk-loaded collection gets its index back at the next start`,
        );
        return undefined;
      });

      // Ends on the signal (a graceful stop) or on a failure that stops consuming; a failure is
      // rethrown so the caller restarts the sink (or stops, on a misconfiguration).
      let failure: Error | undefined;
      let crashed: (err: Error) => void = () => {};
      const ended = new Promise<void>((resolve) => {
        crashed = (err) => {
          failure ??= err;
          resolve();
        };
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      consumer = new SinkConsumer(
        kafka,
        {
          groupId: sinkGroupId(config),
          sessionTimeoutMs: config.sink.sessionTimeoutMs,
          partitionsConsumedConcurrently: config.sink.partitionsConsumedConcurrently,
        },
        outputs,
        dlq,
        log,
      );
      // kafkajs restarts a crashed consumer itself unless it decides not to: then so do we.
      consumer.consumer.on(consumer.consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) crashed(payload.error);
      });
      await consumer.start(signal, crashed);
      setReady('sink', true);
      await ended;
      setReady('sink', false);
      if (failure) throw failure;
    } finally {
      // Waits for the batches in flight, which stop at their next request once the signal is
      // aborted (consumer.ts): a stop is prompt.
      await consumer?.stop().catch(() => {});
      await (await watch)?.stop();
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
      await output.close();
    }
  }

  /** The configured tables with their change topics. */
  private wantedTables(): Array<{ t: TableConfig; topic: string }> {
    const { config } = this;
    return config.tables.map((t) => {
      const { schema, table } = splitTable(t.table);
      return { t, topic: changeTopic(config.kafka.topicPrefix, schema, table) };
    });
  }

  /**
   * Follows the tables' descriptors while the sink runs, so that a table's snapshot finishing
   * restores the index of its bulk-loaded collection (qdrant/bulk-load.ts). Only when the output
   * waits for that (a snapshot runs, or a collection is being bulk-loaded); one descriptor at a
   * time, in the order published.
   */
  private async followTables(
    kafka: Kafka,
    admin: ReturnType<Kafka['admin']>,
    output: Output,
    signal: AbortSignal,
  ): Promise<DescriptorWatch | undefined> {
    const { config, log } = this;
    if (!output.described || !output.waitsForDescriptors?.()) return undefined;
    const tables = new Map(this.wantedTables().map((w) => [w.topic, w.t]));
    let queue = Promise.resolve();
    return watchDescriptors(kafka, admin, config.kafka.topicPrefix, (descriptor) => {
      if (!tables.has(descriptor.topic)) return; // another pipeline's table, or one not synced
      queue = queue
        .then(() => output.described!({ descriptor, config: tables.get(descriptor.topic) }, signal))
        .catch((err: unknown) => {
          if (signal.aborted) return;
          // The collection keeps its mark: the next start tries again.
          log.error(
            { err, table: `${descriptor.schema}.${descriptor.table}` },
            `could not follow the table's new descriptor (snapshot ${descriptor.snapshot ?? 'unknown'}): ${messageOf(err)}`,
          );
        });
    });
  }

  /** Waits for every table's descriptor, then opens each table's place in the target. */
  private async openTables(
    kafka: Kafka,
    admin: ReturnType<Kafka['admin']>,
    output: Output,
    signal: AbortSignal,
  ): Promise<Map<string, TableOutput>> {
    const { config, log } = this;
    const wanted = this.wantedTables();
    let descriptors = new Map<string, TableDescriptor>();
    for (let attempt = 0; !signal.aborted; attempt++) {
      descriptors = await readDescriptors(kafka, admin, config.kafka.topicPrefix);
      const missing = wanted.filter((w) => !descriptors.has(w.topic));
      if (missing.length === 0) break;
      if (attempt % 10 === 0)
        log.info(
          { tables: missing.map((m) => m.t.table) },
          'waiting for the source to describe these tables',
        );
      await sleep(2000, signal).catch(() => {});
    }
    const outputs = new Map<string, TableOutput>();
    for (const w of wanted) {
      if (signal.aborted) break;
      const opened = await output
        .open({ descriptor: descriptors.get(w.topic)!, config: w.t }, signal)
        .catch((err: unknown) => {
          if (signal.aborted) return undefined;
          throw err;
        });
      if (opened) outputs.set(w.topic, opened);
    }
    return outputs;
  }
}
