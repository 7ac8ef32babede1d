// Small Postgres helpers for tests against the stack's cluster.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { stackEnv, uniqueName, waitFor } from './stack.js';

export async function connectPg(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: stackEnv().pgUrl });
  await client.connect();
  return client;
}

export async function slotInfo(sql: pg.Client, slot: string) {
  const { rows } = await sql.query<{ active: boolean; confirmed: string | null; active_pid: number | null }>(
    `SELECT active, active_pid, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return rows[0];
}

/**
 * Current WAL position as a bigint-comparable pg_lsn text: the insert position, which every
 * commit that has returned lies below. The stack runs with synchronous_commit = off, so
 * pg_current_wal_lsn() (the write position) may still be short of a returned commit's end.
 */
export async function currentLsn(sql: pg.Client): Promise<string> {
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  return rows[0]!.lsn;
}

/** True when pg_lsn a >= b. */
export async function lsnAtLeast(sql: pg.Client, a: string | null | undefined, b: string): Promise<boolean> {
  if (!a) return false;
  const { rows } = await sql.query<{ ok: boolean }>(`SELECT $1::pg_lsn >= $2::pg_lsn AS ok`, [a, b]);
  return rows[0]!.ok;
}

export async function waitSlotActive(sql: pg.Client, slot: string, active = true, timeoutMs = 120_000) {
  await waitFor(
    `slot ${slot} ${active ? 'active' : 'inactive'}`,
    async () => (await slotInfo(sql, slot))?.active === active,
    {
      timeoutMs,
    },
  );
}

/** Drops what a source test created: the slot (once its process is gone) and the publication. */
export async function dropPipeline(sql: pg.Client, slot: string, publication: string) {
  await waitFor(`slot ${slot} released`, async () => !(await slotInfo(sql, slot))?.active, {
    timeoutMs: 30_000,
  }).catch(() => {});
  await sql.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  await sql.query(`DROP PUBLICATION IF EXISTS "${publication}"`);
}

/**
 * Waits until a client streams from the slot (START_REPLICATION has begun). waitSlotActive is
 * already satisfied while CREATE_REPLICATION_SLOT still waits for running transactions to end:
 * the slot is active then, but not yet consistent, and changes committed meanwhile may precede
 * its start and never be streamed.
 */
export async function waitSlotStreaming(sql: pg.Client, slot: string, timeoutMs = 120_000) {
  await waitFor(
    `slot ${slot} streaming`,
    async () => {
      const { rows } = await sql.query<{ state: string }>(
        `SELECT r.state FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
          WHERE s.slot_name = $1`,
        [slot],
      );
      return rows[0]?.state === 'catchup' || rows[0]?.state === 'streaming';
    },
    { timeoutMs },
  );
}

export interface LoginRole {
  role: string;
  password: string;
  /** The variable a config's postgres.passwordEnv names; `env` sets it for a vecrelay process. */
  passwordEnv: string;
  env: Record<string, string>;
}

/**
 * A new role that logs in with a random password (so a test can check it never shows up in the
 * output), with `options` such as NOREPLICATION; dropped by `cleanup`.
 */
export async function createLoginRole(
  { sql, cleanup }: { sql: pg.Client; cleanup(fn: () => Promise<unknown>): void },
  options: string,
  prefix = 'role',
): Promise<LoginRole> {
  const role = uniqueName(prefix);
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await sql.query(`CREATE ROLE ${role} LOGIN ${options} PASSWORD '${password}'`);
  cleanup(() => sql.query(`DROP ROLE IF EXISTS ${role}`));
  const passwordEnv = `VECRELAY_TEST_PW_${role.toUpperCase()}`;
  return { role, password, passwordEnv, env: { [passwordEnv]: password } };
}
