// `verify --repair`: the divergent keys of each table go back through the pipeline as a resync
// of exactly those keys (src/ops/resync.ts → the running source's snapshotter): each key's row is
// read again between watermarks and sent as a whole row, a key with no row as a delete. verify
// then checks the tables again.
import type { LoadedConfig } from '../../config/load.js';
import type { ColumnValue } from '../../event/change-event.js';
import type { Logger } from '../../shared/log.js';
import { connectKafkaClient, connectPostgres } from '../connect.js';
import { requestResync, resolveTable, waitForResync } from '../resync.js';
import { pgText } from './rows.js';

/**
 * Per table ("schema.table"): the keys of its rows that differ — missing points, mismatched
 * points, and points with no row (the key the point stands for; a point no key maps to cannot be
 * re-synced and is left out).
 */
export type DivergentKeys = Map<string, Array<Record<string, ColumnValue>>>;

/** Keys per request: the request travels in one WAL message and one state record. */
const KEYS_PER_REQUEST = 1000;

/**
 * Requests a resync of `keys` through the pipeline and waits until the source has published
 * them all (or `deadline`); resolves with the keys requested, or throws naming what did not finish.
 */
export async function repairKeys(
  config: LoadedConfig,
  log: Logger,
  keys: DivergentKeys,
  deadline: number,
  signal: AbortSignal,
  say: (line: string) => void,
): Promise<number> {
  const sql = await connectPostgres(config, log);
  const { kafka, admin } = await connectKafkaClient(config, log).catch(async (err: unknown) => {
    await sql.end().catch(() => {});
    throw err;
  });
  let requested = 0;
  try {
    for (const [table, list] of keys) {
      if (list.length === 0) continue;
      const target = resolveTable(config, table);
      // Key columns in the order verify built each key (the key's own order).
      const names = Object.keys(list[0]!);
      const texts = list.map((k) => names.map((n) => pgText(k[n]!)));
      for (let i = 0; i < texts.length; i += KEYS_PER_REQUEST) {
        const batch = texts.slice(i, i + KEYS_PER_REQUEST);
        const { id } = await requestResync(sql, config, target, null, batch);
        say(`repair: resync of ${batch.length} keys of ${table} requested (${id})`);
        const done = await waitForResync(kafka, admin, config, target, id, deadline, signal, () => {});
        if (!done)
          throw new Error(
            `repair: the resync of ${table} (${id}) did not finish in time: is the source running?`,
          );
        requested += batch.length;
      }
    }
  } finally {
    await admin.disconnect().catch(() => {});
    await sql.end().catch(() => {});
  }
  return requested;
}
