// The source: Postgres → Kafka for one pipeline. Preflight, publication and slot, then streaming
// sessions — each failure ends a session and, unless it is a misconfiguration, a new one resumes
// from the slot after a backoff — with the snapshots running beside them (snapshot/snapshotter.ts):
// chunked and online, each table's progress in the pipeline's state topic
// (src/event/snapshot-state.ts). A table with no record there is read in full: at the first
// start, after a crash right after the slot was created, and when a table is added to the config.
import { Partitioners, type Kafka } from 'kafkajs';
import type pg from 'pg';
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
import type { CellDecoders, RelationPlan } from './changes.js';
import type { TableInfo } from './postgres/catalog.js';
import { connectClient, passwordSource, pgClientConfig } from './postgres/connect.js';
import { classifyPgError, isFatalPgError } from './postgres/errors.js';
import { OutageLog, failedSystem } from './outage.js';
import { preflight } from '../plan/preflight.js';
import { checkServer, checkSlotUsable, checkTables } from './postgres/preflight.js';
import { readIdentity } from './postgres/identity.js';
import { createSlot, dropSlot, ensurePublication } from './postgres/slot.js';
import { Snapshotter, type SnapshotJob } from './snapshot/snapshotter.js';
import type { ChunkWindows } from './snapshot/windows.js';
import type { ResyncRequest } from './snapshot/resync-request.js';
import { snapshotStateKey, type TableSnapshotState } from '../event/snapshot-state.js';
import { catalogVectors, publishDescriptors, relationVectors } from './descriptors.js';
import { planSnapshots } from './snapshot/jobs.js';
import { sleep } from '../shared/backoff.js';
import { crashPoint } from '../shared/crash-point.js';
import { setReady } from '../shared/metrics.js';
import { UnsupportedTypeError, decodesBinary } from './decode/index.js';
import { StreamSession, type RoutedTable } from './stream-session.js';
import type { ChangeEvent } from '../event/change-event.js';

export interface SourceOptions {
  decoders: CellDecoders;
  onEvent?: (event: ChangeEvent) => void;
  /** The caller ran preflight() already (`vecrelay run` does, before starting the sink too). */
  preflighted?: boolean;
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
      const records = await state.readAll();
      const jobs = await this.snapshotJobs(tables, records, signal);
      if (signal.aborted) return;
      // Bulk load (the sink defers HNSW construction) while a table's first snapshot runs.
      const status = new Map<string, 'running' | 'done'>();
      for (const t of tables) {
        const name = `${t.schema}.${t.table}`;
        const own = records.get(snapshotStateKey(t.schema, t.table)) as TableSnapshotState | undefined;
        if (own && own.reason !== 'resync') status.set(name, own.status);
      }
      for (const job of jobs) if (job.reason !== 'resync') status.set(job.table, 'running');
      await publishDescriptors(producer, config, tables, routed, identity, (t) => status.get(t));
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
      const snapshotter = new Snapshotter({
        config,
        log: log.child({ component: 'snapshot' }),
        tables: tables.map((info) => ({ info, routed: routed.get(`${info.schema}.${info.table}`)! })),
        progress: state,
        onStatus: async (table, s) => {
          if (status.get(table) === s) return; // published so already (at start)
          status.set(table, s);
          const info = tables.filter((t) => `${t.schema}.${t.table}` === table);
          await publishDescriptors(producer, config, info, routed, identity, (t) => status.get(t));
        },
      });
      for (const job of jobs) snapshotter.enqueue(job);
      const requests = new Set<string>();
      for (const r of records.values()) {
        const request = (r as Partial<TableSnapshotState>).request;
        if (request) requests.add(request);
      }
      const onResync = async (r: ResyncRequest) => {
        if (requests.has(r.id)) return; // replayed from the WAL after a restart: recorded already
        await snapshotter.request({
          table: r.table,
          reason: 'resync',
          where: r.where,
          request: r.id,
          ...(r.keys ? { keys: r.keys } : {}),
        });
        requests.add(r.id);
      };
      // A vector column added, dropped or resized while streaming: the descriptor follows, so a
      // sink that creates the collection later (a rebuild into a new one) creates it right.
      const vectorsOf = new Map(tables.map((t) => [`${t.schema}.${t.table}`, catalogVectors(t)]));
      const onRelation = (plan: RelationPlan) => {
        const table = `${plan.relation.schema}.${plan.relation.name}`;
        const now = relationVectors(plan);
        if (vectorsOf.get(table) === now) return;
        vectorsOf.set(table, now);
        void this.describeAgain(table, tables, (fresh) =>
          publishDescriptors(producer, config, fresh, routed, identity, (t) => status.get(t)),
        );
      };
      await this.streamWithSnapshots(
        snapshotter,
        routed,
        textOnly.length === 0,
        { onResync, onRelation },
        signal,
      );
    } finally {
      await producer.disconnect().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }

  /**
   * Streaming and snapshots side by side until `signal` stops them or either fails; with
   * `snapshot: initial_only`, until every table is read, then the slot is dropped.
   */
  private async streamWithSnapshots(
    snapshotter: Snapshotter,
    routed: Map<string, RoutedTable>,
    binary: boolean,
    hooks: StreamHooks,
    signal: AbortSignal,
  ) {
    const { config, log } = this;
    const inner = new AbortController();
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    let failure: unknown;
    const failed = (err: unknown) => {
      failure ??= err;
      inner.abort();
    };
    const initialOnly = config.snapshot.mode === 'initial_only';
    if (initialOnly) void snapshotter.idle().then(stop);
    try {
      await Promise.all([
        snapshotter.run(inner.signal).catch(failed),
        this.stream(routed, binary, inner.signal, { ...hooks, windows: snapshotter.windows }).catch(failed),
      ]);
    } finally {
      signal.removeEventListener('abort', stop);
    }
    if (failure !== undefined) throw failure;
    if (initialOnly && !signal.aborted) {
      const client = await this.connect();
      try {
        await dropSlotWhenInactive(client, config.postgres.slot, signal);
      } finally {
        await client.end().catch(() => {});
      }
      log.info(
        { slot: config.postgres.slot },
        'snapshot: initial_only — every table is in Kafka; dropped the replication slot (no streaming)',
      );
    }
  }

  /** Reads `table` from the catalog again and publishes its descriptor; a failure is a warning. */
  private async describeAgain(
    table: string,
    tables: TableInfo[],
    publish: (fresh: TableInfo[]) => Promise<void>,
  ): Promise<void> {
    try {
      const client = await this.connect();
      try {
        const fresh = (await checkTables(client, this.config)).find(
          (t) => `${t.schema}.${t.table}` === table,
        );
        if (!fresh) return;
        const i = tables.findIndex((t) => `${t.schema}.${t.table}` === table);
        if (i >= 0) tables[i] = fresh;
        await publish([fresh]);
        this.log.info(
          { table, vectors: catalogVectors(fresh) },
          'vector columns changed: table descriptor published again',
        );
      } finally {
        await client.end().catch(() => {});
      }
    } catch (err) {
      this.log.warn(
        { table, err },
        'vector columns changed, but the table descriptor could not be published again',
      );
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

  /**
   * Creates the slot when missing (streaming starts there; no exported snapshot is needed) and
   * returns the tables to snapshot: those with no record of their own, or one left running.
   */
  private async snapshotJobs(
    tables: TableInfo[],
    records: Map<string, unknown>,
    signal: AbortSignal,
  ): Promise<SnapshotJob[]> {
    const { config, log } = this;
    const client = await this.connect();
    let slotExisted: boolean;
    try {
      slotExisted = (await checkSlotUsable(client, config, log, signal)).exists;
    } finally {
      await client.end().catch(() => {});
    }
    if (signal.aborted) return [];
    const planned = planSnapshots(config, tables, records, slotExisted);
    if (!slotExisted) {
      if (planned.anyRecord)
        // Changes since the slot went are lost: every table is read again. Rows deleted meanwhile
        // are not in any chunk and stay in Qdrant: `vecrelay verify` finds them.
        log.warn(
          { slot: config.postgres.slot },
          'the replication slot is gone (dropped by hand?): creating it again and reading every table again',
        );
      const created = await createSlot(
        pgClientConfig(config, { replication: true }),
        config.postgres.slot,
        false,
        log,
      );
      await created.connection.end().catch(() => {});
      crashPoint('slot-created');
    }
    return planned.jobs;
  }

  /** Streaming sessions, each resuming from the slot, until the signal stops them. */
  private async stream(
    routed: Map<string, RoutedTable>,
    binary: boolean,
    signal: AbortSignal,
    hooks: StreamHooks & { windows: ChunkWindows },
  ) {
    const { log } = this;
    const session = async () => {
      for (;;) {
        try {
          return await this.session(routed, binary, signal, hooks);
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
  private async session(
    routed: Map<string, RoutedTable>,
    binary: boolean,
    signal: AbortSignal,
    hooks: StreamHooks & { windows: ChunkWindows },
  ) {
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
        ...hooks,
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

interface StreamHooks {
  onResync: (r: ResyncRequest) => Promise<void>;
  onRelation: (plan: RelationPlan) => void;
}

/** Drops the slot once its walsender has let go of it (a stopped session's ends shortly after). */
async function dropSlotWhenInactive(client: pg.Client, slot: string, signal: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await dropSlot(client, slot);
      return;
    } catch (err) {
      // object_in_use: still active. Any other error, or still active after a minute, is reported.
      if ((err as { code?: string }).code !== '55006' || attempt >= 600) throw err;
      await sleep(100, signal);
    }
  }
}

async function closeAll(producers: EventProducer[]): Promise<void> {
  await Promise.all(producers.map((p) => p.close().catch(() => {})));
}
