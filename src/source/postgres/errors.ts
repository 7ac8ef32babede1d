// What a Postgres failure means for the pipeline: like every adapter, this one maps its own
// failures to "retrying can help" or not where they arise (src/shared/errors.ts), so the retry
// loops read only that.
//
// Retrying cannot fix a wrong password, a missing database or a missing privilege: those stop
// the process with the same message `vecrelay plan` gives. A connection that is refused, reset or
// terminated (a restart: 57P01 admin_shutdown, 57P03 cannot_connect_now while starting) is
// retried with backoff.
import { ConfigError, RetriableError, messageOf } from '../../shared/errors.js';

/** SQLSTATEs a retry cannot fix, with what to check. */
const FATAL: Record<string, string> = {
  '28P01': 'wrong password',
  '28000': 'the server refused this role (pg_hba.conf, or the role may not log in)',
  '3D000': 'no such database',
  '42501': 'permission denied',
  '42P01': 'no such table',
  '3F000': 'no such schema',
};

/** Connection failures and server restarts: passing faults. */
const TRANSIENT_SQLSTATE = /^(08|57P0|53300|40001|40P01|55006)/;
const TRANSIENT_SYSCALL = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

export function sqlstateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for the errors of a connection that went away or could not be made (a retry may work). */
export function isConnectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (TRANSIENT_SYSCALL.has(code) || TRANSIENT_SQLSTATE.test(code))) return true;
  return /Connection terminated|terminating connection|server closed the connection|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)/i.test(
    messageOf(err),
  );
}

/** True for a failure no retry can fix (authentication, missing database, privileges). */
export function isFatalPgError(err: unknown): boolean {
  const code = sqlstateOf(err);
  return code !== undefined && code in FATAL;
}

export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

/**
 * The message `vecrelay plan` and the source give when PostgreSQL cannot be reached or refuses
 * the connection. `password` says where the password comes from (PGPASSWORD, or
 * postgres.passwordEnv's variable).
 */
export function cannotConnectMessage(target: PgTarget, err: unknown, password: string): string {
  return (
    `cannot connect to PostgreSQL ${target.user}@${target.host}:${target.port}/${target.database}: ${messageOf(err)}: ` +
    `check the host, port, database, user and ${password} (postgres.host, postgres.port, postgres.database, ` +
    'postgres.user), and that PostgreSQL accepts connections from here'
  );
}

/**
 * `err` as the pipeline should see it: a ConfigError, a RetriableError, or itself. `connecting`:
 * it came from connect(), so a fatal one is reported as plan reports a failed connection.
 */
export function classifyPgError(
  err: unknown,
  target: PgTarget,
  password: string,
  connecting = false,
): unknown {
  if (err instanceof ConfigError || err instanceof RetriableError) return err;
  if (isFatalPgError(err))
    return new ConfigError(
      connecting
        ? cannotConnectMessage(target, err, password)
        : `PostgreSQL ${target.user}@${target.host}:${target.port}/${target.database} refused: ${messageOf(err)} (${FATAL[sqlstateOf(err)!]}): ` +
            `grant what it names to ${target.user}, or fix the config`,
      { cause: err },
    );
  if (isConnectionLost(err))
    return new RetriableError(
      `PostgreSQL at ${target.host}:${target.port} (postgres.host/postgres.port): ${messageOf(err)}`,
      { cause: err },
    );
  return err;
}
