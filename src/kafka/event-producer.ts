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

let client: Promise<typeof import('@platformatic/kafka')> | undefined;

/**
 * Imports @platformatic/kafka, once. It compiles its option schemas when imported (~0.3 s here),
 * so it is not imported with the CLI: the source starts the import early (it overlaps the
 * preflight's round trips) and createEventProducer waits for it.
 */
export function loadEventProducerClient(): Promise<typeof import('@platformatic/kafka')> {
  client ??= import('@platformatic/kafka');
  return client;
}

export interface EventMessage {
  topic: string;
  partition: number;
  key: Buffer;
  /** null = tombstone. */
  value: Buffer | null;
  headers?: ReadonlyMap<Buffer, Buffer>;
}

/** What Publisher needs of a producer; one send at a time. */
export interface EventProducer {
  /** Resolves once Kafka has stored every message (acks=all). */
  send(messages: EventMessage[]): Promise<void>;
  close(): Promise<void>;
}

export async function createEventProducer(settings: KafkaSettings): Promise<EventProducer> {
  const { Producer, ProduceAcks } = await loadEventProducerClient();
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
      await producer.send({ messages: messages as never, acks: ProduceAcks.ALL });
    },
    async close() {
      await producer.close(true);
    },
  };
}
