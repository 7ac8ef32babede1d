// Where a pipeline stands, read from the outside: the slot in Postgres, the change topics and
// the sink group's committed offsets in Kafka. Used by `status` and `cutover`.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { parseLsn } from '../event/lsn.js';

export { slotLag, type SlotLag } from '../source/postgres/slot-lag.js';

/** The WAL write position: how far the server has written (status: slot lag in bytes). */
export async function currentWalLsn(sql: pg.Client): Promise<bigint> {
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}

/**
 * The WAL insert position: the end of everything inserted into WAL so far, written or not.
 * Cutover's target (cutover.ts): with synchronous_commit = off a commit returns to its client
 * once its record is inserted, before the WAL writer has written it, so a transaction that has
 * returned may lie beyond the write position (pg_current_wal_lsn) — never beyond this one.
 */
export async function currentWalInsertLsn(sql: pg.Client): Promise<bigint> {
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}

export interface PartitionLag {
  partition: number;
  /** Next offset to be written (the high watermark). */
  high: bigint;
  /** Next offset the group will read; -1 when it committed nothing yet. */
  committed: bigint;
  /** Where the group reads next: `committed`, or the partition's start when nothing is committed. */
  next: bigint;
  lag: bigint;
}

export async function topicEnds(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [ends, low, committed] = await Promise.all([
    topicEnds(admin, topic),
    admin.fetchTopicOffsets(topic).then((o) => new Map(o.map((x) => [x.partition, BigInt(x.low)]))),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  return [...ends].map(([partition, high]) => {
    const c = byPartition.get(partition) ?? -1n;
    // Nothing committed: the group will start at the beginning (what compaction left).
    const from = c < 0n ? (low.get(partition) ?? 0n) : c;
    return { partition, high, committed: c, next: from, lag: high > from ? high - from : 0n };
  });
}
