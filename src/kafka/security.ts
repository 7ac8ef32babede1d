// kafka.ssl and kafka.sasl for both Kafka clients (kafkajs in client.ts, @platformatic/kafka in
// event-producer.ts), and the failures they cause, which retrying cannot fix: a refused SASL
// login or a broker certificate that does not verify becomes a ConfigError naming the field.
import type { SASLOptions } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import type { KafkaSecurity } from '../config/secrets.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import { EXPIRED_CERT_CODE, UNTRUSTED_CERT_CODES, WRONG_HOST_CODE } from '../shared/tls-codes.js';

export type { KafkaSecurity };

/** kafkajs spells the mechanisms in lower case. */
export function kafkajsSasl(security: KafkaSecurity | undefined): SASLOptions | undefined {
  const sasl = security?.sasl;
  if (!sasl) return undefined;
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username, password };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

/** Node's codes for a certificate that does not chain to a trusted CA or names another host. */
const TLS_CODES = new Set([...UNTRUSTED_CERT_CODES, EXPIRED_CERT_CODE, WRONG_HOST_CODE]);

/** The error and everything it wraps (cause chains, kafkajs' originalError, AggregateErrors). */
function* chain(err: unknown, depth = 0): Generator<unknown> {
  if (err === null || err === undefined || depth > 8) return;
  yield err;
  const e = err as { cause?: unknown; originalError?: unknown; errors?: unknown };
  yield* chain(e.cause, depth + 1);
  yield* chain(e.originalError, depth + 1);
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* chain(inner, depth + 1);
}

/**
 * A ConfigError for a Kafka failure caused by kafka.sasl or kafka.ssl, else undefined. Both
 * clients are recognised: kafkajs' KafkaJSSASLAuthenticationError and @platformatic/kafka's
 * PLT_KFK_AUTHENTICATION (wrapped in a NetworkError).
 */
export function kafkaSecurityProblem(err: unknown, config: LoadedConfig): ConfigError | undefined {
  const brokers = config.kafka.brokers.join(',');
  const sasl = config.kafka.sasl;
  for (const e of chain(err)) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'KafkaJSSASLAuthenticationError' || code === 'PLT_KFK_AUTHENTICATION') {
      const from = sasl?.passwordEnv ? `the variable ${sasl.passwordEnv}` : sasl?.passwordFile;
      return new ConfigError(
        `${config.file}: kafka.sasl: Kafka (${brokers}) refused the login (${messageOf(e)}): ` +
          (sasl
            ? `check kafka.sasl.username (${sasl.username}), kafka.sasl.mechanism (${sasl.mechanism}) and the password in ${from}`
            : 'the brokers require SASL: set kafka.sasl'),
        { cause: err },
      );
    }
    if (typeof code === 'string' && TLS_CODES.has(code))
      return new ConfigError(
        `${config.file}: kafka.ssl: the certificate of Kafka (${brokers}) does not verify (${messageOf(e)}): ` +
          "set kafka.ssl.caFile to the CA that signed the brokers' certificates, and list the brokers by a name their certificates carry",
        { cause: err },
      );
  }
  return undefined;
}
