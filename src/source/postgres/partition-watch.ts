// A partitioned table is published through its root, and Postgres decodes nothing for the
// partition operations that move rows in or out of the root without writing them: ATTACH
// PARTITION of a table that has rows, DETACH PARTITION, DROP TABLE of a partition. The stream
// cannot show them, so the source looks at the captured tables' partitions (pg_partition_tree)
// every heartbeat interval. A partition added has its rows read (a resync request, as `vecrelay
// resync` writes it, limited to the partition's bounds so the planner reads that partition only):
// for a partition created empty that reads little, for one attached it brings the rows it came
// with. A partition gone is a warning naming `vecrelay verify --repair`: its rows' keys are gone
// with it. The partitions seen are recorded in the state topic, so what changed while no source
// ran is acted on at the next start. (TRUNCATE of one partition changes no partition: the README
// names it.)
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { splitTable } from '../../config/load.js';
import type { LoadedConfig } from '../../config/load.js';
import { sleep } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { emitResync } from '../snapshot/resync-request.js';

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

export interface PartitionChange {
  /** The captured table, "schema.table". */
  table: string;
  /** The partition, schema-qualified and quoted where needed. */
  partition: string;
}

/** The partitions added and those gone between two looks. */
export function partitionChanges(
  before: PartitionSets,
  now: PartitionSets,
): { added: PartitionChange[]; gone: PartitionChange[] } {
  const added: PartitionChange[] = [];
  const gone: PartitionChange[] = [];
  for (const table of new Set([...before.keys(), ...now.keys()])) {
    const was = before.get(table) ?? new Set<string>();
    const is = now.get(table) ?? new Set<string>();
    for (const partition of is) if (!was.has(partition)) added.push({ table, partition });
    for (const partition of was) if (!is.has(partition)) gone.push({ table, partition });
  }
  return { added, gone };
}

/**
 * The rows of `partition` as a condition on its root: its partition constraint, which the planner
 * prunes by (a sub-partition's covers its own level only: rows of a sibling branch read again
 * are harmless); `tableoid` when it has none.
 */
async function partitionCondition(sql: pg.Client, partition: string): Promise<string> {
  const { rows } = await sql.query<{ def: string | null }>(
    `SELECT pg_get_partition_constraintdef($1::regclass) AS def`,
    [partition],
  );
  return rows[0]?.def ?? `tableoid = '${partition.replaceAll("'", "''")}'::regclass`;
}

/** What the source does of a change: reads an added partition's rows, names the fix for one gone. */
async function act(
  sql: pg.Client,
  config: LoadedConfig,
  log: Logger,
  { added, gone }: ReturnType<typeof partitionChanges>,
): Promise<void> {
  for (const { table, partition } of added) {
    const where = await partitionCondition(sql, partition);
    await emitResync(sql, { pipeline: config.name, table, where, id: randomUUID() });
    log.info(
      { table, partition, where },
      'a partition was added: its rows are read (resync), as an ATTACHed table brings rows the WAL stream does not carry',
    );
  }
  for (const { table, partition } of gone)
    log.warn(
      { table, partition, fix: `vecrelay verify --config ${config.file} --table ${table} --repair` },
      'a partition was detached or dropped: its rows left the table with no delete in the WAL stream, so their points stay in Qdrant until verify --repair deletes them (fix)',
    );
}

/** Where the partitions last seen are kept (the state topic), so a restart compares with them. */
export interface PartitionStore {
  /** What the records say, for the tables that have one. */
  recorded: PartitionSets;
  write(table: string, partitions: Set<string>): Promise<void>;
}

const sameSet = (a: Set<string> | undefined, b: Set<string>) =>
  a !== undefined && a.size === b.size && [...b].every((x) => a.has(x));

/**
 * Looks at the partitions of `tables` every source.heartbeatIntervalMs, on a connection of its
 * own each time, until `signal` aborts, acting on each change; returns at once when none of them
 * is partitioned. The first look compares with what `store` recorded (a table with no record yet
 * starts from what it has: its first snapshot reads it whole). A change is acted on, then
 * recorded: a crash in between acts again at the next start (a resync read twice, harmlessly).
 * A look that fails (the server restarting) is skipped: the stream's session reports that.
 */
export async function watchPartitions(
  config: LoadedConfig,
  log: Logger,
  tables: string[],
  connect: () => Promise<pg.Client>,
  store: PartitionStore,
  signal: AbortSignal,
): Promise<void> {
  /** What was acted on; what is recorded may lag it while Kafka is away. */
  let known: PartitionSets | undefined;
  const recorded = new Map(store.recorded);
  let sql: pg.Client | undefined;
  // A look in flight when the stream stops (a frozen server, say) must not hold the process.
  signal.addEventListener('abort', () => void sql?.end().catch(() => {}), { once: true });
  while (!signal.aborted) {
    try {
      sql = await connect();
      if (signal.aborted) break;
      const now = await readPartitions(sql, tables);
      // No captured table is partitioned, and a table cannot become one: nothing to watch.
      if (!known && now.size === 0) return;
      const before = new Map([...now].map(([t, set]) => [t, known?.get(t) ?? recorded.get(t) ?? set]));
      await act(sql, config, log, partitionChanges(before, now));
      known = now;
      for (const [table, set] of now)
        if (!sameSet(recorded.get(table), set)) {
          await store.write(table, set);
          recorded.set(table, set);
          log.debug({ table, partitions: set.size }, 'partitions recorded');
        }
    } catch (err) {
      log.debug({ err }, 'partition check failed: tried again at the next interval');
    } finally {
      await sql?.end().catch(() => {});
      sql = undefined;
    }
    await sleep(config.source.heartbeatIntervalMs, signal).catch(() => {});
  }
}
