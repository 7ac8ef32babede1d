// A big table is read in snapshot.parallelism key ranges at once (snapshotter.ts), each resuming
// at its own key. A single integer key is split evenly between its min and max (two index
// lookups). Any other key — uuid, text, numeric, or several columns: a primary key is a btree
// index, so its columns have an order — is split at the tiles of a sample of the table's pages
// (TABLESAMPLE SYSTEM): the sample's keys sorted in the key's order and cut into equal tiles, each
// tile's last key a bound. The sort is the chunk queries' own (ORDER BY the key columns, which is
// how they compare rows to a bound: postgres/snapshot.ts), so the ranges cover every key exactly
// once whatever the sample; a skewed sample only makes them uneven.
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

/** Key ranges for a big table; undefined to read it in one. */
export async function keyRanges(
  config: LoadedConfig,
  info: TableInfo,
  where: string | null,
): Promise<KeyRange[] | undefined> {
  const parts = config.snapshot.parallelism;
  const columns = info.key.map((name) => info.columns.find((c) => c.name === name));
  if (parts < 2 || columns.length === 0 || columns.some((c) => !c)) return undefined;
  const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
  try {
    const keys = info.key.map(quoteIdent);
    const table = quoteTable(info.schema, info.table);
    const { chunkRows } = config.snapshot;
    const bounds =
      columns.length === 1 && INTEGER_TYPES.includes(columns[0]!.udtName)
        ? await evenBounds(sql, keys[0]!, table, where, parts, chunkRows)
        : await sampledBounds(sql, keys, table, where, parts, chunkRows);
    if (!bounds?.length) return undefined;
    // Range i holds keys in (bound i, bound i+1]; the first has no lower bound, the last no upper.
    return Array.from({ length: bounds.length + 1 }, (_, i) => ({
      after: i === 0 ? null : bounds[i - 1]!,
      upTo: i === bounds.length ? null : bounds[i]!,
      done: false,
    }));
  } finally {
    await sql.end().catch(() => {});
  }
}

const INTEGER_TYPES = ['int2', 'int4', 'int8'];
/** Heap pages a sample reads, about: enough keys for even tiles, cheap on any table. */
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
): Promise<string[][] | undefined> {
  const { rows } = await sql.query<{ lo: string | null; hi: string | null }>(
    `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${table}` + (where ? ` WHERE (${where})` : ''),
  );
  const lo = rows[0]?.lo;
  const hi = rows[0]?.hi;
  if (lo == null || hi == null) return undefined;
  // Worth it when each range spans at least a chunk's worth of keys.
  const span = BigInt(hi) - BigInt(lo);
  if (span < BigInt(parts * chunkRows)) return undefined;
  return Array.from({ length: parts - 1 }, (_, i) => [
    (BigInt(lo) + (span * BigInt(i + 1)) / BigInt(parts)).toString(),
  ]);
}

/**
 * The last key of each of the first parts − 1 tiles of a sample of the table's pages, as text per
 * key column; none when the estimated row count does not give each range a chunk's worth of rows.
 * The key is unique, so the bounds strictly increase.
 */
async function sampledBounds(
  sql: Sql,
  keys: string[],
  table: string,
  where: string | null,
  parts: number,
  chunkRows: number,
): Promise<string[][] | undefined> {
  // The share of pages to sample, from the heap's size (known without ANALYZE); a partitioned
  // table's is its partitions'.
  const { rows: size } = await sql.query<{ pages: string }>(
    `SELECT (sum(pg_relation_size(relid)) / current_setting('block_size')::int)::text AS pages
       FROM pg_partition_tree($1::regclass)`,
    [table],
  );
  const percent = Math.min(100, (100 * SAMPLE_PAGES) / Math.max(1, Number(size[0]?.pages ?? 1)));
  const order = keys.join(', ');
  // Names of their own for the window columns: a key column may be called "tile".
  const { rows } = await sql.query<{ tile: number; total: string; bound: string[] }>(
    `SELECT DISTINCT ON (_vecrelay_tile) _vecrelay_tile AS tile, _vecrelay_total::text AS total,
            ARRAY[${keys.map((k) => `${k}::text`).join(', ')}] AS bound
       FROM (SELECT ${order}, ntile($2) OVER (ORDER BY ${order}) AS _vecrelay_tile,
                    count(*) OVER () AS _vecrelay_total
               FROM ${table} TABLESAMPLE SYSTEM ($1)${where ? ` WHERE (${where})` : ''}) sample
      ORDER BY _vecrelay_tile, ${keys.map((k) => `${k} DESC`).join(', ')}`,
    [percent, parts],
  );
  const estimated = (Number(rows[0]?.total ?? 0) * 100) / percent;
  if (estimated < parts * chunkRows) return undefined;
  return rows.filter((r) => r.tile < parts).map((r) => r.bound);
}
