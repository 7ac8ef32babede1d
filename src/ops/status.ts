// `vecrelay status`: per table — slot lag (bytes, and time since the last acknowledged commit),
// consumer lag per partition and in total, rows in Postgres vs points in Qdrant — plus the
// dead-letter count and, given an earlier sample, an estimate of the time to catch up.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { splitTable, type LoadedConfig } from '../config/load.js';
import { quoteTable } from '../source/postgres/connect.js';
import { collectionName } from '../sink/collections.js';
import { changeTopic, deadLetterTopic } from '../kafka/topics.js';
import { sinkGroupId } from '../sink/sink.js';
import { consumerLag, slotLag, type PartitionLag, type SlotLag } from './lag.js';

export interface TableStatus {
  table: string;
  topic: string;
  collection: string;
  rows: number | null;
  points: number | null;
  partitions: Array<{ partition: number; high: string; committed: string; lag: string }>;
  consumerLag: number;
}

export interface StatusReport {
  pipeline: string;
  at: string;
  slot: SlotLag & { name: string };
  groupId: string;
  tables: TableStatus[];
  totalConsumerLag: number;
  deadLetters: number;
  /** Seconds to catch up at the rate seen since the previous report; null without one. */
  etaSeconds: number | null;
}

async function countRows(sql: pg.Client, table: string): Promise<number | null> {
  const { schema, table: name } = splitTable(table);
  try {
    const { rows } = await sql.query<{ n: string }>(
      `SELECT count(*)::bigint::text AS n FROM ${quoteTable(schema, name)}`,
    );
    return Number(rows[0]!.n);
  } catch {
    return null;
  }
}

async function countPoints(config: LoadedConfig, collection: string): Promise<number | null> {
  if (!config.qdrant) return null;
  try {
    const res = await fetch(
      `${config.qdrant.url.replace(/\/+$/, '')}/collections/${encodeURIComponent(collection)}/points/count`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(config.qdrantApiKey ? { 'api-key': config.qdrantApiKey } : {}),
        },
        body: '{"exact":true}',
        signal: AbortSignal.timeout(10_000),
      },
    );
    if (!res.ok) return null;
    return ((await res.json()) as { result: { count: number } }).result.count;
  } catch {
    return null;
  }
}

async function safeLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  try {
    return await consumerLag(admin, groupId, topic);
  } catch {
    return []; // the topic does not exist yet
  }
}

export async function pipelineStatus(
  sql: pg.Client,
  admin: Admin,
  config: LoadedConfig,
  previous?: StatusReport,
): Promise<StatusReport> {
  const groupId = sinkGroupId(config);
  const slot = await slotLag(sql, config.postgres.slot);
  const tables: TableStatus[] = [];
  for (const t of config.tables) {
    const { schema, table } = splitTable(t.table);
    const topic = changeTopic(config.kafka.topicPrefix, schema, table);
    const collection = collectionName(config.qdrant?.collectionPrefix ?? '', t, schema, table);
    const lags = await safeLag(admin, groupId, topic);
    tables.push({
      table: t.table,
      topic,
      collection,
      rows: await countRows(sql, t.table),
      points: await countPoints(config, collection),
      partitions: lags.map((l) => ({
        partition: l.partition,
        high: l.high.toString(),
        committed: l.committed.toString(),
        lag: l.lag.toString(),
      })),
      consumerLag: lags.reduce((n, l) => n + Number(l.lag), 0),
    });
  }
  let deadLetters = 0;
  try {
    const dlq = await admin.fetchTopicOffsets(deadLetterTopic(config.kafka.topicPrefix, config.name));
    deadLetters = dlq.reduce((n, o) => n + Number(BigInt(o.high) - BigInt(o.low)), 0);
  } catch {
    /* no dead-letter topic yet */
  }
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
    slot: { ...slot, name: config.postgres.slot },
    groupId,
    tables,
    totalConsumerLag,
    deadLetters,
    etaSeconds,
  };
}

const fmtBytes = (n: number | null) =>
  n === null
    ? '?'
    : n < 1024
      ? `${n} B`
      : n < 1 << 20
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${(n / (1 << 20)).toFixed(1)} MiB`;

export function renderStatus(r: StatusReport): string {
  const lines = [
    `pipeline ${r.pipeline}  (${r.at})`,
    `slot ${r.slot.name}: ${
      r.slot.exists
        ? `${r.slot.active ? 'active' : 'INACTIVE'}, WAL ${r.slot.walStatus}, lag ${fmtBytes(r.slot.lagBytes)}` +
          (r.slot.lagSeconds === null ? '' : ` (${r.slot.lagSeconds.toFixed(1)} s)`)
        : 'MISSING'
    }`,
    `sink group ${r.groupId}: consumer lag ${r.totalConsumerLag} messages${r.etaSeconds === null ? '' : `, catch-up in ~${Math.ceil(r.etaSeconds)} s`}`,
    `dead letters: ${r.deadLetters}`,
    '',
  ];
  for (const t of r.tables) {
    lines.push(
      `${t.table} → ${t.collection}: rows ${t.rows ?? '?'}  points ${t.points ?? '?'}  lag ${t.consumerLag}`,
    );
    for (const p of t.partitions)
      lines.push(
        `    ${t.topic}[${p.partition}] end ${p.high}  committed ${p.committed === '-1' ? '-' : p.committed}  lag ${p.lag}`,
      );
  }
  return lines.join('\n');
}
