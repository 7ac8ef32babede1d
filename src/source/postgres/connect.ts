// Connection settings for the source database, from the validated config: every Postgres
// connection vecrelay opens (admin, snapshot COPY, replication, status, plan) is built here, so
// postgres.ssl applies to all of them. The password comes from postgres.passwordEnv or
// passwordFile (read again for each connection: a rotated password needs no restart) and never
// appears in logs or errors.
//
// Every pg.Client is made here, with an 'error' listener: pg emits 'error' on a client whose
// server went away (a restart terminates every backend: 57P01), and an EventEmitter's 'error'
// with no listener kills the process. The error also fails the client's next query, which is
// where callers see it; those that hold a client idle pass `onError` to hear of it at once.
import pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';
import { rereadPasswordFile } from '../../config/secrets.js';
import { classifyPgError, type PgTarget } from './errors.js';
import { tlsConnectProblem } from './tls-errors.js';

export type PgConfig = pg.ClientConfig & { replication?: 'database' };

export function pgClientConfig(config: LoadedConfig, options: { replication?: boolean } = {}): PgConfig {
  return {
    host: config.postgres.host,
    port: config.postgres.port,
    database: config.postgres.database,
    user: config.postgres.user,
    password: config.postgres.passwordFile
      ? rereadPasswordFile(config.postgres.passwordFile, config.postgresPassword)
      : config.postgresPassword,
    application_name: `vecrelay:${config.name}`,
    // A fresh object per connection: node-postgres hides `key` on the object it is given.
    ...(config.postgresSsl === undefined
      ? {}
      : { ssl: config.postgresSsl === false ? false : { ...config.postgresSsl } }),
    // A dead address must not hang start-up or a reconnect.
    connectionTimeoutMillis: 10_000,
    ...(options.replication ? { replication: 'database' as const } : {}),
  };
}

/** Where the password of `config` comes from, for messages. */
export function passwordSource(config: LoadedConfig): string {
  if (config.postgres.passwordEnv)
    return `the password in ${config.postgres.passwordEnv} (postgres.passwordEnv)`;
  if (config.postgres.passwordFile)
    return `the password in ${config.postgres.passwordFile} (postgres.passwordFile)`;
  return 'the password (postgres.passwordEnv or postgres.passwordFile)';
}

function targetOf(pgConfig: PgConfig): PgTarget {
  return {
    host: String(pgConfig.host ?? 'localhost'),
    port: Number(pgConfig.port ?? 5432),
    database: String(pgConfig.database ?? ''),
    user: String(pgConfig.user ?? ''),
  };
}

/** A client (not connected) with an 'error' listener; see the top of this file. */
export function newClient(pgConfig: PgConfig, onError: (err: Error) => void = () => {}): pg.Client {
  const client = new pg.Client(pgConfig);
  client.on('error', onError);
  return client;
}

/**
 * A connected client. A failure to connect is classified (errors.ts): a wrong password or a
 * missing database is a ConfigError with plan's message, a refused connection a RetriableError.
 */
export async function connectClient(
  pgConfig: PgConfig,
  options: { password?: string; onError?: (err: Error) => void; config?: LoadedConfig } = {},
): Promise<pg.Client> {
  const client = newClient(pgConfig, options.onError);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    // A TLS mismatch (the server requires TLS and postgres.ssl is off, the certificate does not
    // verify...) names postgres.ssl: retrying cannot fix it either.
    throw (
      (options.config && tlsConnectProblem(err, options.config)) ??
      classifyPgError(err, targetOf(pgConfig), options.password ?? 'the password', true)
    );
  }
  return client;
}

/** Opens a client, runs `fn`, always closes it. */
export async function withClient<T>(config: PgConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient(config);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Quotes an identifier the way PostgreSQL's quote_ident does (always quoted). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteTable(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
