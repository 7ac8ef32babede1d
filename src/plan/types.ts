// The shape of a `vecrelay plan` report: what `--json` prints and what the human rendering reads.
import type { ServerState } from '../source/postgres/preflight.js';

/** ok: fine; info: worth knowing; warn: works, but look; blocker: the pipeline cannot start. */
export type Level = 'ok' | 'info' | 'warn' | 'blocker';

export interface Check {
  level: Level;
  /** What it is about: a setting (wal_level), a role, a slot, a table or table.column. */
  object: string;
  message: string;
  /** What to do; empty when there is nothing to do. */
  fix: string;
}

export type Distance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';

/** The server as the source's preflight sees it (ServerState), plus what only the report shows. */
export interface ServerReport extends Omit<ServerState, 'where' | 'role'> {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Installed pgvector version in this database; null when it is not installed. */
  pgvector: string | null;
  superuser: boolean;
  replication: boolean;
}

export interface IndexReport {
  name: string;
  column: string;
  method: string;
  opclass: string;
  distance: Distance | null;
  hnsw: { m: number; efConstruction: number } | null;
}

export interface VectorReport {
  column: string;
  /** As declared: vector(1536), halfvec, sparsevec(30000), real[]... */
  type: string;
  kind: string;
  dimension: number | null;
  /** Rows where the column is NULL; null when unknown (no SELECT, or too big to count). */
  nulls: number | null;
  /** False when `nulls` is estimated from pg_stats. */
  nullsExact: boolean;
  /** The distance the collection gets: from tables[].distance, the index, or Cosine by default. */
  distance: Distance;
  distanceFrom: 'config' | 'index' | 'default';
  /** The index the distance comes from. */
  index: string | null;
}

export interface TableReport {
  /** schema.table */
  table: string;
  /** From pg_class.reltuples, or an exact count when the table was never analyzed. */
  rowEstimate: number | null;
  /** pg_total_relation_size: heap, TOAST and indexes. */
  sizeBytes: number | null;
  primaryKey: string[];
  /** What the pipeline keys rows by (tables[].key or the primary key). */
  key: string[];
  replicaIdentity: string;
  canSelect: boolean;
  vectors: VectorReport[];
  indexes: IndexReport[];
}

export interface PlanReport {
  /** user@host:port/database — never a password. */
  target: string;
  server: ServerReport;
  checks: Check[];
  tables: TableReport[];
  /** The generated pipeline config (YAML). */
  config: string;
  /** A suggested file name under connectors/. */
  configFile: string;
  summary: { blockers: number; warnings: number };
}
