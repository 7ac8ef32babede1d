// Kafka as `vecrelay plan` and the start-up preflight see it: are the brokers of kafka.brokers
// reachable, within a bound? A start must not retry an unreachable broker for minutes (or log a
// hundred lines about it): it says once which field names which addresses, and stops.
import { createKafka, type KafkaSettings } from '../kafka/client.js';
import { messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { Problem } from '../shared/problems.js';
import type { Check } from './types.js';

/** Within this, the brokers answer or the check fails (the whole start-up must fail within 10 s). */
export const KAFKA_CHECK_MS = 6_000;

export function kafkaUnreachableProblem(brokers: string[], err: unknown): Problem {
  return {
    object: 'kafka.brokers',
    message: `cannot reach Kafka at ${brokers.join(', ')} (kafka.brokers): ${messageOf(err)}`,
    fix: 'check kafka.brokers, and that the brokers run and accept connections from here',
  };
}

/** True when `err` (or its cause) is Kafka refusing our credentials: retrying cannot fix it. */
export function isKafkaAuthError(err: unknown): boolean {
  for (let e = err, n = 0; e && n < 8; e = (e as { cause?: unknown }).cause, n++) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'KafkaJSSASLAuthenticationError' || code === 'PLT_KFK_AUTHENTICATION') return true;
  }
  return false;
}

export function kafkaAuthProblem(brokers: string[], err: unknown): Problem {
  return {
    object: 'kafka.sasl',
    message: `Kafka at ${brokers.join(', ')} refused the credentials: ${messageOf(err)}`,
    fix: 'check the SASL mechanism, user and password of the kafka section (and that the user exists on the brokers)',
  };
}

/** One check line: OK with the cluster's size, or a problem naming kafka.brokers. */
export async function checkKafka(
  kafka: KafkaSettings, // kafkaSettings(config): with kafka.ssl and kafka.sasl
  log: Logger,
  timeoutMs = KAFKA_CHECK_MS,
): Promise<{ check: Check; problem?: Problem; err?: unknown }> {
  // kafkajs' own lines would repeat what the problem says, once per retry: silenced here.
  const client = createKafka(kafka, log.child({}, { level: 'silent' }), {
    retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1_500 },
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
  });
  const admin = client.admin();
  let timer: NodeJS.Timeout | undefined;
  try {
    const cluster = await Promise.race([
      admin.connect().then(() => admin.describeCluster()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    const n = cluster.brokers.length;
    return {
      check: {
        level: 'ok',
        object: 'kafka.brokers',
        message: `Kafka at ${kafka.brokers.join(', ')}: ${n} broker${n === 1 ? '' : 's'}, cluster ${cluster.clusterId}`,
        fix: '',
      },
    };
  } catch (err) {
    const problem = isKafkaAuthError(err)
      ? kafkaAuthProblem(kafka.brokers, err)
      : kafkaUnreachableProblem(kafka.brokers, err);
    return { check: { level: 'blocker', ...problem }, problem, err };
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}
