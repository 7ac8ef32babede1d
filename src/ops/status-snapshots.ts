// Each table's snapshot as `status` shows it: what the source last recorded in the state topic
// (src/event/snapshot-state.ts, read by cutover-snapshots.ts), with the rate since the snapshot
// started and, given the table's row count, how far it has to go.
import type { SnapshotReason } from '../event/snapshot-state.js';
import type { SnapshotRecords } from './cutover-snapshots.js';

export interface TableSnapshot {
  /** none: no record of this table, and the pipeline-wide (legacy) record does not say done. */
  status: 'done' | 'running' | 'none';
  /** Why the table was (or is being) read; null with status none. */
  reason: SnapshotReason | null;
  /** Rows and chunks read so far; null when unknown (a legacy record, status none). */
  rows: number | null;
  chunks: number | null;
  /** Rows the table holds now (a running snapshot of the whole table reads about that many). */
  estimatedRows?: number;
  /** `vecrelay resync --where`: the condition the rows read match. */
  where?: string;
  /** Why a resync ended without reading (its --where failed). */
  error?: string;
  startedAt?: string;
  updatedAt?: string;
  /** Rows per second from its start to its last recorded chunk. */
  rowsPerSecond?: number;
  /** Seconds left at that rate (running, with an estimate). */
  etaSeconds?: number;
  /** Done according to the record pipelines kept before per-table progress (no figures). */
  legacy?: boolean;
}

/**
 * A table's snapshot from its records. `tableRows` is the table's row count (null: unknown); it
 * is the estimate of a running snapshot that reads the whole table.
 */
export function tableSnapshot({ own, legacy }: SnapshotRecords, tableRows: number | null): TableSnapshot {
  if (!isRecord(own)) {
    if (legacy?.status === 'done')
      return { status: 'done', reason: 'initial', rows: null, chunks: null, legacy: true };
    return { status: 'none', reason: null, rows: null, chunks: null };
  }
  const out: TableSnapshot = {
    status: own.status === 'done' ? 'done' : 'running',
    reason: own.reason,
    rows: own.rows,
    chunks: typeof own.chunks === 'number' ? own.chunks : null,
    ...(own.where ? { where: own.where } : {}),
    ...(own.error ? { error: own.error } : {}),
    ...(own.startedAt ? { startedAt: own.startedAt } : {}),
    ...(own.updatedAt ? { updatedAt: own.updatedAt } : {}),
  };
  const seconds = (Date.parse(own.updatedAt) - Date.parse(own.startedAt)) / 1000;
  if (own.rows > 0 && seconds > 0) out.rowsPerSecond = Math.round(own.rows / seconds);
  if (out.status === 'running' && !own.where && tableRows !== null) {
    out.estimatedRows = tableRows;
    if (out.rowsPerSecond && tableRows > own.rows)
      out.etaSeconds = Math.ceil((tableRows - own.rows) / out.rowsPerSecond);
  }
  return out;
}

/** A record of ours: anything else (a value that is not one) counts as no record. */
function isRecord(own: unknown): own is NonNullable<SnapshotRecords['own']> {
  const r = own as { status?: unknown; rows?: unknown } | undefined;
  return typeof r === 'object' && r !== null && typeof r.status === 'string' && typeof r.rows === 'number';
}

const n = (v: number) => v.toLocaleString('en-US');
const plural = (v: number, one: string) => `${n(v)} ${one}${v === 1 ? '' : 's'}`;

/**
 * One phrase: "snapshot done (12,000 rows, 3 chunks)", "snapshot running: 4,000 of ~12,000
 * rows, 1 chunk, 800 rows/s, ~10 s left", "resync running where id < 100: 40 rows, 1 chunk",
 * "no snapshot yet". null: not known (Kafka did not answer).
 */
export function describeSnapshot(s: TableSnapshot | null, mode: string): string {
  if (!s) return 'snapshot ?';
  if (s.status === 'none') return mode === 'never' ? 'no snapshot (snapshot.mode never)' : 'no snapshot yet';
  const kind = s.reason === 'resync' ? 'resync' : 'snapshot';
  const where = s.where ? ` where ${s.where}` : '';
  if (s.legacy) return `${kind} done`;
  if (s.error) return `${kind} failed${where}: ${s.error}`;
  const rows = s.rows ?? 0;
  const chunks = s.chunks === null ? '' : `, ${plural(s.chunks, 'chunk')}`;
  if (s.status === 'done') return `${kind} done${where} (${plural(rows, 'row')}${chunks})`;
  const of =
    s.estimatedRows === undefined ? plural(rows, 'row') : `${n(rows)} of ~${plural(s.estimatedRows, 'row')}`;
  const rate = s.rowsPerSecond ? `, ${n(s.rowsPerSecond)} rows/s` : '';
  const eta = s.etaSeconds ? `, ~${n(s.etaSeconds)} s left` : '';
  const added = s.reason === 'added' ? ' (table added)' : '';
  return `${kind} running${where}${added}: ${of}${chunks}${rate}${eta}`;
}
