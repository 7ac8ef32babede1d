// The clients the operator commands need — a Postgres connection and a Kafka admin — and a bound
// on every call they make. An operator command answers within seconds or says which system did
// not answer and which config field points at it; it never waits on a client's own retries
// (kafkajs retries a missing topic or an unreachable broker for minutes).
import type pg from 'pg';
import type { Admin, Kafka } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { createKafka, kafkaSettings } from '../kafka/client.js';
import { ConfigError, RetriableError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { connectClient, passwordSource, pgClientConfig } from '../source/postgres/connect.js';

/** How long any one call of an operator command may take. */
export const OPS_CALL_TIMEOUT_MS = 10_000;

/**
 * A system an operator command could not reach or that did not answer in time. It ends a command
 * the way a misconfiguration does (one line naming the system and its config field, exit 2);
 * `status` catches it and reports it beside what the other systems said.
 */
export class Unreachable extends ConfigError {}

/** `call`, or an Unreachable naming `what` once `ms` pass without an answer. */
export async function bounded<T>(what: string, call: Promise<T>, ms = OPS_CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Unreachable(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([call, timeout]);
  } catch (err) {
    if (err instanceof Unreachable) throw err;
    throw new Unreachable(`${what}: ${messageOf(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `err` (or an error it wraps) is a Kafka broker's answer that a moment later may be
 * another: a partition's leader being elected, a group coordinator loading — what a topic or
 * group created a moment ago answers. kafkajs marks these protocol errors retriable. A broker
 * that does not answer at all is not one: that stays Unreachable.
 */
export function brokerBusy(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const answer = e as { name?: string; retriable?: boolean };
    if (answer.name === 'KafkaJSProtocolError' && answer.retriable === true) return true;
  }
  return false;
}

export const postgresWhere = (config: LoadedConfig) =>
  `PostgreSQL at ${config.postgres.host}:${config.postgres.port} (postgres.host, postgres.port)`;
export const kafkaWhere = (config: LoadedConfig) =>
  `Kafka at ${config.kafka.brokers.join(',')} (kafka.brokers)`;

export async function connectPostgres(
  config: LoadedConfig,
  log: Logger,
  /** A bound on each query; null for none (verify's table scans). */
  { queryTimeoutMs = OPS_CALL_TIMEOUT_MS }: { queryTimeoutMs?: number | null } = {},
): Promise<pg.Client> {
  // connectClient: the client has its 'error' listener (a server that goes away between two
  // queries fails the next query, which says so; the event itself must not end the process), and
  // a failure that names its own fix (a wrong password, postgres.ssl) is reported as it is.
  const connecting = connectClient(
    {
      ...pgClientConfig(config),
      connectionTimeoutMillis: OPS_CALL_TIMEOUT_MS,
      ...(queryTimeoutMs === null ? {} : { query_timeout: queryTimeoutMs }),
    },
    {
      password: passwordSource(config),
      config,
      onError: (err) => log.debug({ err }, 'ops: Postgres connection lost'),
    },
  ).catch((err: unknown) => {
    if (err instanceof ConfigError) throw new Unreachable(err.message, { cause: err });
    // A refused or lost connection: bounded() says where, before the driver's own words.
    throw err instanceof RetriableError && err.cause !== undefined ? err.cause : err;
  });
  try {
    return await bounded(postgresWhere(config), connecting);
  } catch (err) {
    void connecting.then((client) => client.end()).catch(() => {}); // one that answers too late
    throw err;
  }
}

export async function connectKafka(config: LoadedConfig, log: Logger): Promise<Admin> {
  return (await connectKafkaClient(config, log)).admin;
}

/** The client (for reading topics: cutover reads the state and dead-letter topics) and its admin. */
export async function connectKafkaClient(
  config: LoadedConfig,
  log: Logger,
  clientId = `${config.kafka.clientId}-ops`,
): Promise<{ kafka: Kafka; admin: Admin }> {
  // kafkajs logs each retry of each call at error level; the command reports the outcome itself.
  const quiet = log.child({ component: 'kafka' }, { level: 'silent' });
  const kafka = createKafka(kafkaSettings(config, clientId), quiet);
  const admin = kafka.admin();
  try {
    await bounded(kafkaWhere(config), admin.connect());
  } catch (err) {
    void admin.disconnect().catch(() => {});
    throw err;
  }
  return { kafka, admin };
}

export interface OpsClients {
  sql: pg.Client;
  kafka: Kafka;
  admin: Admin;
  close(): Promise<void>;
}

/** An Unreachable as the ConfigError a command stops with (exit 2); any other error as it is. */
export function unreachable(err: unknown): unknown {
  if (!(err instanceof Unreachable)) return err;
  if (err.cause instanceof ConfigError) return err.cause; // it names its fix already
  return new ConfigError(`${err.message}: check its address and credentials, and that it runs`, {
    cause: err,
  });
}

/**
 * Both clients, for commands that need both (cutover, teardown): a system that cannot be reached
 * is a ConfigError naming it and its config field (exit 2).
 */
export async function openOps(config: LoadedConfig, log: Logger): Promise<OpsClients> {
  const sql = await connectPostgres(config, log).catch((err: unknown) => {
    throw unreachable(err);
  });
  const { kafka, admin } = await connectKafkaClient(config, log).catch(async (err: unknown) => {
    await sql.end().catch(() => {});
    throw unreachable(err);
  });
  return {
    sql,
    kafka,
    admin,
    async close() {
      await Promise.race([admin.disconnect().catch(() => {}), delay(2000)]);
      await Promise.race([sql.end().catch(() => {}), delay(2000)]);
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
