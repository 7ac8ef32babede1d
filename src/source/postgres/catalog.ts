// What the source needs to know about each captured table, read from the catalog once at start:
// columns with their types and dimensions, the key, the replica identity, which columns are
// vectors, and (for the sink's collections) the distance and HNSW parameters of vector indexes.
import type pg from 'pg';
import { ConfigError } from '../../shared/errors.js';
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

export async function readTableInfo(client: pg.Client, tableConfig: TableConfig): Promise<TableInfo> {
  const { schema, table } = splitTable(tableConfig.table);
  const rel = await client.query<{ oid: number; relreplident: string; reltuples: number; relkind: string }>(
    `SELECT c.oid, c.relreplident, c.reltuples, c.relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  const r = rel.rows[0];
  if (!r)
    throw new ConfigError(
      `table ${tableConfig.table} does not exist: fix tables[].table in the config or create it`,
    );
  if (r.relkind !== 'r' && r.relkind !== 'p')
    throw new ConfigError(
      `${tableConfig.table} is not a table (relkind ${r.relkind}): only tables can be captured`,
    );

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
      throw new ConfigError(
        `${tableConfig.table}: key column ${k} does not exist: fix tables[].key in the config`,
      );
  }

  const vectorNames =
    tableConfig.vectors ??
    columns.filter((c) => ['vector', 'halfvec', 'sparsevec'].includes(c.udtName)).map((c) => c.name);
  const indexes = await readVectorIndexes(client, r.oid);
  const vectors = vectorNames.map((name): VectorColumnInfo => {
    const c = byName.get(name);
    if (!c)
      throw new ConfigError(
        `${tableConfig.table}: vector column ${name} does not exist: fix tables[].vectors`,
      );
    const kind = VECTOR_UDTS[c.udtName];
    if (!kind)
      throw new ConfigError(
        `${tableConfig.table}.${name} has type ${c.typeName}, not a vector: vectors must be vector, halfvec, sparsevec, real[] or double precision[]`,
      );
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
  const payload = tableConfig.payload ?? columns.map((c) => c.name).filter((n) => !vectorSet.has(n));
  for (const p of payload) {
    if (!byName.has(p))
      throw new ConfigError(`${tableConfig.table}: payload column ${p} does not exist: fix tables[].payload`);
  }
  return {
    schema,
    table,
    oid: r.oid,
    columns,
    key,
    replicaIdentity: IDENTITY[r.relreplident] ?? 'default',
    vectors,
    payload,
    estimatedRows: Math.max(0, Math.round(r.reltuples)),
  };
}

/** Distance and HNSW parameters of the pgvector index on each column (the first one wins). */
async function readVectorIndexes(client: pg.Client, relOid: number) {
  const { rows } = await client.query<{
    column: string;
    opclass: string;
    method: string;
    options: string[] | null;
  }>(
    `SELECT a.attname AS column, oc.opcname AS opclass, am.amname AS method, ic.reloptions AS options
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
  const out = new Map<string, Pick<VectorColumnInfo, 'distance' | 'hnsw'>>();
  for (const row of rows) {
    if (out.has(row.column)) continue;
    const suffix = Object.keys(OPCLASS_DISTANCE).find((s) => row.opclass.endsWith(s));
    const opts = Object.fromEntries((row.options ?? []).map((o) => o.split('=') as [string, string]));
    out.set(row.column, {
      distance: suffix ? OPCLASS_DISTANCE[suffix]! : null,
      // pgvector's HNSW defaults: m = 16, ef_construction = 64.
      hnsw:
        row.method === 'hnsw'
          ? { m: Number(opts.m ?? 16), efConstruction: Number(opts.ef_construction ?? 64) }
          : null,
    });
  }
  return out;
}
