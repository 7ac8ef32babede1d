// Each table's snapshot progress, as the source records it in the pipeline's state topic
// (`<prefix>._state.<pipeline>`, src/kafka/state-store.ts) and as `cutover` and `status` read it.
//
// Key `snapshot:<schema>.<table>` (names as Postgres spells them) for a table's own snapshot —
// at the first start, or once added to the config — and `resync:<request id>` for each
// `vecrelay resync` (several may wait for one table). The source writes a record
// before a table's first chunk ("running", after = null), after every chunk Kafka acknowledged
// ("running", after = that chunk's last key), and once the last chunk is acknowledged ("done").
// A restart resumes after `after`; a table with no record has never been snapshotted.
//
// Key `partitions:<schema>.<table>` holds the leaf partitions the source last saw of a captured
// partitioned table ({table, partitions, updatedAt}), so a partition attached or dropped while
// no source ran is acted on at the next start (src/source/postgres/partition-watch.ts).
//
// Pipelines from before chunked snapshots kept one record under the key `snapshot` for every table
// ({status: 'pending' | 'done'}): a "done" there counts as done for each table with no record of
// its own.

export const LEGACY_SNAPSHOT_KEY = 'snapshot';

export type SnapshotStatus = 'running' | 'done';

/** Why a table is (re)read: first start, a table added to the config, or `vecrelay resync`. */
export type SnapshotReason = 'initial' | 'added' | 'resync';

export interface TableSnapshotState {
  /** "schema.table". */
  table: string;
  status: SnapshotStatus;
  reason: SnapshotReason;
  /** The last key read (text form of each key column, in key order); null before the first chunk. */
  after: string[] | null;
  /** `vecrelay resync --where`: only rows matching this SQL condition are read. */
  where: string | null;
  /**
   * A table with many rows is read in snapshot.parallelism key ranges at once: range i holds
   * keys in (after, upTo] (no bound: open), each with its own position.
   */
  segments?: Array<{ after: string[] | null; upTo: string[] | null; done: boolean }>;
  /** `verify --repair`: only these keys (text form of each key column); a key with no row is deleted. */
  keys?: string[][];
  rows: number;
  chunks: number;
  startedAt: string;
  updatedAt: string;
  /** The resync request this run serves (its id), so a replayed request is not run twice. */
  request?: string;
  /** Why a resync ended without reading (its --where failed, say). */
  error?: string;
}

export function snapshotStateKey(schema: string, table: string): string {
  return `snapshot:${schema}.${table}`;
}

/** Every resync request's record key starts so. */
export const RESYNC_KEY_PREFIX = 'resync:';

export function resyncStateKey(request: string): string {
  return `${RESYNC_KEY_PREFIX}${request}`;
}

export function partitionsStateKey(table: string): string {
  return `partitions:${table}`;
}

/** The leaf partitions of a partitioned table, as the source last saw them. */
export interface PartitionsState {
  /** "schema.table". */
  table: string;
  /** Schema-qualified, quoted where needed. */
  partitions: string[];
  updatedAt: string;
}

/** Whether a table's snapshot is complete, given its own record and the legacy one. */
export function snapshotComplete(
  own: TableSnapshotState | undefined,
  legacy: { status?: string } | undefined,
): boolean {
  if (own) return own.status === 'done';
  return legacy?.status === 'done';
}
