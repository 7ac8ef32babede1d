// Checks, before anything is created or streamed, that the database can feed this pipeline.
// Every failure is a ConfigError that names the object and the fix (DESIGN.md guarantee 7).
import type pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';
import type { Logger } from '../../shared/log.js';
import { RetriableError } from '../../shared/errors.js';
import { retry } from '../../shared/retry.js';
import { readTableInfo, type TableInfo } from './catalog.js';
import { throwFirst, type Problem } from '../../shared/problems.js';

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

/** What the server-wide checks look at; `vecrelay plan` reports it as well. */
export interface ServerState {
  /** host:port, for messages. */
  where: string;
  version: string;
  versionNum: number;
  walLevel: string;
  maxReplicationSlots: number;
  usedReplicationSlots: number;
  maxWalSenders: number;
  usedWalSenders: number;
  /** The setting in MB; -1 is unlimited. */
  maxSlotWalKeepSizeMb: number;
  role: { name: string; replication: boolean; superuser: boolean };
}

export async function readServerState(client: pg.Client, where: string): Promise<ServerState> {
  const role = await client.query<{ name: string; rolreplication: boolean; rolsuper: boolean }>(
    `SELECT current_user AS name, rolreplication, rolsuper FROM pg_roles WHERE rolname = current_user`,
  );
  const used = await client.query<{ slots: number; senders: number }>(
    `SELECT (SELECT count(*)::int FROM pg_replication_slots) AS slots,
            (SELECT count(*)::int FROM pg_stat_replication) AS senders`,
  );
  const r = role.rows[0];
  return {
    where,
    version: await setting(client, 'server_version'),
    versionNum: Number(await setting(client, 'server_version_num')),
    walLevel: await setting(client, 'wal_level'),
    maxReplicationSlots: Number(await setting(client, 'max_replication_slots')),
    usedReplicationSlots: used.rows[0]!.slots,
    maxWalSenders: Number(await setting(client, 'max_wal_senders')),
    usedWalSenders: used.rows[0]!.senders,
    maxSlotWalKeepSizeMb: Number(await setting(client, 'max_slot_wal_keep_size')),
    role: { name: r?.name ?? '', replication: r?.rolreplication ?? false, superuser: r?.rolsuper ?? false },
  };
}

/** pgoutput's `binary` and `messages` options, which the source uses, came with PostgreSQL 14. */
export const MIN_SERVER_VERSION_NUM = 140000;

export function versionProblem(s: ServerState): Problem | undefined {
  if (s.versionNum >= MIN_SERVER_VERSION_NUM) return undefined;
  return {
    object: 'server_version',
    message: `PostgreSQL at ${s.where} is version ${s.version}: vecrelay needs PostgreSQL 14 or later (pgoutput binary mode and messages)`,
    fix: 'upgrade PostgreSQL',
  };
}

export function walLevelProblem(s: ServerState): Problem | undefined {
  if (s.walLevel === 'logical') return undefined;
  return {
    object: 'wal_level',
    message: `PostgreSQL at ${s.where} has wal_level = ${s.walLevel}; logical decoding needs wal_level = logical`,
    fix: 'ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL',
  };
}

export function replicationRoleProblem(s: ServerState, user = s.role.name): Problem | undefined {
  if (s.role.replication || s.role.superuser) return undefined;
  return {
    object: `role ${user}`,
    message: `role ${user} may not stream changes`,
    fix: `grant it with ALTER ROLE ${user} REPLICATION`,
  };
}

/** A slot is needed only when the pipeline's own does not exist yet. */
export function freeSlotProblem(s: ServerState, slotExists: boolean): Problem | undefined {
  if (slotExists || s.usedReplicationSlots < s.maxReplicationSlots) return undefined;
  return {
    object: 'max_replication_slots',
    message: `PostgreSQL at ${s.where} has no free replication slot (${s.usedReplicationSlots} of max_replication_slots = ${s.maxReplicationSlots} used)`,
    fix: 'drop an unused slot (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart',
  };
}

export function walSenderProblem(s: ServerState): Problem | undefined {
  if (s.usedWalSenders < s.maxWalSenders) return undefined;
  return {
    object: 'max_wal_senders',
    message: `PostgreSQL at ${s.where} has no free WAL sender (${s.usedWalSenders} of max_wal_senders = ${s.maxWalSenders} in use)`,
    fix: 'raise max_wal_senders and restart, or stop another replication client',
  };
}

export async function checkServer(client: pg.Client, config: LoadedConfig): Promise<void> {
  const state = await readServerState(client, `${config.postgres.host}:${config.postgres.port}`);
  const slot = await readSlot(client, config.postgres.slot);
  throwFirst(
    versionProblem(state),
    walLevelProblem(state),
    replicationRoleProblem(state, config.postgres.user),
    freeSlotProblem(state, slot.exists),
    walSenderProblem(state),
  );
}

/**
 * The table's key problem, if any: no key at all, REPLICA IDENTITY NOTHING, or a replica identity
 * that does not carry every key column. `info.key` is what the pipeline keys rows by
 * (tables[].key, else the primary key). A delete (and a key-changing update) carries only the
 * replica identity's columns: the primary key's under DEFAULT, the named index's under USING
 * INDEX, every column under FULL. A key column outside them would arrive NULL, the delete would
 * be dead-lettered and its point left in Qdrant — so such a table is refused, never streamed.
 * A configured key that is not the primary key is refused under DEFAULT for the same reason:
 * the row is gone when its delete arrives, so nothing could look its key up.
 */
export function tableKeyProblem(
  name: string,
  info: Pick<TableInfo, 'key' | 'replicaIdentity' | 'uniqueIndexes'>,
  configuredKey: string[] | undefined,
): Problem | undefined {
  if (info.key.length === 0)
    return {
      object: name,
      message: `table ${name} has no primary key`,
      fix:
        `add one (ALTER TABLE ${name} ADD PRIMARY KEY (...)), ` +
        `or name its key columns in tables[].key and set ALTER TABLE ${name} REPLICA IDENTITY FULL`,
    };
  if (info.replicaIdentity === 'nothing')
    return {
      object: name,
      message: `table ${name} has REPLICA IDENTITY NOTHING, so deletes carry no key`,
      fix: `ALTER TABLE ${name} REPLICA IDENTITY DEFAULT (or FULL)`,
    };
  if (info.replicaIdentity === 'full') return undefined;
  const pk = info.uniqueIndexes.find((i) => i.primary);
  const identity =
    info.replicaIdentity === 'default' ? pk : info.uniqueIndexes.find((i) => i.replicaIdentity);
  const missing = info.key.filter((k) => !identity?.columns.includes(k));
  if (missing.length === 0) return undefined;
  const key = `(${info.key.join(', ')})`;
  const keyName = configuredKey ? `tables[].key ${key}` : `primary key ${key}`;
  const lacks = `lacks ${missing.join(', ')}, so deletes would not carry the ${keyName}`;
  const message =
    info.replicaIdentity === 'default'
      ? pk
        ? `table ${name}: REPLICA IDENTITY DEFAULT logs its primary key (${pk.columns.join(', ')}), which ${lacks}`
        : `table ${name} has no primary key, so under REPLICA IDENTITY DEFAULT deletes would not carry the ${keyName}`
      : identity
        ? `table ${name} has REPLICA IDENTITY USING INDEX ${identity.name} (${identity.columns.join(', ') || 'an expression'}), which ${lacks}`
        : `table ${name} has REPLICA IDENTITY USING INDEX, but that index is gone, so deletes carry no key`;
  return {
    object: name,
    message: `${message}; they would be dead-lettered, leaving their points in Qdrant`,
    fix: identityFix(name, info),
  };
}

/** The statements that make the replica identity carry `info.key`, the cheapest first. */
function identityFix(
  name: string,
  info: Pick<TableInfo, 'key' | 'replicaIdentity' | 'uniqueIndexes'>,
): string {
  const covers = (columns: string[]) => info.key.every((k) => columns.includes(k));
  const fixes: string[] = [];
  const pk = info.uniqueIndexes.find((i) => i.primary);
  if (pk && covers(pk.columns)) {
    fixes.push(`ALTER TABLE ${name} REPLICA IDENTITY DEFAULT`);
    fixes.push(`ALTER TABLE ${name} REPLICA IDENTITY USING INDEX ${pk.name}`);
  } else {
    // The smallest usable unique index over the key; the primary key, when it qualifies, is first.
    const index = info.uniqueIndexes
      .filter((i) => i.usableAsIdentity && covers(i.columns))
      .sort((a, b) => a.columns.length - b.columns.length)[0];
    fixes.push(
      index
        ? `ALTER TABLE ${name} REPLICA IDENTITY USING INDEX ${index.name}`
        : `CREATE UNIQUE INDEX ON ${name} (${info.key.join(', ')}) with ${info.key.join(', ')} NOT NULL, then ` +
            `ALTER TABLE ${name} REPLICA IDENTITY USING INDEX <that index>`,
    );
  }
  fixes.push(`ALTER TABLE ${name} REPLICA IDENTITY FULL (logs every old row whole, vectors included)`);
  if (pk && !covers(pk.columns))
    fixes.push(`key the table by its primary key (${pk.columns.join(', ')}): drop tables[].key`);
  return fixes.join(', or ');
}

export function selectProblem(user: string, name: string, canSelect: boolean): Problem | undefined {
  if (canSelect) return undefined;
  return {
    object: name,
    message: `role ${user} may not read ${name}`,
    fix: `GRANT SELECT ON ${name} TO ${user}`,
  };
}

export async function canSelect(client: pg.Client, oid: number): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT has_table_privilege($1::oid, 'SELECT') AS ok`,
    [oid],
  );
  return rows[0]?.ok ?? false;
}

/** Reads and checks every configured table: key, replica identity, privileges. */
export async function checkTables(client: pg.Client, config: LoadedConfig): Promise<TableInfo[]> {
  const tables: TableInfo[] = [];
  for (const t of config.tables) {
    const info = await readTableInfo(client, t);
    throwFirst(tableKeyProblem(t.table, info, t.key));
    throwFirst(selectProblem(config.postgres.user, t.table, await canSelect(client, info.oid)));
    tables.push(info);
  }
  return tables;
}

export async function primaryKey(client: pg.Client, oid: number): Promise<string[]> {
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
 * Whether an existing slot can be used by this pipeline (busy aside): pgoutput, this database,
 * WAL not lost.
 */
export function slotProblem(name: string, database: string, slot: SlotState): Problem | undefined {
  if (!slot.exists) return undefined;
  const object = `slot ${name}`;
  if (slot.plugin !== 'pgoutput')
    return {
      object,
      message: `replication slot ${name} exists with plugin ${slot.plugin}, not pgoutput`,
      fix: `choose another postgres.slot, or drop it (SELECT pg_drop_replication_slot('${name}'))`,
    };
  if (slot.database !== database)
    return {
      object,
      message: `replication slot ${name} belongs to database ${slot.database}, not ${database}`,
      fix: 'choose another postgres.slot',
    };
  if (slot.walStatus === 'lost')
    return {
      object,
      message: `replication slot ${name} has lost WAL it needed (wal_status = lost, past max_slot_wal_keep_size), so changes were missed`,
      fix:
        `drop it with \`vecrelay teardown\` (or SELECT pg_drop_replication_slot('${name}')) ` +
        `and start again to take a new snapshot`,
    };
  return undefined;
}

export function slotBusyProblem(name: string, slot: SlotState): Problem | undefined {
  if (!slot.active) return undefined;
  return {
    object: `slot ${name}`,
    message: `replication slot ${name} is in use by another process (pid ${slot.activePid})`,
    fix:
      `stop that process (SELECT pg_terminate_backend(${slot.activePid})) ` +
      `or give this pipeline its own postgres.slot`,
  };
}

/** A slot another process is streaming from: waited for a while (checkSlotUsable). */
class SlotBusy extends RetriableError {
  constructor(readonly slot: SlotState) {
    super(`replication slot is in use by pid ${slot.activePid}`);
  }
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
  return retry(
    async (attempt) => {
      const slot = await readSlot(client, name);
      throwFirst(slotProblem(name, config.postgres.database, slot));
      if (!slot.active) return slot;
      if (attempt >= config.source.slotBusyRetries) throwFirst(slotBusyProblem(name, slot));
      throw new SlotBusy(slot);
    },
    {
      signal,
      backoff: { initialMs: 250, maxMs: 5_000 },
      retriable: (err) => err instanceof SlotBusy, // anything else is an answer, or a lost connection
      onRetry: (err, { attempt, delayMs }) =>
        log.warn(
          { slot: name, activePid: (err as SlotBusy).slot.activePid, attempt, delayMs },
          'replication slot busy; waiting',
        ),
    },
  );
}
