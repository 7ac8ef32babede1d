// A big table with a single-column key is read in snapshot.parallelism key ranges at once
// (snapshotter.ts), each resuming at its own key. An integer key is split evenly between its min
// and max (two index lookups). Any other key (uuid, text, numeric, …: a primary key's type always
// has a btree order) is split at quantiles of a sample of the table's pages (TABLESAMPLE SYSTEM):
// percentile_disc sorts with the column's default order and collation, the same order the chunk
// queries compare and sort by (postgres/snapshot.ts), so the ranges cover every key exactly once
// whatever the sample; a skewed sample only makes them uneven.
import type { LoadedConfig } from '../../config/load.js';
import type { TableInfo } from '../postgres/catalog.js';
import {
  connectClient,
  passwordSource,
  pgClientConfig,
  quoteIdent,
  quoteTable,
} from '../postgres/connect.js';

/** Keys in (after, upTo]; no bound: open. */
export interface KeyRange {
  after: string[] | null;
  upTo: string[] | null;
  done: boolean;
}

/** Key ranges for a big table with a single-column key; undefined to read it in one. */
export async function keyRanges(
  config: LoadedConfig,
  info: TableInfo,
  where: string | null,
): Promise<KeyRange[] | undefined> {
  const parts = config.snapshot.parallelism;
  const column = info.columns.find((c) => c.name === info.key[0]);
  if (parts < 2 || info.key.length !== 1 || !column) return undefined;
  const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
  try {
    const k = quoteIdent(column.name);
    const table = quoteTable(info.schema, info.table);
    const bounds = INTEGER_TYPES.includes(column.udtName)
      ? await evenBounds(sql, k, table, where, parts, config.snapshot.chunkRows)
      : await sampledBounds(sql, k, table, where, parts, config.snapshot.chunkRows);
    if (!bounds?.length) return undefined;
    // Range i holds keys in (bound i, bound i+1]; the first has no lower bound, the last no upper.
    return Array.from({ length: bounds.length + 1 }, (_, i) => ({
      after: i === 0 ? null : [bounds[i - 1]!],
      upTo: i === bounds.length ? null : [bounds[i]!],
      done: false,
    }));
  } finally {
    await sql.end().catch(() => {});
  }
}

const INTEGER_TYPES = ['int2', 'int4', 'int8'];
/** Heap pages a sample reads, about: enough keys for even quantiles, cheap on any table. */
const SAMPLE_PAGES = 256;

type Sql = Awaited<ReturnType<typeof connectClient>>;

/** parts − 1 bounds evenly between the key's min and max; none when the span is short. */
async function evenBounds(
  sql: Sql,
  k: string,
  table: string,
  where: string | null,
  parts: number,
  chunkRows: number,
): Promise<string[] | undefined> {
  const { rows } = await sql.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${table}` + (where ? ` WHERE (${where})` : ''),
  );
  const lo = rows[0]?.lo;
  const hi = rows[0]?.hi;
  if (lo == null || hi == null) return undefined;
  // Worth it when each range spans at least a chunk's worth of keys.
  const span = BigInt(hi) - BigInt(lo);
  if (span < BigInt(parts * chunkRows)) return undefined;
  return Array.from({ length: parts - 1 }, (_, i) =>
    (BigInt(lo) + (span * BigInt(i + 1)) / BigInt(parts)).toString(),
  );
}

/**
 * Up to parts − 1 bounds at the quantiles of a sample of the table's pages; none when the
 * estimated row count does not give each range a chunk's worth of rows. Equal quantiles (a sample
 * of few distinct keys) are merged: fewer, never empty-bounded, ranges.
 */
async function sampledBounds(
  sql: Sql,
  k: string,
  table: string,
  where: string | null,
  parts: number,
  chunkRows: number,
): Promise<string[] | undefined> {
  const fractions = Array.from({ length: parts - 1 }, (_, i) => (i + 1) / parts);
  // The share of pages to sample, from the heap's size (known without ANALYZE).
  const { rows: size } = await sql.query<{ pages: string }>(
    `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages`,
    [table],
  );
  const pages = Math.max(1, Number(size[0]?.pages ?? 1));
  const percent = Math.min(100, (100 * SAMPLE_PAGES) / pages);
  const { rows } = await sql.query<{ bounds: string[] | null; sampled: string }>(
    `SELECT (percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${k}))::text[] AS bounds, count(*)::text AS sampled
       FROM ${table} TABLESAMPLE SYSTEM ($2)` + (where ? ` WHERE (${where})` : ''),
    [fractions, percent],
  );
  const estimated = (Number(rows[0]?.sampled ?? 0) * 100) / percent;
  if (estimated < parts * chunkRows || !rows[0]?.bounds) return undefined;
  return rows[0].bounds.filter((b, i, all) => b !== null && (i === 0 || b !== all[i - 1]));
}
