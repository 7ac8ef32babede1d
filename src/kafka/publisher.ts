// Sends events to Kafka in batches and reports, per message, when Kafka has stored it (acks=all,
// idempotent producer: retries never reorder or duplicate within a session).
//
// - One request carries a record batch per partition. Each partition's batch stays under
//   batchMaxBytes (a batch is never split, and one over the broker's message.max.bytes fails
//   without retry); the whole request stays under requestMaxBytes. Big requests matter: the
//   idempotent producer has one produce request in flight, so throughput is bytes per round trip.
// - Backpressure: publish() waits while more than maxInFlightBytes are queued or unacknowledged,
//   so a slow or absent Kafka pauses the caller (and through it the WAL stream) with bounded memory.
// - A failed send fails the publisher for good: later messages must not overtake the lost ones.
//   The owner builds a new publisher and replays from its last acknowledged position.
import { VecrelayError } from '../shared/errors.js';
import type { EventMessage, EventProducer } from './event-producer.js';

/** `partition` is computed by the sender (src/kafka/partition.ts), so batches can be sized per partition. */
export type OutMessage = EventMessage;

export interface PublisherOptions {
  /** Per partition and request. */
  batchMaxBytes: number;
  requestMaxBytes: number;
  maxInFlightBytes: number;
  /** How long a partly filled batch may wait for more messages. */
  lingerMs: number;
}

/** Per-record overhead in a Kafka record batch (varints, headers, attributes), generously. */
const RECORD_OVERHEAD = 64;

interface Queued {
  msg: OutMessage;
  size: number;
  onAck: () => void;
}

export class Publisher {
  private batch: Queued[] = [];
  private batchBytes = 0;
  private partitionBytes = new Map<string, number>();
  private inFlightBytes = 0;
  private linger: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private error: Error | undefined;
  private sends = new Set<Promise<void>>();
  /** The last send queued: the next one starts only once it settled (see flush). */
  private lastSend: Promise<void> = Promise.resolve();

  constructor(
    private readonly producer: EventProducer,
    private readonly options: PublisherOptions,
    private readonly onFailure: (err: Error) => void,
  ) {}

  get failed(): Error | undefined {
    return this.error;
  }

  /** Bytes queued or sent but not yet acknowledged. */
  get pendingBytes(): number {
    return this.inFlightBytes + this.batchBytes;
  }

  /**
   * Queues one message; `onAck` runs once Kafka has stored it. Resolves when the message is
   * queued, after waiting for room if too much is in flight.
   */
  async publish(msg: OutMessage, onAck: () => void): Promise<void> {
    const size = msg.key.length + (msg.value?.length ?? 0) + msg.topic.length + RECORD_OVERHEAD;
    if (size > this.options.batchMaxBytes)
      throw new VecrelayError(
        `a message for ${msg.topic} (key ${msg.key.toString('utf8').slice(0, 200)}) is ${size} bytes, over ` +
          `source.batchMaxBytes = ${this.options.batchMaxBytes}: raise it (and the broker's message.max.bytes / the topic's max.message.bytes)`,
      );
    while (!this.error && this.pendingBytes + size > this.options.maxInFlightBytes && this.pendingBytes > 0) {
      this.flush();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.error) throw this.error;
    const slot = `${msg.partition}:${msg.topic}`;
    if (
      (this.partitionBytes.get(slot) ?? 0) + size > this.options.batchMaxBytes ||
      this.batchBytes + size > this.options.requestMaxBytes
    )
      this.flush();
    this.batch.push({ msg, size, onAck });
    this.batchBytes += size;
    this.partitionBytes.set(slot, (this.partitionBytes.get(slot) ?? 0) + size);
    this.linger ??= setTimeout(() => this.flush(), this.options.lingerMs);
  }

  /** Sends the queued batch now. */
  flush(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = undefined;
    if (this.batch.length === 0 || this.error) return;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    this.partitionBytes.clear();
    this.inFlightBytes += bytes;

    const messages = batch.map((q) => q.msg);
    // One send at a time, each after the previous one settled: the idempotent producer's sequence
    // numbers advance only on success (event-producer.ts), and an event must never overtake an
    // earlier one of its row (kafkajs, verified: five concurrent sendBatch calls to one partition
    // landed as 0,1,2,4,3).
    const send = this.lastSend
      .then(() => {
        if (this.error) throw this.error; // an earlier batch failed: send nothing after it
        return this.producer.send(messages);
      })
      .then(
        () => {
          for (const q of batch) q.onAck();
        },
        (err: unknown) => this.fail(err),
      )
      .finally(() => {
        this.inFlightBytes -= bytes;
        this.sends.delete(send);
        this.wake();
      });
    this.sends.add(send);
    this.lastSend = send;
  }

  /** Sends what is queued and waits until everything sent so far is acknowledged (or failed). */
  async drain(): Promise<void> {
    this.flush();
    while (this.sends.size) await Promise.all([...this.sends]);
    if (this.error) throw this.error;
  }

  private fail(err: unknown) {
    if (this.error) return;
    this.error = new VecrelayError(`Kafka did not store a batch: ${(err as Error)?.message ?? String(err)}`, {
      retriable: true,
      cause: err,
    });
    this.batch = [];
    this.batchBytes = 0;
    this.partitionBytes.clear();
    this.onFailure(this.error);
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
