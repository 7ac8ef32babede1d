// A partitioned table is published through its root, and Postgres decodes nothing for the
// partition operations that move rows in or out of the root without writing them: ATTACH
// PARTITION of a table that has rows, DETACH PARTITION, DROP TABLE of a partition. The stream
// cannot show them, so the source looks at the captured tables' partitions (pg_partition_tree)
// every heartbeat interval and says what changed, naming the command that brings the collection
// back to the table. (TRUNCATE of one partition changes no partition: the README names it.)
import type pg from 'pg';
import { splitTable } from '../../config/load.js';
import type { LoadedConfig } from '../../config/load.js';
import { sleep } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';

/** The leaf partitions of each captured partitioned table, by "schema.table". */
export type PartitionSets = Map<string, Set<string>>;

/** The leaf partitions of those of `tables` ("schema.table") that are partitioned. */
export async function readPartitions(sql: pg.Client, tables: string[]): Promise<PartitionSets> {
  const names = tables.map(splitTable);
  const { rows } = await sql.query<{ table: string; partition: string | null }>(
    `SELECT t.schema || '.' || t.name AS "table", leaf.name AS partition
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind = 'p'
       LEFT JOIN LATERAL (
         SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) AS name
           FROM pg_partition_tree(c.oid) p
           JOIN pg_class pc ON pc.oid = p.relid
           JOIN pg_namespace pn ON pn.oid = pc.relnamespace
          WHERE p.isleaf AND p.level > 0) leaf ON true`,
    [names.map((n) => n.schema), names.map((n) => n.table)],
  );
  const out: PartitionSets = new Map();
  for (const r of rows) {
    const set = out.get(r.table) ?? new Set<string>();
    out.set(r.table, set);
    if (r.partition !== null) set.add(r.partition);
  }
  return out;
}

/** What changed between two looks, as log lines: partitions added, and partitions gone. */
export function partitionChanges(
  before: PartitionSets,
  now: PartitionSets,
  configFile: string,
): Array<{ level: 'info' | 'warn'; fields: Record<string, string>; message: string }> {
  const out: ReturnType<typeof partitionChanges> = [];
  for (const table of new Set([...before.keys(), ...now.keys()])) {
    const was = before.get(table) ?? new Set<string>();
    const is = now.get(table) ?? new Set<string>();
    for (const partition of is)
      if (!was.has(partition))
        out.push({
          level: 'info',
          fields: {
            table,
            partition,
            fix: `vecrelay resync --config ${configFile} --table ${table} --where "${shellQuoted(`tableoid = '${partition}'::regclass`)}"`,
          },
          // A partition created empty (CREATE TABLE … PARTITION OF) needs nothing: its rows
          // arrive as written. The catalog does not say which of the two it was.
          message:
            'a partition was added: if it was ATTACHed with rows already in it, those rows are not in the WAL stream — resync them (fix)',
        });
    for (const partition of was)
      if (!is.has(partition))
        out.push({
          level: 'warn',
          fields: {
            table,
            partition,
            fix: `vecrelay verify --config ${configFile} --table ${table} --repair`,
          },
          message:
            'a partition was detached or dropped: its rows left the table with no delete in the WAL stream, so their points stay in Qdrant until verify --repair deletes them (fix)',
        });
  }
  return out;
}

/** `text` inside a shell's double quotes: a quoted identifier's `"` (and `\`, `$`, `` ` ``) escaped. */
const shellQuoted = (text: string) => text.replace(/["\\$`]/g, (c) => `\\${c}`);

/**
 * Looks at the partitions of `tables` every source.heartbeatIntervalMs, on a connection of its
 * own each time, until `signal` aborts, logging each change; returns at once when none of them
 * is partitioned. A look that fails (the server restarting) is skipped: the stream's session
 * reports that. Changes made while no source ran are not seen: verify finds what they did.
 */
export async function watchPartitions(
  config: LoadedConfig,
  log: Logger,
  tables: string[],
  connect: () => Promise<pg.Client>,
  signal: AbortSignal,
): Promise<void> {
  let known: PartitionSets | undefined;
  let sql: pg.Client | undefined;
  // A look in flight when the stream stops (a frozen server, say) must not hold the process.
  signal.addEventListener('abort', () => void sql?.end().catch(() => {}), { once: true });
  while (!signal.aborted) {
    try {
      sql = await connect();
      if (signal.aborted) break;
      const now = await readPartitions(sql, tables);
      if (known) for (const c of partitionChanges(known, now, config.file)) log[c.level](c.fields, c.message);
      // No captured table is partitioned, and a table cannot become one: nothing to watch.
      else if (now.size === 0) return;
      known = now;
    } catch (err) {
      log.debug({ err }, 'partition check failed: tried again at the next interval');
    } finally {
      await sql?.end().catch(() => {});
      sql = undefined;
    }
    await sleep(config.source.heartbeatIntervalMs, signal).catch(() => {});
  }
}
