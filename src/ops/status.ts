// `vecrelay status`: per table — slot lag (bytes, and time since the last acknowledged commit),
// consumer lag per partition and in total, rows in Postgres vs points in Qdrant, its snapshot
// (done, running and how far, none yet: status-snapshots.ts) — plus the dead-letter count and,
// given an earlier sample, an estimate of the time to catch up.
//
// It answers within seconds whatever the state of the pipeline: every call is bounded
// (connect.ts), a topic is asked about only once the broker listed it (kafkajs retries a missing
// one for minutes), and what is missing or stopped is one line each in `problems`. A system that
// does not answer is one line in `unreachable`, and the rest of the report is still made.
import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { splitTable, type LoadedConfig } from '../config/load.js';
import { quoteTable } from '../source/postgres/connect.js';
import { qdrantTlsProblem } from '../sink/qdrant/tls-errors.js';
import { changeTopic, collectionName, deadLetterTopic, sinkGroupId, stateTopic } from '../event/names.js';
import type { Logger } from '../shared/log.js';
import { messageOf } from '../shared/errors.js';
import {
  OPS_CALL_TIMEOUT_MS,
  Unreachable,
  bounded,
  connectKafkaClient,
  connectPostgres,
  kafkaWhere,
  postgresWhere,
} from './connect.js';
import { consumerLag, slotLag, type SlotLag } from './lag.js';
import { SnapshotStates } from './cutover-snapshots.js';
import { describeSnapshot, tableSnapshot, type TableSnapshot } from './status-snapshots.js';

/**
 * Bound of one read of the state topic: a throwaway consumer group joins and reads it (several
 * calls), so twice a single call's bound. It is read again only when its offsets moved.
 */
const STATE_READ_TIMEOUT_MS = 2 * OPS_CALL_TIMEOUT_MS;

export interface TableStatus {
  table: string;
  topic: string;
  collection: string;
  /** Rows in the table; null when unknown (no such table, Postgres unreachable, count timed out). */
  rows: number | null;
  /** null: not known (the system did not answer). */
  tableExists: boolean | null;
  topicExists: boolean | null;
  collectionExists: boolean | null;
  points: number | null;
  partitions: Array<{ partition: number; high: string; committed: string; lag: string }>;
  consumerLag: number;
  /** Its snapshot as the state topic records it; null when Kafka did not answer. */
  snapshot: TableSnapshot | null;
  /** Its newest `vecrelay resync` request, running or done; absent when it had none (or unknown). */
  resync?: TableSnapshot;
}

export interface StatusReport {
  pipeline: string;
  at: string;
  slotName: string;
  /** null when Postgres did not answer. */
  slot: (SlotLag & { name: string }) | null;
  groupId: string;
  /** Members of the sink's consumer group (running sinks); null when Kafka did not answer. */
  sinkMembers: number | null;
  /** config snapshot.mode (initial, never, initial_only). */
  snapshotMode: string;
  tables: TableStatus[];
  totalConsumerLag: number;
  deadLetters: number | null;
  /** Seconds to catch up at the rate seen since the previous report; null without one. */
  etaSeconds: number | null;
  /** What keeps the pipeline from running: missing or stopped parts, one line each. */
  problems: string[];
  /** Systems that did not answer (and their config fields), one line each. */
  unreachable: string[];
  /** Created, and source and sink running. */
  running: boolean;
}

/** 0 running; 1 not running or not created (problems say what); 2 a system did not answer. */
export function statusExitCode(report: StatusReport): number {
  if (report.unreachable.length) return 2;
  return report.running ? 0 : 1;
}

/** Rows of a table; exists false when there is no such table. */
async function countRows(sql: pg.Client, table: string): Promise<{ exists: boolean; rows: number | null }> {
  const { schema, table: name } = splitTable(table);
  try {
    const { rows } = await sql.query<{ n: string }>(
      `SELECT count(*)::bigint::text AS n FROM ${quoteTable(schema, name)}`,
    );
    return { exists: true, rows: Number(rows[0]!.n) };
  } catch (err) {
    // 42P01 undefined_table, 3F000 invalid_schema_name; anything else (a timeout): exists, count unknown.
    const code = (err as { code?: string }).code;
    return { exists: !(code === '42P01' || code === '3F000'), rows: null };
  }
}

/** Points in a collection: exists false on 404; throws Unreachable when Qdrant does not answer. */
async function countPoints(
  config: LoadedConfig,
  url: string,
  collection: string,
): Promise<{ exists: boolean; points: number | null }> {
  const where = `Qdrant at ${url} (qdrant.url)`;
  let res: Response;
  try {
    res = await fetch(
      `${url.replace(/\/+$/, '')}/collections/${encodeURIComponent(collection)}/points/count`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(config.qdrantApiKey ? { 'api-key': config.qdrantApiKey } : {}),
        },
        body: '{"exact":true}',
        signal: AbortSignal.timeout(OPS_CALL_TIMEOUT_MS),
      },
    );
  } catch (err) {
    const tls = qdrantTlsProblem(err, { url, caFile: config.qdrant?.caFile });
    if (tls) throw new Unreachable(`${tls.message}: ${tls.fix}`);
    const cause = (err as { cause?: unknown }).cause;
    throw new Unreachable(
      (err as Error).name === 'TimeoutError'
        ? `${where}: no answer within ${OPS_CALL_TIMEOUT_MS / 1000} s`
        : `${where}: ${messageOf(cause ?? err)}`,
    );
  }
  if (res.status === 404) return { exists: false, points: null };
  if (res.status === 401 || res.status === 403)
    throw new Unreachable(`${where}: refused the API key (HTTP ${res.status}): check qdrant.apiKeyEnv`);
  if (!res.ok) return { exists: true, points: null };
  return { exists: true, points: ((await res.json()) as { result: { count: number } }).result.count };
}

/** The clients of one `status` (or each refresh of --watch); a client that failed is opened again. */
export class StatusProbe {
  private sql: pg.Client | undefined;
  private admin: Admin | undefined;
  private kafka: Kafka | undefined;
  /** Kept across the reports of --watch: the state topic is read again only when it changed. */
  private states: SnapshotStates | undefined;

  constructor(
    private readonly config: LoadedConfig,
    private readonly log: Logger,
  ) {}

  async report(previous?: StatusReport): Promise<StatusReport> {
    const { config } = this;
    const unreachable: string[] = [];
    const problems: string[] = [];
    const groupId = sinkGroupId(config);
    const tables: TableStatus[] = config.tables.map((t) => {
      const { schema, table } = splitTable(t.table);
      return {
        table: t.table,
        topic: changeTopic(config.kafka.topicPrefix, schema, table),
        collection: collectionName(config.qdrant?.collectionPrefix ?? '', t, schema, table),
        rows: null,
        tableExists: null,
        topicExists: null,
        collectionExists: null,
        points: null,
        partitions: [],
        consumerLag: 0,
        snapshot: null,
      };
    });
    const fail = (err: unknown) => {
      if (!(err instanceof Unreachable)) throw err;
      unreachable.push(err.message);
    };

    // Postgres: the slot and the row counts.
    let slot: StatusReport['slot'] = null;
    try {
      this.sql ??= await connectPostgres(config, this.log);
      const sql = this.sql;
      slot = {
        ...(await bounded(postgresWhere(config), slotLag(sql, config.postgres.slot))),
        name: config.postgres.slot,
      };
      for (const t of tables) {
        const { exists, rows } = await countRows(sql, t.table);
        t.tableExists = exists;
        t.rows = rows;
      }
    } catch (err) {
      await this.closePostgres();
      fail(err);
    }

    // Kafka: which topics exist, the lag of the sink group on those, its members, dead letters.
    let sinkMembers: number | null = null;
    let deadLetters: number | null = null;
    try {
      if (!this.admin)
        ({ kafka: this.kafka, admin: this.admin } = await connectKafkaClient(config, this.log));
      const admin = this.admin;
      const where = kafkaWhere(config);
      const existing = new Set(await bounded(where, admin.listTopics()));
      for (const t of tables) {
        t.topicExists = existing.has(t.topic);
        if (!t.topicExists) continue;
        const lags = await bounded(where, consumerLag(admin, groupId, t.topic));
        t.partitions = lags.map((l) => ({
          partition: l.partition,
          high: l.high.toString(),
          committed: l.committed.toString(),
          lag: l.lag.toString(),
        }));
        t.consumerLag = lags.reduce((n, l) => n + Number(l.lag), 0);
      }
      const { groups } = await bounded(where, admin.describeGroups([groupId]));
      sinkMembers = groups[0]?.members.length ?? 0;
      const dlq = deadLetterTopic(config.kafka.topicPrefix, config.name);
      deadLetters = 0;
      if (existing.has(dlq)) {
        const offsets = await bounded(where, admin.fetchTopicOffsets(dlq));
        deadLetters = offsets.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
      }
      // Last: the one read that joins a consumer group. No state topic: no snapshot yet.
      this.states ??= new SnapshotStates(
        this.kafka!,
        admin,
        stateTopic(config.kafka.topicPrefix, config.name),
        { where, timeoutMs: STATE_READ_TIMEOUT_MS },
      );
      await this.states.refresh();
      for (const t of tables) {
        const { schema, table } = splitTable(t.table);
        t.snapshot = tableSnapshot(this.states.of(schema, table), t.rows);
        const resync = this.states.latestResync(schema, table);
        if (resync) t.resync = tableSnapshot({ own: resync, legacy: undefined }, t.rows);
      }
    } catch (err) {
      await this.closeKafka();
      fail(err);
    }

    // Qdrant: the points of each collection.
    if (config.qdrant) {
      try {
        for (const t of tables) {
          const { exists, points } = await countPoints(config, config.qdrant.url, t.collection);
          t.collectionExists = exists;
          t.points = points;
        }
      } catch (err) {
        fail(err);
      }
    }

    // What keeps it from running, in the order a person would fix it.
    if (slot && !slot.exists)
      problems.push(
        `replication slot ${slot.name} does not exist: the pipeline is not created (vecrelay run or source creates it)`,
      );
    else if (slot && !slot.active)
      problems.push(`replication slot ${slot.name} is not in use: the source is not running`);
    if (slot?.walStatus === 'lost')
      problems.push(
        `replication slot ${slot.name} lost WAL it needed: run vecrelay teardown, then start again (a new snapshot)`,
      );
    for (const t of tables) {
      if (t.tableExists === false) problems.push(`table ${t.table} does not exist in the database`);
      if (t.topicExists === false)
        problems.push(`topic ${t.topic} does not exist: the source creates it when it starts`);
      if (t.collectionExists === false)
        problems.push(
          `collection ${t.collection} does not exist in Qdrant: the sink creates it when it starts`,
        );
    }
    if (config.qdrant && sinkMembers === 0)
      problems.push(`sink group ${groupId} has no members: the sink is not running`);

    const totalConsumerLag = tables.reduce((n, t) => n + t.consumerLag, 0);
    const at = new Date();
    let etaSeconds: number | null = null;
    if (previous) {
      const seconds = (at.getTime() - Date.parse(previous.at)) / 1000;
      const drained = previous.totalConsumerLag - totalConsumerLag;
      if (totalConsumerLag === 0) etaSeconds = 0;
      else if (drained > 0 && seconds > 0) etaSeconds = totalConsumerLag / (drained / seconds);
    }
    return {
      pipeline: config.name,
      at: at.toISOString(),
      slotName: config.postgres.slot,
      slot,
      snapshotMode: config.snapshot.mode,
      groupId,
      sinkMembers,
      tables,
      totalConsumerLag,
      deadLetters,
      etaSeconds,
      problems,
      unreachable,
      running: problems.length === 0 && unreachable.length === 0,
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.closePostgres(), this.closeKafka()]);
  }

  private async closePostgres() {
    const sql = this.sql;
    this.sql = undefined;
    if (sql) await Promise.race([sql.end().catch(() => {}), pause(2000)]);
  }

  private async closeKafka() {
    const admin = this.admin;
    this.admin = undefined;
    this.kafka = undefined;
    this.states = undefined;
    if (admin) await Promise.race([admin.disconnect().catch(() => {}), pause(2000)]);
  }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

const fmtBytes = (n: number | null) =>
  n === null
    ? '?'
    : n < 1024
      ? `${n} B`
      : n < 1 << 20
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${(n / (1 << 20)).toFixed(1)} MiB`;

const known = <T>(v: T | null, missing: boolean | null) => (missing === false ? 'MISSING' : (v ?? '?'));

export function renderStatus(r: StatusReport): string {
  const slot = r.slot;
  const lines = [
    `pipeline ${r.pipeline}  (${r.at})`,
    `slot ${r.slotName}: ${
      !slot
        ? '?'
        : slot.exists
          ? `${slot.active ? 'active' : 'INACTIVE'}, WAL ${slot.walStatus}, lag ${fmtBytes(slot.lagBytes)}` +
            (slot.lagSeconds === null ? '' : ` (${slot.lagSeconds.toFixed(1)} s)`)
          : 'MISSING'
    }`,
    `sink group ${r.groupId}: ${r.sinkMembers === null ? '?' : `${r.sinkMembers} member${r.sinkMembers === 1 ? '' : 's'}`}, ` +
      `consumer lag ${r.totalConsumerLag} messages${r.etaSeconds === null ? '' : `, catch-up in ~${Math.ceil(r.etaSeconds)} s`}`,
    `dead letters: ${r.deadLetters ?? '?'}`,
    '',
  ];
  for (const t of r.tables) {
    lines.push(
      `${t.table} → ${t.collection}: rows ${known(t.rows, t.tableExists)}  points ${known(t.points, t.collectionExists)}  lag ${t.consumerLag}`,
      `    ${describeSnapshot(t.snapshot, r.snapshotMode)}`,
    );
    if (t.resync) lines.push(`    ${describeSnapshot(t.resync, r.snapshotMode)}`);
    if (t.topicExists === false) lines.push(`    ${t.topic}: MISSING`);
    for (const p of t.partitions)
      lines.push(
        `    ${t.topic}[${p.partition}] end ${p.high}  committed ${p.committed === '-1' ? '-' : p.committed}  lag ${p.lag}`,
      );
  }
  lines.push('');
  if (r.unreachable.length) lines.push('NOT ANSWERING:', ...r.unreachable.map((u) => `  ${u}`));
  if (r.problems.length) lines.push('NOT RUNNING:', ...r.problems.map((p) => `  ${p}`));
  if (r.running) lines.push('running');
  return lines.join('\n');
}
