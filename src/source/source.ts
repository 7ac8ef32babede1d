// The source: Postgres → Kafka for one pipeline. Preflight, publication and slot, the initial
// snapshot when one is due, then streaming sessions — each failure ends a session and, unless it
// is a misconfiguration, a new one resumes from the slot after a backoff.
//
// Snapshot bookkeeping lives in Kafka (the pipeline's state topic): "pending" is written when the
// slot is created with an exported snapshot, "done" once every snapshot row is acknowledged. A
// slot found with a pending snapshot was left by a crash mid-snapshot: it is dropped and the
// snapshot starts over (the rows already published are replayed harmlessly: same keys, op=r).
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { createKafka, kafkaSettings } from '../kafka/client.js';
import { kafkaSecurityProblem } from '../kafka/security.js';
import { createEventProducer, loadEventProducerClient, type EventProducer } from '../kafka/event-producer.js';
import { OWNER_KEY } from '../kafka/owners.js';
import { StateStore } from '../kafka/state-store.js';
import { ensureTopics } from '../kafka/topics.js';
import { changeTopic, deadLetterTopic, stateTopic, tablesTopic } from '../event/names.js';
import type { Logger } from '../shared/log.js';
import { HEALTHY_RUN_MS, RESTART_BACKOFF, retry, runWithRestarts } from '../shared/retry.js';
import type { CellDecoders } from './changes.js';
import { parseLsn } from './pgoutput/index.js';
import type { TableInfo } from './postgres/catalog.js';
import { connectClient, passwordSource, pgClientConfig } from './postgres/connect.js';
import { classifyPgError, isFatalPgError } from './postgres/errors.js';
import { OutageLog, failedSystem } from './outage.js';
import { preflight } from '../plan/preflight.js';
import { checkServer, checkSlotUsable, checkTables } from './postgres/preflight.js';
import { readIdentity } from './postgres/identity.js';
import { createSlot, dropSlot, ensurePublication } from './postgres/slot.js';
import { runSnapshot } from './snapshot-phase.js';
import { setReady } from '../shared/metrics.js';
import { UnsupportedTypeError, decodesBinary } from './decode/index.js';
import { StreamSession, type RoutedTable } from './stream-session.js';
import type { ChangeEvent } from '../event/change-event.js';
import type { PipelineIdentity } from '../event/identity.js';
import type { TableDescriptor } from '../event/table-descriptor.js';

interface SnapshotState {
  slot: string;
  consistentPoint: string;
  status: 'pending' | 'done';
}

export interface SourceOptions {
  decoders: CellDecoders;
  onEvent?: (event: ChangeEvent) => void;
  /** The caller ran preflight() already (`vecrelay run` does, before starting the sink too). */
  preflighted?: boolean;
}

/** Tells sinks what each table looks like (src/event/table-descriptor.ts). */
async function publishDescriptors(
  producer: Producer,
  config: LoadedConfig,
  tables: TableInfo[],
  routed: Map<string, RoutedTable>,
  owner: PipelineIdentity,
) {
  const topic = tablesTopic(config.kafka.topicPrefix); // created by prepare()
  const messages = tables.map((t) => {
    const types = new Map(t.columns.map((c) => [c.name, c.udtName]));
    const descriptor: TableDescriptor = {
      schema: t.schema,
      table: t.table,
      topic: routed.get(`${t.schema}.${t.table}`)!.route.topic,
      key: t.key.map((name) => ({ name, type: types.get(name)! })),
      vectors: t.vectors,
      payload: t.payload,
      owner,
    };
    return { key: `${t.schema}.${t.table}`, value: JSON.stringify(descriptor) };
  });
  await producer.send({ topic, acks: -1, messages });
}

export class Source {
  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
    private readonly options: SourceOptions,
  ) {
    this.outages = new OutageLog(log, config);
  }

  private readonly outages: OutageLog;

  /** Runs until `signal` aborts (graceful stop) or a misconfiguration (throws ConfigError). */
  async run(signal: AbortSignal): Promise<void> {
    const { config, log } = this;
    // Before anything is created: a failure retrying cannot fix stops here, leaving nothing behind.
    if (!this.options.preflighted)
      try {
        await preflight(config, log, { signal });
      } catch (err) {
        if (signal.aborted) return; // stopped while waiting for a server: nothing to report
        throw err;
      }
    // The runner owns reconnects (src/shared/retry.ts): anything but a misconfiguration is
    // retried after a capped, jittered backoff. What was confirmed is safe (the slot), so a
    // restart resumes.
    await runWithRestarts(signal, () => this.runOnce(signal), {
      classify: (err) => this.classify(err),
      onRetry: (err, { delayMs }) => this.outages.failed(err, delayMs),
    });
  }

  /**
   * An error retrying cannot fix becomes a ConfigError (the process stops, exit 2): Postgres
   * refusing the role or a privilege (revoked while running, say), Kafka refusing the credentials.
   */
  private classify(err: unknown): unknown {
    const { config } = this;
    const kafkaProblem = kafkaSecurityProblem(err, config); // kafka.sasl / kafka.ssl refused
    if (kafkaProblem) return kafkaProblem;
    if (failedSystem(err, config) !== 'PostgreSQL' || !isFatalPgError(err)) return err;
    return classifyPgError(err, config.postgres, passwordSource(config));
  }

  private connect() {
    return connectClient(pgClientConfig(this.config), {
      password: passwordSource(this.config),
      config: this.config,
    });
  }

  private async runOnce(signal: AbortSignal): Promise<void> {
    const { config, log } = this;
    setReady('source', false); // ready once streaming (after any snapshot)
    loadEventProducerClient().catch(() => {}); // ahead of time; a failure surfaces where it is used
    const kafka = createKafka(kafkaSettings(config), log.child({ component: 'kafka' }));
    const admin = kafka.admin();
    // For the small writes (table descriptors, snapshot state), one at a time and each awaited;
    // change events have producers of their own (event-producer.ts). The explicit partitioner
    // only silences kafkajs' start-up notice about its v2 default.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // Kafka connects while the Postgres preflight runs: start-up is mostly round trips.
    const kafkaConnected = Promise.all([admin.connect(), producer.connect()]).catch((err: unknown) => {
      throw kafkaSecurityProblem(err, config) ?? err; // a refused SASL login: stop, naming kafka.sasl
    });
    kafkaConnected.catch(() => {}); // awaited in prepare(); a failure surfaces there
    try {
      const { tables, routed, identity } = await this.prepare(admin, kafkaConnected);
      // The pipeline's identity goes with its topics (src/kafka/owners.ts), first of all writes.
      const state = new StateStore(kafka, admin, producer, stateTopic(config.kafka.topicPrefix, config.name));
      await state.write(OWNER_KEY, identity);
      await publishDescriptors(producer, config, tables, routed, identity);
      const textOnly = tables.flatMap((t) =>
        t.columns
          .filter((c) => !decodesBinary(c.udtName))
          .map((c) => `${t.schema}.${t.table}.${c.name} (${c.typeName})`),
      );
      if (textOnly.length)
        log.warn(
          { columns: textOnly },
          'these column types have no binary decoder: streaming in text mode (slower)',
        );
      await this.snapshotIfDue(state, tables, routed, signal);
      if (config.snapshot === 'initial_only' || signal.aborted) return;
      // Streaming writes through its own producers: these would only sit idle (and log about
      // every broker restart) from here on.
      await Promise.all([producer.disconnect(), admin.disconnect()]).catch(() => {});
      await this.stream(routed, textOnly.length === 0, signal);
    } finally {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }

  /** Preflight, publication and topics; returns the tables with their Kafka routes. */
  private async prepare(admin: ReturnType<Kafka['admin']>, kafkaConnected: Promise<unknown>) {
    const { config, log } = this;
    const client = await this.connect();
    try {
      await checkServer(client, config);
      const tables = await checkTables(client, config);
      const identity = await readIdentity(client, config.name);
      const specs = tables.map((t) => ({
        topic: changeTopic(config.kafka.topicPrefix, t.schema, t.table), // a ConfigError when too long
        partitions: config.kafka.partitions,
        replicationFactor: config.kafka.replicationFactor,
        compacted: true,
        compaction: config.kafka,
      }));
      // preflight() refused topics another pipeline records as its own (src/kafka/owners.ts).
      await kafkaConnected; // before creating anything: a Kafka that refuses us leaves nothing behind
      await ensurePublication(client, config, tables, log);
      // Every topic in one call: creating each waits for its leader.
      const small = { partitions: 1, replicationFactor: config.kafka.replicationFactor };
      const created = await ensureTopics(admin, [
        ...specs,
        // Rows the source cannot turn into events land here (stream-session.ts).
        { topic: deadLetterTopic(config.kafka.topicPrefix, config.name), ...small, compacted: false },
        // Table descriptors for the sinks, and the pipeline's own state (snapshot done or not).
        { topic: tablesTopic(config.kafka.topicPrefix), ...small, compacted: true },
        { topic: stateTopic(config.kafka.topicPrefix, config.name), ...small, compacted: true },
      ]);
      if (created.length) log.info({ topics: created }, 'created topics');
      // An existing topic keeps its own partition count: truncate markers must reach all of them.
      const meta = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
      const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
      const routed = new Map<string, RoutedTable>();
      tables.forEach((t, i) => {
        const topic = specs[i]!.topic;
        routed.set(`${t.schema}.${t.table}`, {
          // The key as the catalog gives it (primary key order, or tables[].key): a Relation
          // message flags key columns in column order, and every column under REPLICA IDENTITY
          // FULL, so the stream would otherwise key rows differently from the snapshot.
          table: { ...config.tables[i]!, key: t.key },
          route: { topic, partitions: partitions.get(topic) ?? config.kafka.partitions },
        });
      });
      return { tables, routed, identity };
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async snapshotIfDue(
    state: StateStore,
    tables: TableInfo[],
    routed: Map<string, RoutedTable>,
    signal: AbortSignal,
  ) {
    const { config, log } = this;
    const client = await this.connect();
    try {
      let slot = await checkSlotUsable(client, config, log, signal);
      const recorded = await state.read<SnapshotState>('snapshot');
      // A snapshot recorded as pending was interrupted (a crash, a server restart): its slot, if
      // still there, is dropped and the snapshot starts over, behind a truncate marker per table
      // (runSnapshot: rows it published may have been deleted since).
      const startOver = recorded?.slot === config.postgres.slot && recorded.status === 'pending';
      if (slot.exists && startOver) {
        log.warn(
          { slot: config.postgres.slot },
          'the previous snapshot did not finish: dropping the slot and starting over',
        );
        await dropSlot(client, config.postgres.slot);
        slot = { ...slot, exists: false };
      }
      if (slot.exists) {
        if (config.snapshot !== 'never' && !recorded)
          log.warn(
            { slot: config.postgres.slot },
            'reusing a slot with no snapshot record: streaming only, no snapshot',
          );
        return;
      }
      const wantSnapshot = config.snapshot !== 'never';
      // Pending before the slot exists: a crash (or a server restart) right after creating it
      // must not leave a slot that looks like a finished pipeline's and so is never snapshotted.
      if (wantSnapshot)
        await state.write('snapshot', { slot: config.postgres.slot, consistentPoint: '', status: 'pending' });
      const created = await createSlot(
        pgClientConfig(config, { replication: true }),
        config.postgres.slot,
        wantSnapshot,
        log,
      );
      try {
        if (!wantSnapshot || !created.snapshotName) return;
        const snapshot: SnapshotState = {
          slot: config.postgres.slot,
          consistentPoint: created.consistentPoint,
          status: 'pending',
        };
        await state.write('snapshot', snapshot);
        const producers = await createEventProducers(config);
        const rows = await runSnapshot(
          { config, log: log.child({ component: 'snapshot' }), producers, decoders: this.options.decoders },
          created.snapshotName,
          parseLsn(created.consistentPoint),
          tables.map((info) => ({ info, routed: routed.get(`${info.schema}.${info.table}`)! })),
          { startOver },
        ).finally(() => closeAll(producers));
        await state.write('snapshot', { ...snapshot, status: 'done', rows });
      } finally {
        // Ends the exported snapshot; the slot stays.
        await created.connection.end().catch(() => {});
      }
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Streaming sessions, each resuming from the slot, until the signal stops them. */
  private async stream(routed: Map<string, RoutedTable>, binary: boolean, signal: AbortSignal) {
    const { log } = this;
    const session = async () => {
      for (;;) {
        try {
          return await this.session(routed, binary, signal);
        } catch (err) {
          if (signal.aborted || !binary || !(err instanceof UnsupportedTypeError)) throw err;
          // A column added while streaming (ALTER TABLE) has a type with no binary decoder: the
          // next session resumes from the slot at once, in text mode, which every type has.
          binary = false;
          log.warn(
            { column: err.column, type: err.typeName },
            'a column type has no binary decoder: streaming in text mode (slower) from now on',
          );
        }
      }
    };
    await retry(session, {
      signal,
      backoff: RESTART_BACKOFF,
      resetAfterMs: HEALTHY_RUN_MS,
      classify: (err) => this.classify(err),
      // One warning per outage naming the system (outage.ts); the session resumes from the slot.
      onRetry: (err, { delayMs }) => this.outages.failed(err, delayMs),
      stopped: () => undefined,
    }).catch((err: unknown) => {
      if (!signal.aborted) throw err; // a session that fails as it is stopped has nothing to report
    });
  }

  /** One streaming session, with producers of its own. */
  private async session(routed: Map<string, RoutedTable>, binary: boolean, signal: AbortSignal) {
    const { config, log } = this;
    // A producer per session: after a failed send its idempotence state is not to be trusted.
    let producers: EventProducer[] = [];
    try {
      producers = await createEventProducers(config);
      const client = await this.connect();
      try {
        await checkSlotUsable(client, config, log, signal);
      } finally {
        await client.end().catch(() => {});
      }
      await new StreamSession({
        config,
        log: log.child({ component: 'stream' }),
        producers,
        decoders: this.options.decoders,
        tables: routed,
        deadLetterTopic: deadLetterTopic(config.kafka.topicPrefix, config.name),
        binary,
        onEvent: this.options.onEvent,
        onStreaming: () => this.outages.recovered(),
        quiet: this.outages.active,
      }).run(signal);
    } finally {
      await closeAll(producers);
    }
  }
}

/** The change-event producers of a snapshot or streaming session (source.producers lanes). */
function createEventProducers(config: LoadedConfig): Promise<EventProducer[]> {
  return Promise.all(
    Array.from({ length: config.source.producers }, () => createEventProducer(kafkaSettings(config))),
  );
}

async function closeAll(producers: EventProducer[]): Promise<void> {
  await Promise.all(producers.map((p) => p.close().catch(() => {})));
}
