// Sends events to Kafka in batches and reports, per message, when Kafka has stored it (acks=all,
// idempotent producers: retries never reorder or duplicate within a session).
//
// - Lanes: the partitions are shared out among a few producers (one per lane, each with its own
//   connection and producer id). A lane sends one request at a time and waits for its
//   acknowledgement before the next, so each partition's messages are stored in the order they
//   were published — every event of a row is in one partition, so per-row order holds. Lanes run
//   side by side: while the broker stores one lane's request, another's is on the wire. With a
//   single idempotent producer the broker sat idle between a response and the next request.
// - One request carries a record batch per partition. Each partition's batch stays under
//   batchMaxBytes (a batch is never split, and one over the broker's message.max.bytes fails
//   without retry); the whole request stays under requestMaxBytes.
// - Coalescing: a flush (a commit, the linger timer) while the lane's previous request is still
//   out does not cut a small request of its own; what is queued goes as one request as soon as
//   the lane is free. Many small transactions thus make few large requests.
// - Backpressure: publish() waits while more than maxInFlightBytes are queued or unacknowledged,
//   so a slow or absent Kafka pauses the caller (and through it the WAL stream) with bounded memory.
// - A failed send fails the publisher for good: later messages must not overtake the lost ones.
//   The owner builds a new publisher and replays from its last acknowledged position.
import { releaseView } from '../shared/arena.js';
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

/** The bytes a message counts for against batchMaxBytes (what the publisher sizes batches by). */
export function messageSize(msg: OutMessage): number {
  return msg.key.length + (msg.value?.length ?? 0) + msg.topic.length + RECORD_OVERHEAD;
}

/**
 * A message that no batch can hold. The source checks for it before publishing and dead-letters
 * the row instead (change-writer.ts, source-dead-letters.ts); publish() refusing it is the last guard.
 */
export class OversizedMessageError extends VecrelayError {
  constructor(
    readonly msg: OutMessage,
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `a message for ${msg.topic} (key ${msg.key.toString('utf8').slice(0, 200)}) is ${size} bytes, over ` +
        `source.batchMaxBytes = ${limit}: raise it (and the broker's message.max.bytes / the topic's max.message.bytes)`,
    );
  }
}

interface Queued {
  msg: OutMessage;
  size: number;
  onAck: () => void;
}

class Lane {
  batch: Queued[] = [];
  batchBytes = 0;
  partitionBytes = new Map<string, number>();
  /** Requests cut and not yet settled (sent, or waiting for the one before). */
  outstanding = 0;
  /** The last request cut: the next one starts only once it settled. */
  lastSend: Promise<void> = Promise.resolve();
  /** A flush came while a request was out: send what is queued once the lane is free. */
  flushWhenFree = false;

  constructor(readonly producer: EventProducer) {}
}

export class Publisher {
  private readonly lanes: Lane[];
  private queuedBytes = 0;
  private inFlightBytes = 0;
  private linger: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private error: Error | undefined;
  private sends = new Set<Promise<void>>();

  constructor(
    producers: EventProducer[],
    private readonly options: PublisherOptions,
    private readonly onFailure: (err: Error) => void,
  ) {
    if (producers.length === 0) throw new Error('Publisher needs at least one producer');
    this.lanes = producers.map((p) => new Lane(p));
  }

  get failed(): Error | undefined {
    return this.error;
  }

  /** Bytes queued or sent but not yet acknowledged. */
  get pendingBytes(): number {
    return this.inFlightBytes + this.queuedBytes;
  }

  /**
   * Queues one message; `onAck` runs once Kafka has stored it. Resolves when the message is
   * queued, after waiting for room if too much is in flight.
   */
  async publish(msg: OutMessage, onAck: () => void): Promise<void> {
    const size = messageSize(msg);
    if (size > this.options.batchMaxBytes)
      throw new OversizedMessageError(msg, size, this.options.batchMaxBytes);
    while (!this.error && this.pendingBytes + size > this.options.maxInFlightBytes && this.pendingBytes > 0) {
      this.flush();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.error) throw this.error;
    // A partition always maps to the same lane: its messages go out in publish order.
    const lane = this.lanes[msg.partition % this.lanes.length]!;
    const slot = `${msg.partition}:${msg.topic}`;
    if (
      (lane.partitionBytes.get(slot) ?? 0) + size > this.options.batchMaxBytes ||
      lane.batchBytes + size > this.options.requestMaxBytes
    )
      this.cut(lane);
    lane.batch.push({ msg, size, onAck });
    lane.batchBytes += size;
    this.queuedBytes += size;
    lane.partitionBytes.set(slot, (lane.partitionBytes.get(slot) ?? 0) + size);
    this.linger ??= setTimeout(() => this.flush(), this.options.lingerMs);
  }

  /** Sends what is queued: now on a free lane, as soon as it is free on a busy one. */
  flush(): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = undefined;
    for (const lane of this.lanes) {
      if (lane.batch.length === 0) continue;
      if (lane.outstanding > 0) lane.flushWhenFree = true;
      else this.cut(lane);
    }
  }

  /** Sends what is queued and waits until everything sent so far is acknowledged (or failed). */
  async drain(): Promise<void> {
    this.flush();
    // A settling request may cut the lane's next one (flushWhenFree): wait until none is left.
    while (this.sends.size) await Promise.all([...this.sends]);
    if (this.error) throw this.error;
  }

  /** Makes the lane's queued messages one request, sent once the lane's previous one settled. */
  private cut(lane: Lane): void {
    if (lane.batch.length === 0 || this.error) return;
    const batch = lane.batch;
    const bytes = lane.batchBytes;
    lane.batch = [];
    lane.batchBytes = 0;
    lane.partitionBytes.clear();
    lane.flushWhenFree = false;
    lane.outstanding++;
    this.queuedBytes -= bytes;
    this.inFlightBytes += bytes;

    const messages = batch.map((q) => q.msg);
    // Strictly one request at a time per lane: the idempotent producer's sequence numbers advance
    // only on success (event-producer.ts), and an event must never overtake an earlier one of its
    // row (kafkajs, verified: five concurrent sendBatch calls to one partition landed as 0,1,2,4,3).
    const send = lane.lastSend
      .then(() => {
        if (this.error) throw this.error; // an earlier batch failed: send nothing after it
        return lane.producer.send(messages);
      })
      .then(
        () => {
          for (const q of batch) {
            // Kafka has it: the value's memory may hold the next events (arena.ts).
            if (q.msg.recycle && q.msg.value) releaseView(q.msg.value);
            q.onAck();
          }
        },
        (err: unknown) => this.fail(err),
      )
      .finally(() => {
        this.inFlightBytes -= bytes;
        lane.outstanding--;
        this.sends.delete(send);
        if (lane.outstanding === 0 && lane.flushWhenFree) this.cut(lane);
        this.wake();
      });
    this.sends.add(send);
    lane.lastSend = send;
  }

  private fail(err: unknown) {
    if (this.error) return;
    this.error = new VecrelayError(`Kafka did not store a batch: ${(err as Error)?.message ?? String(err)}`, {
      retriable: true,
      cause: err,
    });
    for (const lane of this.lanes) {
      lane.batch = [];
      lane.batchBytes = 0;
      lane.partitionBytes.clear();
    }
    this.queuedBytes = 0;
    this.onFailure(this.error);
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
