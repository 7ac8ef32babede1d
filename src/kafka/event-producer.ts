// The source's change-event producer: the one high-volume writer to Kafka.
//
// Everything else (admin, the sink's consumer group, descriptors, the state topic) uses kafkajs
// (client.ts). Change events go through @platformatic/kafka instead: on this project's 2-core
// machine kafkajs' produce path (JS CRC32C, a copy per encoding layer, zero-filled buffer growth)
// sent about 18k messages/s of 6.3 KB, half of what Postgres streams, while @platformatic/kafka's
// (native CRC32C, records appended without copying) sent about four times as many
// (`npx tsx bench/kafka-produce.ts` measures both).
//
// The producer is idempotent with acks=all. Its sequence numbers advance only when a produce
// request succeeds, so sends must not overlap: Publisher (publisher.ts) sends one request at a
// time and waits for its acknowledgement before the next.
import type { KafkaSettings } from './client.js';

type ProducerClass = (typeof import('@platformatic/kafka'))['Producer'];

let client: Promise<ProducerClass> | undefined;

/**
 * Imports @platformatic/kafka's producer, once. It compiles its option schemas when imported, so
 * it is not imported with the CLI: the source starts the import early (it overlaps the
 * preflight's round trips) and createEventProducer waits for it.
 */
export function loadEventProducerClient(): Promise<ProducerClass> {
  client ??= importProducer();
  return client;
}

/**
 * The producer module alone: the package's root also loads its consumer, admin and schema
 * registry clients (undici among them), ~0.13 s more CPU at every start (0.48 → 0.34 s to
 * import, 4 runs each). The package exports only its root, so the module is found next to it;
 * should a later version move it, the root is imported as before.
 */
async function importProducer(): Promise<ProducerClass> {
  try {
    const url = new URL('./clients/producer/index.js', import.meta.resolve('@platformatic/kafka'));
    const producer = (await import(url.href)) as { Producer?: ProducerClass };
    if (typeof producer.Producer === 'function') return producer.Producer;
  } catch {
    // another layout: the root below
  }
  return (await import('@platformatic/kafka')).Producer;
}

/** acks=all (Kafka's -1: every in-sync replica stored it). */
const ACKS_ALL = -1;

export interface EventMessage {
  topic: string;
  partition: number;
  key: Buffer;
  /** null = tombstone. */
  value: Buffer | null;
  headers?: ReadonlyMap<Buffer, Buffer>;
  /**
   * `value` is this message's own arena allocation (src/shared/arena.ts), given back once Kafka
   * stored it (Publisher). Set on one message per value at most.
   */
  recycle?: boolean;
}

/** What Publisher needs of a producer; one send at a time. */
export interface EventProducer {
  /** Resolves once Kafka has stored every message (acks=all). */
  send(messages: EventMessage[]): Promise<void>;
  close(): Promise<void>;
}

export async function createEventProducer(settings: KafkaSettings): Promise<EventProducer> {
  const Producer = await loadEventProducerClient();
  const producer = new Producer<Buffer, Buffer | null, Buffer, Buffer>({
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    // kafka.ssl / kafka.sasl; the mechanism names are Kafka's own, as in the config.
    ...(settings.security?.tls ? { tls: settings.security.tls } : {}),
    ...(settings.security?.sasl ? { sasl: { ...settings.security.sasl } } : {}),
    idempotent: true,
    autocreateTopics: false,
    // A produce request carries up to source.requestMaxBytes; give the broker time to store it.
    timeout: 30_000,
    connectTimeout: 10_000,
    // Retries resend the same sequence numbers, so the broker drops what it already stored.
    retries: 5,
    retryDelay: 500,
  });
  // Failures reach us through send(); an 'error' event with no listener would kill the process.
  producer.on('error', () => {});
  return {
    async send(messages) {
      // value null is written as a null record value: a tombstone.
      await producer.send({ messages: messages as never, acks: ACKS_ALL });
      // Resolved: the client is done with the messages (a retry resends them before this).
    },
    async close() {
      await producer.close(true);
    },
  };
}
