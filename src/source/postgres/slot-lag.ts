// How far the slot is behind the server, in bytes and in time; read by the source for its
// metrics and by `status` and `cutover`.
import type pg from 'pg';

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
