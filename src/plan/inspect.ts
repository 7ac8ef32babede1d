// Catalog reads only `plan` needs (the source's own checks live in src/source/postgres and are
// reused from there): pgvector's version, every table with a pgvector column, sizes, NULL counts,
// and whether the role could create the publication. Read-only; nothing is created.
import type pg from 'pg';
import { PGVECTOR_TYPES } from '../source/postgres/catalog.js';
import { quoteIdent, quoteTable } from '../source/postgres/connect.js';

export async function readPgvector(
  client: pg.Client,
): Promise<{ installed: string | null; available: string | null }> {
  const { rows } = await client.query<{ installed: string | null; available: string | null }>(
    `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS installed,
            (SELECT default_version FROM pg_available_extensions WHERE name = 'vector') AS available`,
  );
  return rows[0] ?? { installed: null, available: null };
}

export interface DiscoveredTable {
  schema: string;
  table: string;
  oid: number;
  /** "column type" of each pgvector column, e.g. "embedding vector(1536)". */
  vectorColumns: string[];
}

/** Every ordinary or partitioned (root) table with a vector, halfvec or sparsevec column. */
export async function discoverVectorTables(client: pg.Client): Promise<DiscoveredTable[]> {
  const { rows } = await client.query<DiscoveredTable>(
    `SELECT n.nspname AS schema, c.relname AS table, c.oid::int AS oid,
            array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
              AS "vectorColumns"
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND t.typname = ANY($1)
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%'
      GROUP BY n.nspname, c.relname, c.oid
      ORDER BY n.nspname, c.relname`,
    [PGVECTOR_TYPES],
  );
  return rows;
}

export interface TableStats {
  /** pg_class.reltuples; null when the table was never vacuumed or analyzed. */
  reltuples: number | null;
  /** Heap only: what a NULL count would scan. */
  heapBytes: number;
  /** Heap, TOAST and indexes. */
  totalBytes: number;
  /** format_type with the modifier, per column: vector(8). */
  types: Map<string, string>;
}

export async function readTableStats(client: pg.Client, oid: number): Promise<TableStats> {
  const { rows } = await client.query<{ reltuples: number; heap: string; total: string }>(
    `SELECT reltuples, pg_relation_size(oid)::text AS heap, pg_total_relation_size(oid)::text AS total
       FROM pg_class WHERE oid = $1`,
    [oid],
  );
  const cols = await client.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type
       FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`,
    [oid],
  );
  const r = rows[0];
  return {
    reltuples: r && r.reltuples >= 0 ? Math.round(r.reltuples) : null,
    heapBytes: Number(r?.heap ?? 0),
    totalBytes: Number(r?.total ?? 0),
    types: new Map(cols.rows.map((c) => [c.name, c.type])),
  };
}

/** Tables whose heap is at most this big are counted exactly; bigger ones use pg_stats. */
export const EXACT_COUNT_MAX_BYTES = 256 * 1024 * 1024;

export interface NullCounts {
  /** Exact row count when the table was scanned. */
  rows: number | null;
  exact: boolean;
  nulls: Map<string, number | null>;
}

/**
 * NULLs per column: counted exactly for tables up to EXACT_COUNT_MAX_BYTES, else estimated from
 * pg_stats.null_frac (unknown when the table was never analyzed).
 */
export async function countNulls(
  client: pg.Client,
  schema: string,
  table: string,
  columns: string[],
  stats: TableStats,
): Promise<NullCounts> {
  if (stats.heapBytes <= EXACT_COUNT_MAX_BYTES) {
    try {
      const list = columns.map((c, i) => `count(*) FILTER (WHERE ${quoteIdent(c)} IS NULL)::text AS n${i}`);
      const { rows } = await client.query<Record<string, string>>(
        `SELECT ${['count(*)::text AS rows', ...list].join(', ')} FROM ${quoteTable(schema, table)}`,
      );
      const r = rows[0]!;
      return {
        rows: Number(r.rows),
        exact: true,
        nulls: new Map(columns.map((c, i) => [c, Number(r[`n${i}`])])),
      };
    } catch {
      // statement_timeout or a table dropped meanwhile: fall back to the statistics.
    }
  }
  const { rows } = await client.query<{ column: string; null_frac: number }>(
    `SELECT attname AS column, null_frac FROM pg_stats
      WHERE schemaname = $1 AND tablename = $2 AND attname = ANY($3)`,
    [schema, table, columns],
  );
  const frac = new Map(rows.map((r) => [r.column, r.null_frac]));
  return {
    rows: null,
    exact: false,
    nulls: new Map(
      columns.map((c) => {
        const f = frac.get(c);
        return [c, f === undefined || stats.reltuples === null ? null : Math.round(f * stats.reltuples)];
      }),
    ),
  };
}

/**
 * Columns of a unique index whose columns are all NOT NULL (no expressions, no predicate): a key
 * for a table without a primary key under REPLICA IDENTITY FULL.
 */
export async function uniqueNotNullKey(client: pg.Client, oid: number): Promise<string[] | undefined> {
  const { rows } = await client.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid
     HAVING bool_and(a.attnotnull)
      ORDER BY count(*), i.indexrelid
      LIMIT 1`,
    [oid],
  );
  return rows[0]?.columns;
}

/** What creating `FOR TABLE` publication needs: CREATE on the database and owning every table. */
export async function publicationPrivileges(
  client: pg.Client,
  oids: number[],
): Promise<{ createOnDatabase: boolean; notOwned: string[] }> {
  const db = await client.query<{ ok: boolean }>(
    `SELECT has_database_privilege(current_database(), 'CREATE') AS ok`,
  );
  const owned = await client.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1) AND NOT pg_has_role(c.relowner, 'USAGE')
      ORDER BY 1`,
    [oids],
  );
  return { createOnDatabase: db.rows[0]?.ok ?? false, notOwned: owned.rows.map((r) => r.name) };
}
