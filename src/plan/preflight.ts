// The start-up preflight of `vecrelay run` and `vecrelay source`: PostgreSQL, Kafka and Qdrant
// are each checked, read-only, before anything is created (slot, publication, topics), so a
// failure that retrying cannot fix stops the start (ConfigError: exit 2) and leaves nothing
// behind. The checks are the ones `vecrelay plan` reports; each failure names its system and
// the config field to look at. Order matters for the message: a dead Postgres stops before
// Kafka is contacted, so it is never reported as a Kafka problem.
import type { LoadedConfig } from '../config/load.js';
import { ConfigError, RetriableError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { ProblemError, throwFirst } from '../shared/problems.js';
import { retry } from '../shared/retry.js';
import type { TableInfo } from '../source/postgres/catalog.js';
import { connectClient, passwordSource, pgClientConfig } from '../source/postgres/connect.js';
import { cannotConnectMessage } from '../source/postgres/errors.js';
import { checkServer, checkTables } from '../source/postgres/preflight.js';
import { checkKafka } from './kafka.js';
import { createKafka, kafkaSettings } from '../kafka/client.js';
import { checkOwners } from '../kafka/owners.js';
import { stateTopic } from '../event/names.js';
import { readIdentity } from '../source/postgres/identity.js';
import { kafkaSecurityProblem } from '../kafka/security.js';
import { checkQdrant, qdrantTarget } from './qdrant.js';
import { dimensionProblem } from '../sink/collections.js';

/** A server that is starting up (57P03) or briefly refusing gets this long at start-up. */
const PG_CONNECT_MS = 3_000;

async function connectPostgres(config: LoadedConfig, signal?: AbortSignal) {
  const deadline = Date.now() + PG_CONNECT_MS;
  try {
    // With `config`: a TLS mismatch is named (postgres.ssl), not reported as a failed connection.
    return await retry(
      () => connectClient(pgClientConfig(config), { password: passwordSource(config), config }),
      {
        signal,
        backoff: { initialMs: 250, maxMs: 1_000 },
        retriable: (err) => err instanceof RetriableError && Date.now() <= deadline,
      },
    );
  } catch (err) {
    if (!(err instanceof RetriableError)) throw err;
    const { host, port, database, user } = config.postgres;
    throw new ConfigError(
      cannotConnectMessage({ host, port, database, user }, err.cause ?? err, passwordSource(config)),
      { cause: err },
    );
  }
}

/** PostgreSQL's checks: the server, then every table. Returns the tables as the catalog reads them. */
export async function preflightPostgres(config: LoadedConfig, signal?: AbortSignal): Promise<TableInfo[]> {
  const client = await connectPostgres(config, signal);
  try {
    await checkServer(client, config);
    return await checkTables(client, config);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Refuses topics recorded by another pipeline (src/kafka/owners.ts): a ConfigError naming it. */
async function preflightOwners(config: LoadedConfig, tables: TableInfo[], log: Logger, signal?: AbortSignal) {
  const client = await connectPostgres(config, signal);
  let me;
  try {
    me = await readIdentity(client, config.name);
  } finally {
    await client.end().catch(() => {});
  }
  const kafka = createKafka(kafkaSettings(config), log.child({ component: 'kafka' }));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await checkOwners(kafka, admin, {
      topicPrefix: config.kafka.topicPrefix,
      me,
      tables,
      stateTopic: stateTopic(config.kafka.topicPrefix, config.name),
    });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * All three systems, in order; throws the first blocker (a ProblemError: exit 2). `qdrant`:
 * check Qdrant too (when the config has a qdrant section).
 */
export async function preflight(
  config: LoadedConfig,
  log: Logger,
  { qdrant = true, signal }: { qdrant?: boolean; signal?: AbortSignal } = {},
): Promise<TableInfo[]> {
  const tables = await preflightPostgres(config, signal);
  const kafka = await checkKafka(kafkaSettings(config), log);
  // A refused SASL login or a certificate that does not verify: named by its field (kafka.sasl,
  // kafka.ssl) and where the password came from, as the source names it once running.
  if (kafka.problem) throw kafkaSecurityProblem(kafka.err, config) ?? new ProblemError(kafka.problem);
  // Topics another pipeline with the same kafka.topicPrefix records as its own: before the sink
  // (of `vecrelay run`) reads them or the source writes to them.
  await preflightOwners(config, tables, log, signal);
  const target = qdrant ? qdrantTarget(config) : undefined;
  if (target) {
    // A vector column without a dimension cannot have a collection (the sink would stop on it).
    throwFirst(...tables.flatMap((t) => t.vectors.map((v) => dimensionProblem(`${t.schema}.${t.table}`, v))));
    throwFirst(...(await checkQdrant(target, config, tables)).map((c) => c.problem));
  }
  log.debug('preflight passed: PostgreSQL, Kafka' + (target ? ' and Qdrant' : ''));
  return tables;
}
