// Connection settings for the source database, from the validated config: every Postgres
// connection vecrelay opens (admin, snapshot COPY, replication, status, plan) is built here, so
// postgres.ssl applies to all of them. The password comes from postgres.passwordEnv or
// passwordFile and never appears in logs or errors.
import pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';
import { tlsConnectProblem } from './tls-errors.js';

export type PgConfig = pg.ClientConfig & { replication?: 'database' };

export function pgClientConfig(config: LoadedConfig, options: { replication?: boolean } = {}): PgConfig {
  return {
    host: config.postgres.host,
    port: config.postgres.port,
    database: config.postgres.database,
    user: config.postgres.user,
    password: config.postgresPassword,
    application_name: `vecrelay:${config.name}`,
    // A fresh object per connection: node-postgres hides `key` on the object it is given.
    ...(config.postgresSsl === undefined
      ? {}
      : { ssl: config.postgresSsl === false ? false : { ...config.postgresSsl } }),
    ...(options.replication ? { replication: 'database' as const } : {}),
  };
}

/**
 * Connects a client built by pgClientConfig; a TLS mismatch (the server requires TLS and
 * postgres.ssl is off, the certificate does not verify...) becomes a ConfigError naming
 * postgres.ssl, since retrying cannot fix it.
 */
export async function connectClient(config: LoadedConfig, client: pg.Client): Promise<pg.Client> {
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw tlsConnectProblem(err, config) ?? err;
  }
  return client;
}

/** Opens a client, runs `fn`, always closes it. */
export async function withClient<T>(config: PgConfig, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  await client.connect();
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
