// The publication and the replication slot: created when missing (identifiers quoted), reused
// when present and matching, refused when present but different. `dropSlotAndPublication` is
// teardown: a forgotten slot retains WAL forever.
import type pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';
import { sleep } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { newClient, quoteIdent, quoteTable, type PgConfig } from './connect.js';
import type { TableInfo } from './catalog.js';
import { ProblemError, throwFirst, type Problem } from '../../shared/problems.js';

export interface PublicationState {
  insert: boolean;
  update: boolean;
  delete: boolean;
  truncate: boolean;
  allTables: boolean;
  /** "schema.table" of every table it publishes, sorted. */
  tables: string[];
}

export async function readPublication(
  client: pg.Client,
  name: string,
): Promise<PublicationState | undefined> {
  const pub = await client.query<{ ins: boolean; upd: boolean; del: boolean; trunc: boolean; all: boolean }>(
    `SELECT pubinsert AS ins, pubupdate AS upd, pubdelete AS del, pubtruncate AS trunc, puballtables AS all
       FROM pg_publication WHERE pubname = $1`,
    [name],
  );
  const p = pub.rows[0];
  if (!p) return undefined;
  const { rows } = await client.query<{ t: string }>(
    `SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`,
    [name],
  );
  return {
    insert: p.ins,
    update: p.upd,
    delete: p.del,
    truncate: p.trunc,
    allTables: p.all,
    tables: rows.map((r) => r.t).sort(),
  };
}

/** An existing publication is reused only when it publishes every operation of every table. */
export function publicationProblem(
  name: string,
  existing: PublicationState,
  wanted: string[],
): Problem | undefined {
  const object = `publication ${name}`;
  if (!existing.insert || !existing.update || !existing.delete || !existing.truncate)
    return {
      object,
      message: `publication ${name} exists but does not publish every operation`,
      fix: `ALTER PUBLICATION ${quoteIdent(name)} SET (publish = 'insert, update, delete, truncate')`,
    };
  if (existing.allTables) return undefined;
  const missing = wanted.filter((t) => !existing.tables.includes(t));
  if (missing.length)
    return {
      object,
      message: `publication ${name} exists without ${missing.join(', ')} (it has ${existing.tables.join(', ') || 'no tables'})`,
      fix: `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.join(', ')}, or choose another postgres.publication`,
    };
  return undefined;
}

export function createPublicationStatement(name: string, tables: Array<{ schema: string; table: string }>) {
  const list = tables.map((t) => quoteTable(t.schema, t.table)).join(', ');
  // Partitioned tables publish through their root, so events name the table the config names.
  return `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`;
}

/** The role may not create the publication (`why`: the server's error, or what plan found). */
export function publicationPrivilegeProblem(
  user: string,
  name: string,
  database: string,
  create: string,
  why: string,
): Problem {
  return {
    object: `publication ${name}`,
    message: `role ${user} may not create publication ${name} (${why})`,
    fix:
      `create it as the tables' owner (${create}), vecrelay then reuses it; ` +
      `or GRANT CREATE ON DATABASE ${quoteIdent(database)} TO ${user} and make ${user} the tables' owner`,
  };
}

export async function ensurePublication(
  client: pg.Client,
  config: LoadedConfig,
  tables: TableInfo[],
  log: Logger,
) {
  const name = config.postgres.publication;
  const wanted = tables.map((t) => `${t.schema}.${t.table}`).sort();
  const existing = await readPublication(client, name);
  if (!existing) {
    const create = createPublicationStatement(name, tables);
    try {
      await client.query(create);
    } catch (err) {
      // insufficient_privilege: CREATE on the database and ownership of every table are needed.
      if ((err as { code?: string }).code === '42501') {
        const { user, database } = config.postgres;
        throw new ProblemError(
          publicationPrivilegeProblem(user, name, database, create, (err as Error).message),
          { cause: err },
        );
      }
      throw err;
    }
    log.info({ publication: name, tables: wanted }, 'created publication');
    return;
  }
  // A table added to the config: added to the publication here, and snapshotted while the others
  // stream (src/source/snapshot/). Decoding reads the publication as of each change, so every
  // change after this statement is captured.
  const missing = existing.allTables
    ? []
    : tables.filter((t) => !existing.tables.includes(`${t.schema}.${t.table}`));
  if (missing.length) {
    const add = `ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.map((t) => quoteTable(t.schema, t.table)).join(', ')}`;
    try {
      await client.query(add);
    } catch (err) {
      if ((err as { code?: string }).code === '42501')
        throw new ProblemError(
          {
            object: `publication ${name}`,
            message: `role ${config.postgres.user} may not add ${missing.map((t) => `${t.schema}.${t.table}`).join(', ')} to publication ${name} (${(err as Error).message})`,
            fix: `run it as the owner of the publication and the tables: ${add}`,
          },
          { cause: err },
        );
      throw err;
    }
    log.info(
      { publication: name, tables: missing.map((t) => `${t.schema}.${t.table}`) },
      'added tables to the publication',
    );
    existing.tables = [...existing.tables, ...missing.map((t) => `${t.schema}.${t.table}`)].sort();
  }
  throwFirst(publicationProblem(name, existing, wanted));
  log.info({ publication: name }, 'reusing publication');
  // A table taken out of tables[] (or one the publication had besides): the stream ignores its
  // changes, but Postgres still decodes and sends them. Dropping it from the publication is the
  // user's call — the publication may be shared, or created by its owner — so say how.
  const extra = existing.allTables ? [] : existing.tables.filter((t) => !wanted.includes(t));
  if (extra.length)
    log.warn(
      { publication: name, tables: extra },
      `publication ${name} also publishes ${extra.join(', ')}, not in tables[]: its changes are ` +
        `sent and ignored; ALTER PUBLICATION ${quoteIdent(name)} DROP TABLE ${extra.map(quoteQualified).join(', ')} stops that`,
    );
}

/** "schema.table" (as pg_publication_tables names it) quoted for SQL. */
function quoteQualified(name: string): string {
  const dot = name.indexOf('.');
  return quoteTable(name.slice(0, dot), name.slice(dot + 1));
}

export interface CreatedSlot {
  consistentPoint: string;
  snapshotName: string | null;
  /**
   * The replication connection that created the slot. Its exported snapshot stays valid while
   * it is open and idle: close it once the snapshot has been read.
   */
  connection: pg.Client;
}

/** Creates the slot over a replication connection, exporting its snapshot when asked. */
export async function createSlot(
  replicationConfig: PgConfig,
  slot: string,
  exportSnapshot: boolean,
  log: Logger,
): Promise<CreatedSlot> {
  // Held idle while the snapshot is read: a server restart reaches it as an 'error' event.
  const connection = newClient(replicationConfig);
  await connection.connect();
  try {
    const { rows } = await connection.query<{ consistent_point: string; snapshot_name: string | null }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT'}`,
    );
    const created = rows[0]!;
    log.info(
      { slot, consistentPoint: created.consistent_point, snapshot: created.snapshot_name },
      'created replication slot',
    );
    return { consistentPoint: created.consistent_point, snapshotName: created.snapshot_name, connection };
  } catch (err) {
    await connection.end().catch(() => {});
    throw err;
  }
}

export async function dropSlot(client: pg.Client, slot: string): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return rows.length > 0;
}

/** Drops the slot once its walsender has let go of it (a stopped session's ends shortly after). */
export async function dropSlotWhenInactive(
  client: pg.Client,
  slot: string,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await dropSlot(client, slot);
      return;
    } catch (err) {
      // object_in_use: still active. Any other error, or still active after a minute, is reported.
      if ((err as { code?: string }).code !== '55006' || attempt >= 600) throw err;
      await sleep(100, signal);
    }
  }
}

export async function dropPublication(client: pg.Client, publication: string): Promise<void> {
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
}
