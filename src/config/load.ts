// Reads a pipeline config (YAML or JSON), validates it once, and resolves secrets from the
// environment. Every error names the file, the field and what to write instead.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { ConfigError } from '../shared/errors.js';
import { configSchema, type PipelineConfig } from './schema.js';
import { readSecrets, trustQdrantCa, type Secrets } from './secrets.js';

export interface LoadedConfig
  extends PipelineConfig, Pick<Secrets, 'postgresSsl' | 'kafkaSecurity' | 'qdrantCa'> {
  /** Where it came from, for messages. */
  file: string;
  /** The Postgres password from postgres.passwordEnv or passwordFile, if any. Never logged. */
  postgresPassword: string | undefined;
  /** The Qdrant API key from qdrant.apiKeyEnv, if set. Never logged. */
  qdrantApiKey: string | undefined;
}

function describeIssues(file: string, err: ZodError): string {
  return err.issues
    .flatMap((i) =>
      // An unknown key is named by its own path (postgres.bogus), not by its parent's.
      i.code === 'unrecognized_keys'
        ? i.keys.map(
            (k) => `${file}: ${[...i.path, k].join('.')}: unknown field: remove it or fix its spelling`,
          )
        : [`${file}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`],
    )
    .join('\n');
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(file, result.error));
  const config = result.data;

  const names = new Set<string>();
  for (const [i, t] of config.tables.entries()) {
    if (names.has(t.table)) throw new ConfigError(`${file}: tables.${i}.table: ${t.table} is listed twice`);
    names.add(t.table);
    const overlap = t.vectors?.filter((v) => t.payload?.includes(v)) ?? [];
    if (overlap.length)
      throw new ConfigError(
        `${file}: tables.${i}: ${overlap.join(', ')} cannot be both a vector and payload`,
      );
  }

  // Every `*Env` field (postgres.passwordEnv, qdrant.apiKeyEnv, and any added later) names a
  // variable that must be set: a secret silently missing would only show up later, as a refused
  // connection blamed on something else.
  for (const { path, variable } of envFields(config))
    if (env[variable] === undefined)
      throw new ConfigError(
        `${file}: ${path} names ${variable}, which is not set: export ${variable}=... before starting`,
      );
  const passwordEnv = config.postgres.passwordEnv;
  let postgresPassword = passwordEnv ? env[passwordEnv] : undefined;
  const apiKeyEnv = config.qdrant?.apiKeyEnv;
  const qdrantApiKey = apiKeyEnv ? env[apiKeyEnv] : undefined;
  // TLS material and the Kafka and file-held passwords (secrets.ts).
  const { postgresPasswordFromFile, ...secrets } = readSecrets(config, file, env);
  postgresPassword ??= postgresPasswordFromFile;
  return { ...config, file, postgresPassword, qdrantApiKey, ...secrets };
}

/** Every string field whose name ends in `Env`, with its dotted path, in document order. */
export function envFields(value: unknown, path: string[] = []): Array<{ path: string; variable: string }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => envFields(v, [...path, String(i)]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) =>
    key.endsWith('Env') && typeof v === 'string'
      ? [{ path: [...path, key].join('.'), variable: v }]
      : envFields(v, [...path, key]),
  );
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the config ${file}: ${(err as Error).message}`);
  }
  const config = parseConfig(text, file, env);
  // The process is starting with this config: trust its Qdrant CA from here on (secrets.ts).
  trustQdrantCa(config.qdrantCa, file);
  return config;
}

/** Splits "schema.table". */
export function splitTable(qualified: string): { schema: string; table: string } {
  const dot = qualified.indexOf('.');
  return { schema: qualified.slice(0, dot), table: qualified.slice(dot + 1) };
}
