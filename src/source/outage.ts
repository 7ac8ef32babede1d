// Which system a failure of the source came from, and one log line per outage.
//
// A server restart under the source (PostgreSQL fast or immediate, a Kafka broker killed and
// started again) ends the session; the source backs off and resumes from the slot. The person
// reading the log needs one line saying which system went away and where (host and the config
// field), not a stack trace per retry: the first failure of an outage is a warning, the retries
// that follow while the same system is still away are debug lines, and the resume is an info line.
import type { LoadedConfig } from '../config/load.js';
import { messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { isConnectionLost } from './postgres/errors.js';
import { POSTGRES_ORIGIN } from './postgres/replication.js';

export type FailedSystem = 'PostgreSQL' | 'Kafka' | 'unknown';

const PG_MESSAGE =
  /Connection terminated|terminating connection|server closed the connection|Client has encountered a connection error|the database system is|replication stream ended|^PostgreSQL /i;

function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e && out.length < 8; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

export function failedSystem(err: unknown, config: LoadedConfig): FailedSystem {
  for (const e of chain(err)) {
    const { name, code, port, severity } = e as {
      name?: unknown;
      code?: unknown;
      port?: unknown;
      severity?: unknown;
    };
    if ((e as Record<symbol, unknown>)[POSTGRES_ORIGIN]) return 'PostgreSQL';
    if (typeof name === 'string' && name.startsWith('KafkaJS')) return 'Kafka';
    if (typeof code === 'string' && code.startsWith('PLT_KFK')) return 'Kafka';
    if (/^Kafka /.test(messageOf(e))) return 'Kafka';
    if (typeof severity === 'string') return 'PostgreSQL'; // pg's DatabaseError
    if (port === config.postgres.port) return 'PostgreSQL'; // a refused connect (ECONNREFUSED)
    if (PG_MESSAGE.test(messageOf(e))) return 'PostgreSQL';
  }
  return 'unknown';
}

export function whereIs(system: FailedSystem, config: LoadedConfig): string {
  if (system === 'PostgreSQL')
    return `PostgreSQL at ${config.postgres.host}:${config.postgres.port} (postgres.host, postgres.port)`;
  if (system === 'Kafka') return `Kafka at ${config.kafka.brokers.join(', ')} (kafka.brokers)`;
  return 'the source';
}

export class OutageLog {
  private current: FailedSystem | undefined;

  constructor(
    private readonly log: Logger,
    private readonly config: LoadedConfig,
  ) {}

  /** True between a failure and the recovery. */
  get active(): boolean {
    return this.current !== undefined;
  }

  /** A failure the source retries after `delayMs`. */
  failed(err: unknown, delayMs: number): void {
    const system = failedSystem(err, this.config);
    const seconds = Math.round(delayMs / 100) / 10;
    const line =
      system === 'unknown'
        ? `the source failed: ${messageOf(err)}; retrying in ${seconds} s`
        : system === 'PostgreSQL' && !chain(err).some(isConnectionLost)
          ? `${whereIs(system, this.config)} failed: ${messageOf(err)}; retrying in ${seconds} s`
          : `${whereIs(system, this.config)} is unavailable: ${messageOf(err)}; reconnecting in ${seconds} s`;
    if (this.current === system) this.log.debug({ system, delayMs }, line);
    else if (system === 'unknown') this.log.warn({ err, delayMs }, line);
    else this.log.warn({ system, delayMs }, line);
    this.current = system;
  }

  /** Streaming again (or the step that failed went through). */
  recovered(): void {
    if (!this.current) return;
    this.log.info(
      { system: this.current },
      `${this.current === 'unknown' ? 'the source' : this.current} is back: resumed`,
    );
    this.current = undefined;
  }
}
