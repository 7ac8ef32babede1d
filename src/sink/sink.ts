// The sink: one consumer group per pipeline keeps one Qdrant collection per table equal to the
// table. Each partition's batch is decoded, planned (plan.ts), applied (writer.ts) and only then
// its offset committed (DESIGN.md guarantee 1); partitions are applied concurrently, each one
// strictly in order, and several sink processes share the partitions through the group.
import { QdrantClient } from '@qdrant/js-client-rest';
import { Partitioners, type EachBatchPayload, type Kafka } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { splitTable } from '../config/load.js';
import { SCHEMA_HEADER, decoderFor, versionOf } from '../event/versions.js';
import type { ChangeEvent } from '../event/change-event.js';
import { canonicalKey } from '../event/key.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import { createKafka } from '../kafka/client.js';
import { readDescriptors } from '../kafka/descriptors.js';
import { changeTopic, ensureTopics } from '../kafka/topics.js';
import { backoffDelay, sleep } from '../shared/backoff.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { collectionName, ensureCollection } from './collections.js';
import { DeadLetterWriter, deadLetterTopic } from './dead-letter.js';
import { planBatch, type DecodedRecord, type SinkRecord } from './plan.js';
import { pipelineNamespace } from './point-id.js';
import { QdrantHttp } from './qdrant/http.js';
import { isRetriableStatus } from './qdrant/errors.js';
import { CollectionWriter } from './writer.js';
import { runWithRestarts } from '../shared/restart.js';
import { metrics, setReady } from '../shared/metrics.js';

export function sinkGroupId(config: LoadedConfig): string {
  return config.sink.groupId ?? `vecrelay-${config.name}`;
}

export class Sink {
  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    await runWithRestarts('the sink', this.log, signal, () => this.runOnce(signal));
  }

  private async runOnce(signal: AbortSignal): Promise<void> {
    const { config, log } = this;
    if (!config.qdrant) throw new ConfigError(`${config.file}: qdrant: the sink needs qdrant.url`);
    setReady('sink', false); // ready once consuming
    const kafka = createKafka(
      { brokers: config.kafka.brokers, clientId: config.kafka.clientId },
      log.child({ component: 'kafka' }),
    );
    const admin = kafka.admin();
    const producer = kafka.producer({
      idempotent: true,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner, // silences kafkajs' v2 partitioner notice
    });
    await admin.connect();
    await producer.connect();
    const consumer = kafka.consumer({
      groupId: sinkGroupId(config),
      sessionTimeout: config.sink.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 8 << 20,
    });
    try {
      const dlq = new DeadLetterWriter(producer, deadLetterTopic(config.kafka.topicPrefix, config.name));
      await ensureTopics(admin, [
        {
          topic: dlq.topic,
          partitions: 1,
          replicationFactor: config.kafka.replicationFactor,
          compacted: false,
        },
      ]);
      const writers = await this.prepareWriters(kafka, admin, dlq, signal);
      if (signal.aborted) return;

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

      // kafkajs restarts a crashed consumer itself unless it decides not to: then so do we.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) crashed(payload.error);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [...writers.keys()], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: config.sink.partitionsConsumedConcurrently,
        eachBatch: async (payload) => {
          try {
            await this.applyBatch(
              payload,
              writers.get(payload.batch.topic)!,
              dlq,
              consumer.commitOffsets.bind(consumer),
            );
          } catch (err) {
            if (err instanceof ConfigError) {
              crashed(err);
              return;
            }
            if (signal.aborted) return;
            throw err; // kafkajs retries the batch: nothing was committed
          }
        },
      });
      setReady('sink', true);
      await ended;
      setReady('sink', false);
      if (failure) throw failure;
    } finally {
      await consumer.disconnect().catch(() => {});
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }

  /** Waits for every table's descriptor, then makes sure each collection is there and right. */
  private async prepareWriters(
    kafka: Kafka,
    admin: ReturnType<Kafka['admin']>,
    dlq: DeadLetterWriter,
    signal: AbortSignal,
  ) {
    const { config, log } = this;
    const qdrant = config.qdrant!;
    const http = new QdrantHttp({ url: qdrant.url, apiKey: config.qdrantApiKey });
    const client = new QdrantClient({
      url: qdrant.url,
      apiKey: config.qdrantApiKey,
      checkCompatibility: false,
    });
    const namespace = pipelineNamespace(config.name);
    const wanted = config.tables.map((t) => {
      const { schema, table } = splitTable(t.table);
      return { t, schema, table, topic: changeTopic(config.kafka.topicPrefix, schema, table) };
    });
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
    const writers = new Map<string, CollectionWriter>();
    for (const w of wanted) {
      if (signal.aborted) break;
      const descriptor = descriptors.get(w.topic)!;
      const collection = collectionName(qdrant.collectionPrefix, w.t, w.schema, w.table);
      await this.retryQdrant(`collection ${collection}`, signal, () =>
        ensureCollection(client, collection, descriptor, w.t, log),
      );
      const writerLog = log.child({ component: 'writer', collection });
      writers.set(
        w.topic,
        new CollectionWriter(
          http,
          collection,
          descriptor,
          namespace,
          config.sink,
          (records, reason) => dlq.write(records, reason),
          writerLog,
          signal,
        ),
      );
    }
    return writers;
  }

  /** Qdrant may be down when the sink starts: wait for it like the write path does. */
  private async retryQdrant(what: string, signal: AbortSignal, fn: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        // Only unreachable or overloaded servers are waited for; a 4xx is a real answer.
        const status = (err as { status?: number }).status;
        if (
          err instanceof ConfigError ||
          signal.aborted ||
          (status !== undefined && !isRetriableStatus(status))
        )
          throw err;
        const delay = backoffDelay(attempt, { initialMs: 500, maxMs: this.config.sink.retryMaxMs });
        this.log.warn({ err: messageOf(err), delayMs: delay }, `Qdrant not reachable for ${what}; retrying`);
        await sleep(delay, signal);
      }
    }
  }

  private async applyBatch(
    { batch, heartbeat, resolveOffset }: EachBatchPayload,
    writer: CollectionWriter,
    dlq: DeadLetterWriter,
    commit: (offsets: Array<{ topic: string; partition: number; offset: string }>) => Promise<void>,
  ) {
    if (batch.messages.length === 0) return;
    const keyNames = writer.keyColumns;
    const decoded: DecodedRecord[] = [];
    for (const m of batch.messages) {
      const record: SinkRecord = {
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        key: m.key,
        value: m.value,
      };
      if (m.value === null) {
        decoded.push({ record, event: null });
        continue;
      }
      // The writer's schema version (src/event/versions.ts). One newer than this sink knows
      // stops it (ConfigError): dead-lettering every event of an upgraded source would empty
      // the collection, not protect it.
      let decode: (buf: Buffer) => ChangeEvent;
      try {
        decode = decoderFor(versionOf(firstHeader(m.headers?.[SCHEMA_HEADER])));
      } catch (err) {
        if (err instanceof ConfigError) throw err;
        this.log.warn(
          { topic: batch.topic, partition: batch.partition, offset: m.offset },
          'record with a bad schema header: dead-lettered',
        );
        await dlq.write([record], `undecodable: ${messageOf(err)}`);
        continue;
      }
      let event: ChangeEvent;
      try {
        event = decode(m.value);
      } catch (err) {
        this.log.warn(
          { topic: batch.topic, partition: batch.partition, offset: m.offset },
          'undecodable record: dead-lettered',
        );
        await dlq.write([record], `undecodable: ${messageOf(err)}`);
        continue;
      }
      // An event whose key has no point id (a key column missing or NULL) would make planning
      // throw and the whole partition retry forever: it is a bad record like any other.
      if (event.op !== 't') {
        try {
          canonicalKey(keyNames, event.key);
        } catch (err) {
          this.log.warn(
            { topic: batch.topic, partition: batch.partition, offset: m.offset },
            'record without a usable key: dead-lettered',
          );
          await dlq.write([record], `bad key: ${messageOf(err)}`);
          continue;
        }
      }
      decoded.push({ record, event });
    }
    await writer.apply(
      planBatch(decoded, (e) => canonicalKey(keyNames, e.key)),
      heartbeat,
    );
    for (const { event } of decoded) if (event) metrics.sinkEvents.inc({ topic: batch.topic, op: event.op });
    metrics.consumerLag.set({ topic: batch.topic, partition: batch.partition }, Number(batch.offsetLag()));
    const last = batch.messages[batch.messages.length - 1]!.offset;
    // Only now is everything up to `last` in Qdrant.
    await commit([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
    ]);
    resolveOffset(last);
    await heartbeat();
  }
}

/** kafkajs gives a header repeated in one message as an array: the first counts. */
function firstHeader(value: Buffer | string | (Buffer | string)[] | undefined): Buffer | string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
