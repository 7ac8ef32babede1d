// A big table with a single integer key is read in snapshot.parallelism key ranges at once
// (snapshotter.ts), split by the key's min and max: each range resumes at its own key.
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

/** Key ranges for a big table with a single integer key; undefined to read it in one. */
export async function keyRanges(
  config: LoadedConfig,
  info: TableInfo,
  where: string | null,
): Promise<KeyRange[] | undefined> {
  const parts = config.snapshot.parallelism;
  const column = info.columns.find((c) => c.name === info.key[0]);
  if (parts < 2 || info.key.length !== 1 || !column || !['int2', 'int4', 'int8'].includes(column.udtName))
    return undefined;
  const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
  try {
    const k = quoteIdent(column.name);
    const { rows } = await sql.query<{ lo: string | null; hi: string | null }>(
      `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${quoteTable(info.schema, info.table)}` +
        (where ? ` WHERE (${where})` : ''),
    );
    const lo = rows[0]?.lo;
    const hi = rows[0]?.hi;
    if (lo == null || hi == null) return undefined;
    // Worth it when each range spans at least a chunk's worth of keys.
    const span = BigInt(hi) - BigInt(lo);
    if (span < BigInt(parts * config.snapshot.chunkRows)) return undefined;
    // Range i holds keys in (bound i, bound i+1]; the first has no lower bound, the last no upper.
    const bounds = Array.from({ length: parts - 1 }, (_, i) =>
      (BigInt(lo) + (span * BigInt(i + 1)) / BigInt(parts)).toString(),
    );
    return Array.from({ length: parts }, (_, i) => ({
      after: i === 0 ? null : [bounds[i - 1]!],
      upTo: i === parts - 1 ? null : [bounds[i]!],
      done: false,
    }));
  } finally {
    await sql.end().catch(() => {});
  }
}
