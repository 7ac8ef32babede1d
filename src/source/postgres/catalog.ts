// What the source needs to know about each captured table, read from the catalog once at start:
// columns with their types and dimensions, the key, the replica identity, which columns are
// vectors, and (for the sink's collections) the distance and HNSW parameters of vector indexes.
import type pg from 'pg';
import { ProblemError } from '../../shared/problems.js';
import { splitTable } from '../../config/load.js';
import type { TableConfig } from '../../config/schema.js';

export interface ColumnInfo {
  name: string;
  typeOid: number;
  /** Type name as format_type prints it without modifier: 'vector', 'integer', 'real[]'... */
  typeName: string;
  /** Base type name of the column (the `typname`): 'vector', 'int4', '_float4'... */
  udtName: string;
  typeMod: number;
  notNull: boolean;
}

export type VectorKind = 'vector' | 'halfvec' | 'sparsevec' | 'float4[]' | 'float8[]';

export interface VectorColumnInfo {
  name: string;
  kind: VectorKind;
  /** Dimension from the typmod (vector(1536) → 1536); null when the column has none. */
  dimension: number | null;
  /** Qdrant distance implied by a pgvector index on the column, if there is one. */
  distance: 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan' | null;
  hnsw: { m: number; efConstruction: number } | null;
}

export interface TableInfo {
  schema: string;
  table: string;
  oid: number;
  columns: ColumnInfo[];
  key: string[];
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /**
   * The table's unique indexes: the primary key, the REPLICA IDENTITY USING INDEX one, and the
   * candidates for it — what the key check (preflight.ts tableKeyProblem) and its fix look at.
   */
  uniqueIndexes: UniqueIndexInfo[];
  vectors: VectorColumnInfo[];
  payload: string[];
  estimatedRows: number;
}

const VECTOR_UDTS: Record<string, VectorKind> = {
  vector: 'vector',
  halfvec: 'halfvec',
  sparsevec: 'sparsevec',
  _float4: 'float4[]',
  _float8: 'float8[]',
};

/** The pgvector types a table is discovered by (and whose columns are vectors by default). */
export const PGVECTOR_TYPES = ['vector', 'halfvec', 'sparsevec'];

const OPCLASS_DISTANCE: Record<string, VectorColumnInfo['distance']> = {
  l2_ops: 'Euclid',
  ip_ops: 'Dot',
  cosine_ops: 'Cosine',
  l1_ops: 'Manhattan',
};

const IDENTITY: Record<string, TableInfo['replicaIdentity']> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

/** A unique index, as REPLICA IDENTITY USING INDEX sees it. */
export interface UniqueIndexInfo {
  name: string;
  /** Key columns in index order; empty for an expression index. */
  columns: string[];
  primary: boolean;
  /** The index REPLICA IDENTITY USING INDEX names (pg_index.indisreplident). */
  replicaIdentity: boolean;
  /**
   * Whether ALTER TABLE … REPLICA IDENTITY USING INDEX accepts it: not partial, no expression,
   * not deferrable, valid, every column NOT NULL.
   */
  usableAsIdentity: boolean;
}

/** Every unique index of the table, the primary key first, then oldest first. */
export async function listUniqueIndexes(client: pg.Client, relOid: number): Promise<UniqueIndexInfo[]> {
  const { rows } = await client.query<UniqueIndexInfo & { hasExpression: boolean }>(
    `SELECT ic.relname AS name, i.indisprimary AS primary, i.indisreplident AS "replicaIdentity",
            coalesce(array_agg(a.attname::text ORDER BY k.ord) FILTER (WHERE a.attname IS NOT NULL), '{}') AS columns,
            bool_or(k.attnum = 0) AS "hasExpression",
            i.indpred IS NULL AND i.indexprs IS NULL AND i.indimmediate AND i.indisvalid
              AND coalesce(bool_and(a.attnotnull), false) AS "usableAsIdentity"
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN LATERAL unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord) ON true
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisunique
      GROUP BY ic.relname, i.indexrelid, i.indisprimary, i.indisreplident, i.indpred, i.indexprs,
               i.indimmediate, i.indisvalid
      ORDER BY i.indisprimary DESC, i.indexrelid`,
    [relOid],
  );
  return rows.map(({ hasExpression, ...index }) => ({
    ...index,
    columns: hasExpression ? [] : index.columns,
    usableAsIdentity: index.usableAsIdentity && !hasExpression,
  }));
}

export async function readTableInfo(client: pg.Client, tableConfig: TableConfig): Promise<TableInfo> {
  const { schema, table } = splitTable(tableConfig.table);
  const rel = await client.query<{ oid: number; relreplident: string; reltuples: number; relkind: string }>(
    `SELECT c.oid, c.relreplident, c.reltuples, c.relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  const r = rel.rows[0];
  const object = tableConfig.table;
  if (!r)
    throw new ProblemError({
      object,
      message: `table ${tableConfig.table} does not exist`,
      fix: 'fix tables[].table in the config or create it',
    });
  if (r.relkind !== 'r' && r.relkind !== 'p')
    throw new ProblemError({
      object,
      message: `${tableConfig.table} is not a table (relkind ${r.relkind})`,
      fix: 'only tables can be captured',
    });

  const cols = await client.query<ColumnInfo & { attnum: number }>(
    `SELECT a.attname AS name, a.atttypid::int AS "typeOid", a.atttypmod AS "typeMod", a.attnotnull AS "notNull",
            format_type(a.atttypid, NULL) AS "typeName", t.typname AS "udtName", a.attnum
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [r.oid],
  );
  const columns = cols.rows.map(({ attnum: _attnum, ...c }) => c);
  const byName = new Map(columns.map((c) => [c.name, c]));

  const pk = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [r.oid],
  );
  const key = tableConfig.key ?? pk.rows.map((row) => row.name);
  for (const k of key) {
    if (!byName.has(k))
      throw new ProblemError({
        object,
        message: `${tableConfig.table}: key column ${k} does not exist`,
        fix: 'fix tables[].key in the config',
      });
  }

  const vectorNames =
    tableConfig.vectors ?? columns.filter((c) => PGVECTOR_TYPES.includes(c.udtName)).map((c) => c.name);
  const indexes = new Map<string, VectorIndexInfo>();
  for (const index of await listVectorIndexes(client, r.oid))
    if (!indexes.has(index.column)) indexes.set(index.column, index);
  const vectors = vectorNames.map((name): VectorColumnInfo => {
    const c = byName.get(name);
    if (!c)
      throw new ProblemError({
        object,
        message: `${tableConfig.table}: vector column ${name} does not exist`,
        fix: 'fix tables[].vectors',
      });
    const kind = VECTOR_UDTS[c.udtName];
    if (!kind)
      throw new ProblemError({
        object,
        message: `${tableConfig.table}.${name} has type ${c.typeName}, not a vector`,
        fix: 'vectors must be vector, halfvec, sparsevec, real[] or double precision[]',
      });
    const index = indexes.get(name);
    return {
      name,
      kind,
      dimension: c.typeMod > 0 ? c.typeMod : null,
      distance: index?.distance ?? null,
      hnsw: index?.hnsw ?? null,
    };
  });
  const vectorSet = new Set(vectorNames);
  // As the stream maps columns (changes.ts RelationPlan): a vector-typed column that is not a
  // vector is no payload either, unless tables[].payload names it.
  const payload =
    tableConfig.payload ??
    columns.filter((c) => !vectorSet.has(c.name) && !PGVECTOR_TYPES.includes(c.udtName)).map((c) => c.name);
  for (const p of payload) {
    if (!byName.has(p))
      throw new ProblemError({
        object,
        message: `${tableConfig.table}: payload column ${p} does not exist`,
        fix: 'fix tables[].payload',
      });
  }
  return {
    schema,
    table,
    oid: r.oid,
    columns,
    key,
    replicaIdentity: IDENTITY[r.relreplident] ?? 'default',
    uniqueIndexes: await listUniqueIndexes(client, r.oid),
    vectors,
    payload,
    estimatedRows: Math.max(0, Math.round(r.reltuples)),
  };
}

export interface VectorIndexInfo {
  name: string;
  column: string;
  /** 'hnsw' or 'ivfflat'. */
  method: string;
  opclass: string;
  /** The Qdrant distance the operator class implies; null for one with no Qdrant equivalent. */
  distance: VectorColumnInfo['distance'];
  /** HNSW parameters (pgvector's defaults when the index does not set them); null for ivfflat. */
  hnsw: VectorColumnInfo['hnsw'];
}

/** The Qdrant distance a pgvector operator class implies (vector_cosine_ops → Cosine...). */
export function opclassDistance(opclass: string): VectorColumnInfo['distance'] {
  const suffix = Object.keys(OPCLASS_DISTANCE).find((s) => opclass.endsWith(s));
  return suffix ? OPCLASS_DISTANCE[suffix]! : null;
}

/** Every pgvector index (hnsw, ivfflat) of the table, oldest first, one entry per indexed column. */
export async function listVectorIndexes(client: pg.Client, relOid: number): Promise<VectorIndexInfo[]> {
  const { rows } = await client.query<{
    name: string;
    column: string;
    opclass: string;
    method: string;
    options: string[] | null;
  }>(
    `SELECT ic.relname AS name, a.attname AS column, oc.opcname AS opclass, am.amname AS method,
            ic.reloptions AS options
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_am am ON am.oid = ic.relam
       JOIN LATERAL unnest(i.indkey, i.indclass) AS k(attnum, opclass) ON true
       JOIN pg_opclass oc ON oc.oid = k.opclass
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND am.amname IN ('hnsw', 'ivfflat')
      ORDER BY ic.oid`,
    [relOid],
  );
  return rows.map((row) => {
    const opts = Object.fromEntries((row.options ?? []).map((o) => o.split('=') as [string, string]));
    return {
      name: row.name,
      column: row.column,
      method: row.method,
      opclass: row.opclass,
      distance: opclassDistance(row.opclass),
      // pgvector's HNSW defaults: m = 16, ef_construction = 64.
      hnsw:
        row.method === 'hnsw'
          ? { m: Number(opts.m ?? 16), efConstruction: Number(opts.ef_construction ?? 64) }
          : null,
    };
  });
}
