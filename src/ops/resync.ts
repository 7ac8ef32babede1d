// `vecrelay resync`: asks the running source to read a table, or the rows matching a condition,
// again while streaming (src/source/snapshot/resync-request.ts carries the request through the
// WAL). Checked here first, so a mistake is a clear error at the command and not a dropped request
// in the source's log: the table must be one the pipeline captures, the condition must be valid SQL
// on it, and the slot must exist (a request written before it would never reach the source).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { splitTable } from '../config/load.js';
import { stateTopic } from '../event/names.js';
import { resyncStateKey, type TableSnapshotState } from '../event/snapshot-state.js';
import { readCompacted } from '../kafka/compacted.js';
import { sleep } from '../shared/backoff.js';
import { ConfigError } from '../shared/errors.js';
import { quoteTable } from '../source/postgres/connect.js';
import { emitResync } from '../source/snapshot/resync-request.js';

export interface ResyncTarget {
  schema: string;
  table: string;
}

/** The configured table `name` ("table" or "schema.table") names, or a ConfigError listing them. */
export function resolveTable(config: LoadedConfig, name: string): ResyncTarget {
  const tables = config.tables.map((t) => splitTable(t.table));
  const match = tables.filter((t) => `${t.schema}.${t.table}` === name || t.table === name);
  if (match.length === 1) return match[0]!;
  const list = tables.map((t) => `${t.schema}.${t.table}`).join(', ');
  if (match.length === 0)
    throw new ConfigError(`--table ${name}: not a table of this pipeline (it captures ${list})`);
  throw new ConfigError(`--table ${name}: several schemas have it (${list}): name it as schema.table`);
}

/** Writes the request (`keys`: only those, text form of each key column); returns its id and WAL position. */
export async function requestResync(
  sql: pg.Client,
  config: LoadedConfig,
  target: ResyncTarget,
  where: string | null,
  keys?: string[][],
): Promise<{ id: string; lsn: string }> {
  const table = `${target.schema}.${target.table}`;
  const slot = await sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [
    config.postgres.slot,
  ]);
  if (slot.rowCount === 0)
    throw new ConfigError(
      `replication slot ${config.postgres.slot} does not exist: start the pipeline (vecrelay run or vecrelay source) first; ` +
        'its first start reads every table anyway',
    );
  if (where !== null) {
    try {
      // Planned, not run: an unknown column or a syntax error is reported here, nothing read.
      await sql.query(`EXPLAIN SELECT 1 FROM ${quoteTable(target.schema, target.table)} WHERE (${where})`);
    } catch (err) {
      throw new ConfigError(`--where ${JSON.stringify(where)} on ${table}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const id = randomUUID();
  const lsn = await emitResync(sql, { pipeline: config.name, table, where, id, ...(keys ? { keys } : {}) });
  return { id, lsn };
}

/** The state record of `target` once it serves request `id` and is done; polls until `deadline`. */
export async function waitForResync(
  kafka: Kafka,
  admin: Admin,
  config: LoadedConfig,
  target: ResyncTarget,
  id: string,
  deadline: number,
  signal: AbortSignal,
  onProgress: (state: TableSnapshotState | undefined) => void,
): Promise<TableSnapshotState | undefined> {
  const key = resyncStateKey(id);
  const topic = stateTopic(config.kafka.topicPrefix, config.name);
  for (;;) {
    let state: TableSnapshotState | undefined;
    await readCompacted(kafka, admin, topic, (m) => {
      if (m.key?.toString() === key && m.value) state = JSON.parse(m.value.toString()) as TableSnapshotState;
    });
    const mine = state;
    onProgress(mine);
    if (mine?.status === 'done') return mine;
    if (Date.now() > deadline || signal.aborted) return undefined;
    await sleep(1000, signal).catch(() => {});
  }
}
