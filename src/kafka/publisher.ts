// Sends events to Kafka in batches and reports, per message, when Kafka has stored it (acks=all,
// idempotent producer: retries never reorder or duplicate within a session).
//
// - One request carries a record batch per partition. Each partition's batch stays under
//   batchMaxBytes (kafkajs never splits one, and one over the broker's message.max.bytes fails
//   without retry); the whole request stays under requestMaxBytes. Big requests matter: kafkajs'
//   idempotent producer has one produce request in flight per broker, so throughput is bytes per
//   round trip.
// - Backpressure: publish() waits while more than maxInFlightBytes are queued or unacknowledged,
//   so a slow or absent Kafka pauses the caller (and through it the WAL stream) with bounded memory.
// - A failed send fails the publisher for good: later messages must not overtake the lost ones.
//   The owner builds a new publisher and replays from its last acknowledged position.
import type { Message, Producer, TopicMessages } from 'kafkajs';
import { VecrelayError } from '../shared/errors.js';

export interface OutMessage {
  topic: string;
  key: Buffer;
  /** null = tombstone. */
  value: Buffer | null;
  /** Computed by the sender (src/kafka/partition.ts), so batches can be sized per partition. */
  partition: number;
}

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
    private readonly producer: Producer,
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

    const byTopic = new Map<string, Message[]>();
    for (const { msg } of batch) {
      let list = byTopic.get(msg.topic);
      if (!list) byTopic.set(msg.topic, (list = []));
      list.push(
        msg.partition === undefined
          ? { key: msg.key, value: msg.value }
          : { key: msg.key, value: msg.value, partition: msg.partition },
      );
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    // One sendBatch at a time, each after the previous one settled: kafkajs does not keep
    // concurrent sendBatch calls in call order (verified: five concurrent calls to one partition
    // of an idempotent producer land as 0,1,2,4,3), and an event must never overtake an earlier
    // one of its row. kafkajs' idempotent producer has one request per broker in flight anyway.
    const send = this.lastSend
      .then(() => {
        if (this.error) throw this.error; // an earlier batch failed: send nothing after it
        return this.producer.sendBatch({ acks: -1, topicMessages });
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
