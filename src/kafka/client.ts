// The one place that knows kafkajs (it is in maintenance since 2023: keep it replaceable).
// kafkajs logs through its own logger; this routes its lines into the component's pino logger.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
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

export function createKafka(settings: KafkaSettings, log: Logger): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
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
  });
}
