// The one place that knows kafkajs (it is in maintenance since 2023: keep it replaceable).
// kafkajs logs through its own logger; this routes its lines into the component's pino logger.
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../shared/log.js';
import { kafkajsSasl, type KafkaSecurity } from './security.js';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** kafka.ssl and kafka.sasl, resolved (secrets.ts); absent: plaintext, no login. */
  security?: KafkaSecurity;
}

/** The settings every Kafka client of a pipeline is built from (security included). */
export function kafkaSettings(config: LoadedConfig, clientId = config.kafka.clientId): KafkaSettings {
  return { brokers: config.kafka.brokers, clientId, security: config.kafkaSecurity };
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** `tuning` overrides the defaults below (a bounded start-up check wants fewer, shorter retries). */
export function createKafka(
  settings: KafkaSettings,
  log: Logger,
  tuning: Pick<KafkaConfig, 'retry' | 'connectionTimeout' | 'requestTimeout'> = {},
): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    ssl: settings.security?.tls,
    sasl: kafkajsSasl(settings.security),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // kafkajs' connection logs each error answer of the broker ("Response CreateTopics(...)":
        // a topic that exists already; "does not host this topic-partition" while metadata
        // settles) at error level before its caller, which retries or handles it, has seen it.
        // Those are debug; what the caller cannot handle, it reports.
        const handled = level === logLevel.ERROR && String(message).startsWith('Response ');
        log[handled ? 'debug' : (LEVELS[level] ?? 'info')]({ kafka: label, ...rest }, String(message));
      },
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    ...tuning,
  });
}
