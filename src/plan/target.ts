// What `vecrelay plan` connects to: a pipeline config (--config), or a bare connection string
// (--url postgresql://user@host:port/db, the password from PGPASSWORD). The password is used to
// connect and never kept anywhere it could be printed.
import { readFileSync } from 'node:fs';
import type { LoadedConfig } from '../config/load.js';
import { pgSslOptions, type SslMode } from '../config/secrets.js';
import { ConfigError } from '../shared/errors.js';
import { pgClientConfig, type PgConfig } from '../source/postgres/connect.js';

export interface PlanTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Connection settings (with the password). Never print this. */
  connection: PgConfig;
  /** The loaded config with --config; undefined with --url. */
  config: LoadedConfig | undefined;
}

export function describeTarget(t: Pick<PlanTarget, 'host' | 'port' | 'database' | 'user'>): string {
  return `${t.user}@${t.host}:${t.port}/${t.database}`;
}

export function targetFromConfig(config: LoadedConfig): PlanTarget {
  const { host, port, database, user } = config.postgres;
  return {
    host,
    port,
    database,
    user,
    connection: { ...pgClientConfig(config), application_name: 'vecrelay:plan' },
    config,
  };
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** A file named by a URL parameter (sslrootcert, sslcert, sslkey), read now. */
function urlFile(parsed: URL, name: string): string | undefined {
  const file = parsed.searchParams.get(name);
  if (!file) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `--url: ${name}=${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Parses postgresql://user[:password]@host[:port]/database[?sslmode=...&sslrootcert=...&sslcert=...
 * &sslkey=...]; sslmode means what postgres.ssl.mode does (config/secrets.ts), `allow` = disable.
 */
export function targetFromUrl(url: string, env: NodeJS.ProcessEnv = process.env): PlanTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      '--url is not a connection URL: write it as postgresql://user@host:port/database (the password in PGPASSWORD)',
    );
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:')
    throw new ConfigError(
      `--url must start with postgresql:// (it starts with ${parsed.protocol}//): postgresql://user@host:port/database`,
    );
  const user = decodeURIComponent(parsed.username) || env.PGUSER;
  if (!user)
    throw new ConfigError(
      '--url names no user: write it as postgresql://user@host:port/database (or set PGUSER)',
    );
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = parsed.port ? Number(parsed.port) : 5432;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  const password = parsed.password ? decodeURIComponent(parsed.password) : env.PGPASSWORD;
  const sslmode = parsed.searchParams.get('sslmode') ?? 'disable';
  if (!SSLMODES.includes(sslmode))
    throw new ConfigError(`--url: sslmode=${sslmode} is not one of ${SSLMODES.join(', ')}`);
  const ssl =
    sslmode === 'disable' || sslmode === 'allow'
      ? undefined
      : pgSslOptions(sslmode as SslMode, {
          ca: urlFile(parsed, 'sslrootcert'),
          cert: urlFile(parsed, 'sslcert'),
          key: urlFile(parsed, 'sslkey'),
        });
  return {
    host,
    port,
    database,
    user,
    connection: {
      host,
      port,
      database,
      user,
      password,
      application_name: 'vecrelay:plan',
      ...(ssl ? { ssl } : {}),
    },
    config: undefined,
  };
}
