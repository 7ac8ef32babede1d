// The one place that knows kafkajs (facts/kafka.md: it is in maintenance; keep it replaceable).
// kafkajs logs through its own logger; this routes its lines into the component's pino logger.
import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from '../shared/log.js';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
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
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info']({ kafka: label, ...rest }, String(message));
      },
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    ...tuning,
  });
}
