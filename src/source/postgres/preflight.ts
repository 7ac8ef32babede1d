// Checks, before anything is created or streamed, that the database can feed this pipeline.
// Every failure is a ConfigError that names the object and the fix (DESIGN.md guarantee 7).
import type pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { backoffDelay, sleep } from '../../shared/backoff.js';
import { readTableInfo, type TableInfo } from './catalog.js';

export interface SlotState {
  exists: boolean;
  active: boolean;
  activePid: number | null;
  plugin: string | null;
  database: string | null;
  walStatus: string | null;
  confirmedFlushLsn: string | null;
}

export async function readSlot(client: pg.Client, slot: string): Promise<SlotState> {
  const { rows } = await client.query<{
    plugin: string;
    database: string;
    active: boolean;
    active_pid: number | null;
    wal_status: string | null;
    confirmed_flush_lsn: string | null;
  }>(
    `SELECT plugin, database, active, active_pid, wal_status, confirmed_flush_lsn::text
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const s = rows[0];
  if (!s)
    return {
      exists: false,
      active: false,
      activePid: null,
      plugin: null,
      database: null,
      walStatus: null,
      confirmedFlushLsn: null,
    };
  return {
    exists: true,
    active: s.active,
    activePid: s.active_pid,
    plugin: s.plugin,
    database: s.database,
    walStatus: s.wal_status,
    confirmedFlushLsn: s.confirmed_flush_lsn,
  };
}

async function setting(client: pg.Client, name: string): Promise<string> {
  const { rows } = await client.query<{ setting: string }>(
    `SELECT setting FROM pg_settings WHERE name = $1`,
    [name],
  );
  return rows[0]?.setting ?? '';
}

export async function checkServer(client: pg.Client, config: LoadedConfig): Promise<void> {
  const where = `${config.postgres.host}:${config.postgres.port}`;
  const walLevel = await setting(client, 'wal_level');
  if (walLevel !== 'logical')
    throw new ConfigError(
      `PostgreSQL at ${where} has wal_level = ${walLevel}: logical decoding needs wal_level = logical ` +
        `(ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
    );

  const role = await client.query<{ rolreplication: boolean; rolsuper: boolean }>(
    `SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user`,
  );
  const r = role.rows[0];
  if (!r?.rolreplication && !r?.rolsuper)
    throw new ConfigError(
      `role ${config.postgres.user} may not stream changes: grant it with ALTER ROLE ${config.postgres.user} REPLICATION`,
    );

  const slot = await readSlot(client, config.postgres.slot);
  if (!slot.exists) {
    const used = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_replication_slots`);
    const max = Number(await setting(client, 'max_replication_slots'));
    if (used.rows[0]!.n >= max)
      throw new ConfigError(
        `PostgreSQL at ${where} has no free replication slot (${used.rows[0]!.n} of max_replication_slots = ${max} used): ` +
          `drop an unused slot (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart`,
      );
  }
  const senders = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_replication`);
  const maxSenders = Number(await setting(client, 'max_wal_senders'));
  if (senders.rows[0]!.n >= maxSenders)
    throw new ConfigError(
      `PostgreSQL at ${where} has no free WAL sender (${senders.rows[0]!.n} of max_wal_senders = ${maxSenders} in use): ` +
        `raise max_wal_senders and restart, or stop another replication client`,
    );
}

/** Reads and checks every configured table: key, replica identity, privileges. */
export async function checkTables(client: pg.Client, config: LoadedConfig): Promise<TableInfo[]> {
  const tables: TableInfo[] = [];
  for (const t of config.tables) {
    const info = await readTableInfo(client, t);
    const name = t.table;
    if (info.key.length === 0)
      throw new ConfigError(
        `table ${name} has no primary key: add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)), ` +
          `or name its key columns in tables[].key and set ALTER TABLE ${name} REPLICA IDENTITY FULL`,
      );
    if (info.replicaIdentity === 'nothing')
      throw new ConfigError(
        `table ${name} has REPLICA IDENTITY NOTHING, so deletes carry no key: ALTER TABLE ${name} REPLICA IDENTITY DEFAULT (or FULL)`,
      );
    if (t.key && info.replicaIdentity !== 'full') {
      const pk = await primaryKey(client, info.oid);
      if (pk.join(',') !== t.key.join(','))
        throw new ConfigError(
          `table ${name}: tables[].key (${t.key.join(', ')}) is not its primary key, so deletes would not carry it: ` +
            `ALTER TABLE ${name} REPLICA IDENTITY FULL, or use the primary key`,
        );
    }
    const priv = await client.query<{ ok: boolean }>(`SELECT has_table_privilege($1::oid, 'SELECT') AS ok`, [
      info.oid,
    ]);
    if (!priv.rows[0]?.ok)
      throw new ConfigError(
        `role ${config.postgres.user} may not read ${name}: GRANT SELECT ON ${name} TO ${config.postgres.user}`,
      );
    tables.push(info);
  }
  return tables;
}

async function primaryKey(client: pg.Client, oid: number): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [oid],
  );
  return rows.map((r) => r.name);
}

/**
 * The slot, when it exists, must be ours to use: pgoutput, this database, WAL not lost, and not
 * streaming to another process — a busy slot is waited for with backoff (a previous instance may
 * still be shutting down), then refused.
 */
export async function checkSlotUsable(
  client: pg.Client,
  config: LoadedConfig,
  log: Logger,
  signal?: AbortSignal,
): Promise<SlotState> {
  const name = config.postgres.slot;
  for (let attempt = 0; ; attempt++) {
    const slot = await readSlot(client, name);
    if (!slot.exists) return slot;
    if (slot.plugin !== 'pgoutput')
      throw new ConfigError(
        `replication slot ${name} exists with plugin ${slot.plugin}, not pgoutput: choose another postgres.slot, or drop it (SELECT pg_drop_replication_slot('${name}'))`,
      );
    if (slot.database !== config.postgres.database)
      throw new ConfigError(
        `replication slot ${name} belongs to database ${slot.database}, not ${config.postgres.database}: choose another postgres.slot`,
      );
    if (slot.walStatus === 'lost')
      throw new ConfigError(
        `replication slot ${name} has lost WAL it needed (wal_status = lost, past max_slot_wal_keep_size): ` +
          `changes were missed; drop it with \`vecrelay teardown\` (or SELECT pg_drop_replication_slot('${name}')) ` +
          `and start again to take a new snapshot`,
      );
    if (!slot.active) return slot;
    if (attempt >= config.source.slotBusyRetries)
      throw new ConfigError(
        `replication slot ${name} is in use by another process (pid ${slot.activePid}): stop that process ` +
          `(SELECT pg_terminate_backend(${slot.activePid})) or give this pipeline its own postgres.slot`,
      );
    const delay = backoffDelay(attempt, { initialMs: 250, maxMs: 5_000 });
    log.warn(
      { slot: name, activePid: slot.activePid, attempt, delayMs: delay },
      'replication slot busy; waiting',
    );
    await sleep(delay, signal);
  }
}
