// Connection settings for the source database, from the validated config. The password comes
// from the environment (postgres.passwordEnv) and never appears in logs or errors.
import pg from 'pg';
import type { LoadedConfig } from '../../config/load.js';

export type PgConfig = pg.ClientConfig & { replication?: 'database' };

export function pgClientConfig(config: LoadedConfig, options: { replication?: boolean } = {}): PgConfig {
  return {
    host: config.postgres.host,
    port: config.postgres.port,
    database: config.postgres.database,
    user: config.postgres.user,
    password: config.postgresPassword,
    application_name: `vecrelay:${config.name}`,
    ...(options.replication ? { replication: 'database' as const } : {}),
  };
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
