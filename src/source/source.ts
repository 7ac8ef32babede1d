// The source: Postgres → Kafka for one pipeline. Preflight, publication and slot, then streaming
// sessions — each failure ends a session and, unless it is a misconfiguration, a new one resumes
// from the slot after a backoff — with the snapshots running beside them (snapshot/snapshotter.ts):
// chunked and online, each table's progress in the pipeline's state topic
// (src/event/snapshot-state.ts). A table with no record there is read in full: at the first
// start, after a crash right after the slot was created, and when a table is added to the config.
import type { LoadedConfig } from '../config/load.js';
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
import { createSlot, dropSlotWhenInactive, ensurePublication } from './postgres/slot.js';
import { Snapshotter, type SnapshotJob } from './snapshot/snapshotter.js';
import type { ChunkWindows } from './snapshot/windows.js';
import type { ResyncRequest } from './snapshot/resync-request.js';
import { partitionStore } from './partition-store.js';
import { watchPartitions, type PartitionStore } from './postgres/partition-watch.js';
import { snapshotStateKey, type TableSnapshotState } from '../event/snapshot-state.js';
import { catalogVectors, describeTables, relationVectors } from './descriptors.js';
import { planSnapshots } from './snapshot/jobs.js';
import { crashPoint } from '../shared/crash-point.js';
import { setReady } from '../shared/metrics.js';
import { UnsupportedTypeError, decodesBinary } from './decode/index.js';
import { StreamSession, type CapturedTable } from './stream-session.js';
import type { ChangeLog, ChangeLogClient, ChangeWriter } from './change-log.js';
import type { ChangeEvent } from '../event/change-event.js';

export interface SourceOptions {
  /** Where the changes go (src/kafka/change-log.ts). */
  changeLog: ChangeLog;
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
  /** The tables as the preflight just read them: the first session's prepare() reuses them. */
  private preflightTables: TableInfo[] | undefined;

  /** Runs until `signal` aborts (graceful stop) or a misconfiguration (throws ConfigError). */
  async run(signal: AbortSignal): Promise<void> {
    const { config, log } = this;
    // Before anything is created: a failure retrying cannot fix stops here, leaving nothing behind.
    if (!this.options.preflighted)
      try {
        this.preflightTables = await preflight(config, log, { signal });
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
    const refused = this.options.changeLog.refusal(err); // Kafka: kafka.sasl / kafka.ssl refused
    if (refused) return refused;
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
    // Connects while the Postgres checks run (start-up is mostly round trips).
    const changeLog = this.options.changeLog.connect(log);
    try {
      const { tables, routed, identity } = await this.prepare(changeLog);
      const records = await changeLog.readState();
      const describe = (info: TableInfo[]) =>
        changeLog.describe(describeTables(info, identity, (t) => status.get(t)));
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
      await describe(tables);
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
        progress: { write: (key, value) => changeLog.writeState(key, value) },
        onStatus: async (table, s) => {
          if (status.get(table) === s) return; // published so already (at start)
          status.set(table, s);
          await describe(tables.filter((t) => `${t.schema}.${t.table}` === table));
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
        void this.describeAgain(table, tables, describe);
      };
      await this.streamWithSnapshots(
        snapshotter,
        routed,
        textOnly.length === 0,
        { onResync, onRelation, changeLog },
        partitionStore(records, changeLog),
        signal,
      );
    } finally {
      await changeLog.close();
    }
  }

  /**
   * Streaming and snapshots side by side until `signal` stops them or either fails; with
   * `snapshot: initial_only`, until every table is read, then the slot is dropped.
   */
  private async streamWithSnapshots(
    snapshotter: Snapshotter,
    routed: Map<string, CapturedTable>,
    binary: boolean,
    hooks: StreamHooks,
    partitions: PartitionStore,
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
    // Beside them, as long as they go: what the stream cannot show of partitions. Not awaited:
    // a look in flight ends its connection on the abort, and a stop does not wait for it.
    void watchPartitions(config, log, [...routed.keys()], () => this.connect(), partitions, inner.signal);
    try {
      await Promise.all([
        snapshotter.run(inner.signal).catch(failed),
        this.stream(routed, binary, inner.signal, { ...hooks, windows: snapshotter.windows }).catch(failed),
      ]);
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort(); // the partition watch, whichever way they ended
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

  /** Preflight, publication, and each table's place in the change log. */
  private async prepare(changeLog: ChangeLogClient) {
    const { config, log } = this;
    const client = await this.connect();
    try {
      // At start, the preflight checked the server and read the tables a moment ago (start-up is
      // mostly round trips); a restart checks again.
      let tables = this.preflightTables;
      this.preflightTables = undefined;
      if (!tables) {
        await checkServer(client, config);
        tables = await checkTables(client, config);
      }
      const identity = await readIdentity(client, config.name);
      // preflight() refused topics another pipeline records as its own (src/kafka/owners.ts).
      await changeLog.check(tables); // before creating anything: a log that refuses us leaves nothing behind
      await ensurePublication(client, config, tables, log);
      await changeLog.create(tables, identity);
      const routed = new Map<string, CapturedTable>();
      tables.forEach((t, i) => {
        routed.set(`${t.schema}.${t.table}`, {
          // The key as the catalog gives it (primary key order, or tables[].key): a Relation
          // message flags key columns in column order, and every column under REPLICA IDENTITY
          // FULL, so the stream would otherwise key rows differently from the snapshot.
          table: { ...config.tables[i]!, key: t.key },
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
      crashPoint('slot-creating'); // publication and topics exist; no slot, no snapshot record yet
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
    routed: Map<string, CapturedTable>,
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

  /** One streaming session, with a writer (producers) of its own. */
  private async session(
    routed: Map<string, CapturedTable>,
    binary: boolean,
    signal: AbortSignal,
    { changeLog, ...hooks }: StreamHooks & { windows: ChunkWindows },
  ) {
    const { config, log } = this;
    // After a failed send a writer's producer state is not to be trusted: a new one each session.
    let writer: ChangeWriter | undefined;
    try {
      writer = await changeLog.openWriter();
      const client = await this.connect();
      try {
        await checkSlotUsable(client, config, log, signal);
      } finally {
        await client.end().catch(() => {});
      }
      await new StreamSession({
        config,
        log: log.child({ component: 'stream' }),
        writer,
        decoders: this.options.decoders,
        tables: routed,
        binary,
        onEvent: this.options.onEvent,
        onStreaming: () => this.outages.recovered(),
        quiet: this.outages.active,
        ...hooks,
      }).run(signal);
    } finally {
      await writer?.close();
    }
  }
}

interface StreamHooks {
  onResync: (r: ResyncRequest) => Promise<void>;
  onRelation: (plan: RelationPlan) => void;
  changeLog: ChangeLogClient;
}
