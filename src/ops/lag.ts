// Where a pipeline stands, read from the outside: the slot in Postgres, the change topics and
// the sink group's committed offsets in Kafka. Used by `status` and `cutover`.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { parseLsn } from '../source/pgoutput/index.js';

export interface SlotLag {
  exists: boolean;
  active: boolean;
  walStatus: string | null;
  confirmedFlushLsn: string | null;
  /** Bytes of WAL written since the slot's confirmed position. */
  lagBytes: number | null;
  /**
   * The same lag as time: how long ago the WAL the source last confirmed was flushed
   * (pg_stat_replication.flush_lag; Postgres reports null once the client has caught up).
   */
  lagSeconds: number | null;
}

export async function slotLag(sql: pg.Client, slot: string): Promise<SlotLag> {
  const { rows } = await sql.query<{
    active: boolean;
    wal_status: string | null;
    confirmed: string | null;
    lag: string | null;
    lag_seconds: number | null;
  }>(
    `SELECT s.active, s.wal_status, s.confirmed_flush_lsn::text AS confirmed,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag,
            extract(epoch FROM r.flush_lag)::float8 AS lag_seconds
       FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
      WHERE s.slot_name = $1`,
    [slot],
  );
  const r = rows[0];
  if (!r)
    return {
      exists: false,
      active: false,
      walStatus: null,
      confirmedFlushLsn: null,
      lagBytes: null,
      lagSeconds: null,
    };
  const lagBytes = r.lag === null ? null : Math.max(0, Number(r.lag));
  return {
    exists: true,
    active: r.active,
    walStatus: r.wal_status,
    confirmedFlushLsn: r.confirmed,
    lagBytes,
    // Caught up (no flush lag reported while streaming): zero seconds behind.
    lagSeconds: r.lag_seconds ?? (r.active ? 0 : null),
  };
}

export async function currentWalLsn(sql: pg.Client): Promise<bigint> {
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}

export interface PartitionLag {
  partition: number;
  /** Next offset to be written (the high watermark). */
  high: bigint;
  /** Next offset the group will read; -1 when it committed nothing yet. */
  committed: bigint;
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
    return { partition, high, committed: c, lag: high > from ? high - from : 0n };
  });
}
