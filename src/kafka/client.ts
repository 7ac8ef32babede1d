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

/**
 * The level for what kafkajs logs as an error but handles itself, or leaves to a caller that does:
 * - the connection logs each error answer of the broker ("Response CreateTopics(...)": a topic
 *   that exists already; "does not host this topic-partition" while metadata settles) before
 *   its caller, which retries or handles it, has seen it: debug (what the caller cannot handle,
 *   it reports);
 * - a consumer whose member the coordinator expired (its session timed out during a rebalance,
 *   or a heartbeat of the sink's fence found it gone: sink/consumer.ts abandons the batch and
 *   says so) rejoins the group: an ordinary event of a consumer group, a warning like kafkajs'
 *   own "The group is rebalancing, re-joining";
 * - a failure kafkajs is about to retry (its entry carries `retryCount`: "Failed to send messages:
 *   This server is not the leader for that topic-partition" while a restarted broker's leaders
 *   move, "Restarting the consumer in ... ms"): a warning. If the retries run out, the call fails
 *   and its caller reports it;
 * - a connection that could not be opened in time or broke ("Connection timeout", "Connection
 *   error"): the request on it fails and its caller retries — a warning, as above.
 */
function handledLevel(namespace: string, message: string, retryCount: unknown): 'error' | 'warn' | 'debug' {
  if (message.startsWith('Response ')) return 'debug';
  if (namespace === 'Connection') return 'warn';
  if (message.startsWith('The coordinator is not aware of this member')) return 'warn';
  if (typeof retryCount === 'number') return 'warn';
  return 'error';
}

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
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        const text = String(message);
        log[
          level === logLevel.ERROR
            ? handledLevel(namespace, text, rest.retryCount)
            : (LEVELS[level] ?? 'info')
        ](
          { kafka: namespace, ...rest }, // kafkajs' part (Runner, Connection...): its level is pino's
          text,
        );
      },
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 10_000 },
    // kafkajs' 1 s is short for a busy machine: a refused connection fails at once anyway.
    connectionTimeout: 5_000,
    ...tuning,
  });
}
