// The sink's consumer: one kafkajs consumer group per pipeline, one batch per partition at a
// time. Each batch is decoded (decode.ts), planned (plan.ts) and applied through
// the table's output (output.ts); its offset is committed only once everything before it is in
// the target or dead-lettered for its own fault (DESIGN.md guarantee 1). Partitions are applied
// concurrently, each strictly in order, and several sink processes share them through the group.
//
// Fencing: before every request to the target and before every commit the batch's fence runs:
// it heartbeats (a rebalance answers with an error, which goes back to kafkajs so it rejoins)
// and checks that the group has not moved on since the batch began (a join or rebalance since,
// the partition no longer assigned, or kafkajs marks it stale). A stale batch stops writing and
// commits nothing: the partition's new owner starts from the last commit.
//
// Stopping (the signal): the batch stops before its next request (one in flight is abandoned);
// the prefix of the batch whose records are in the target is committed, the rest is redelivered
// after a restart.
//
// A table whose collection vanished (TargetGone): the output recreates it from the table
// descriptor, and every partition of the table this member owns is committed back to the start
// and re-read: the compacted topic is a copy of the table, so the collection is rebuilt whole.
// Retrying only the batch would leave out every row written before it.
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { canonicalKey } from '../event/key.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { metrics } from '../shared/metrics.js';
import { decodeBatch } from './decode.js';
import type { DeadLetterWriter } from './dead-letter.js';
import { StaleBatch, TargetGone, type BatchContext, type TableOutput } from './output.js';
import { planBatch, type SinkRecord, type Step } from './plan.js';

export interface ConsumerOptions {
  groupId: string;
  sessionTimeoutMs: number;
  partitionsConsumedConcurrently: number;
}

type Offsets = Array<{ topic: string; partition: number; offset: string }>;

/** The group as this member last saw it: bumped on every join and rebalance. */
class Membership {
  epoch = 0;
  private assigned = new Map<string, number[]>();

  joined(assignment: Record<string, number[]>): void {
    this.epoch++;
    this.assigned = new Map(Object.entries(assignment));
  }

  owns(topic: string, partition: number): boolean {
    return this.assigned.get(topic)?.includes(partition) ?? false;
  }

  partitions(topic: string): number[] {
    return this.assigned.get(topic) ?? [];
  }
}

export class SinkConsumer {
  readonly consumer: Consumer;
  private readonly membership = new Membership();
  /** Batches being applied: a stop waits for them (they end at their next request). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Recreations in progress, by topic: concurrent batches of one table share one. */
  private readonly recreating = new Map<string, Promise<void>>();

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
    private readonly outputs: Map<string, TableOutput>,
    private readonly dlq: DeadLetterWriter,
    private readonly log: Logger,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.min(3_000, Math.floor(options.sessionTimeoutMs / 3)),
      maxBytesPerPartition: 8 << 20,
    });
    const { GROUP_JOIN, REBALANCING } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, ({ payload }) => this.membership.joined(payload.memberAssignment));
    this.consumer.on(REBALANCING, () => this.membership.epoch++);
  }

  /** Subscribes and starts consuming; `failed` gets errors that must stop the sink (ConfigError). */
  async start(signal: AbortSignal, failed: (err: Error) => void): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.outputs.keys()], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
      eachBatch: async (payload) => {
        if (signal.aborted || payload.batch.messages.length === 0) return;
        const running = this.batch(payload, signal);
        this.inFlight.add(running);
        try {
          await running;
        } catch (err) {
          if (signal.aborted) return; // stopping: what was applied is committed
          if (err instanceof StaleBatch) return;
          if (err instanceof ConfigError) {
            failed(err); // credentials, a newer event schema: retrying cannot help
            return;
          }
          throw err; // kafkajs rejoins or retries the batch: nothing past it was committed
        } finally {
          this.inFlight.delete(running);
        }
      },
    });
  }

  /**
   * After the signal: waits for the batches in flight to commit what they applied, then leaves
   * the group. (kafkajs drops commits once its consumer is stopping: so it stops after them.)
   */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.consumer.disconnect();
  }

  private async batch(payload: EachBatchPayload, signal: AbortSignal): Promise<void> {
    const { batch, heartbeat, resolveOffset, isStale } = payload;
    const { topic, partition } = batch;
    const output = this.outputs.get(topic)!;
    const epoch = this.membership.epoch;
    const where = { topic, partition };

    /** Throws unless this member may still act for the partition. */
    const owned = async () => {
      try {
        await heartbeat();
      } catch (err) {
        this.log.warn(
          { ...where, err: messageOf(err) },
          'the group moved on (rebalance, or this member expired): batch abandoned before its next write, not committed',
        );
        throw err; // kafkajs rejoins on it
      }
      if (isStale() || this.membership.epoch !== epoch || !this.membership.owns(topic, partition)) {
        this.log.warn(
          where,
          'partition lost to a rebalance: batch abandoned before its next write, not committed',
        );
        throw new StaleBatch(`partition ${topic}[${partition}] moved to another member`);
      }
    };
    // Records of the batch not yet in the target; records dead-lettered while decoding are done
    // from the start.
    const pending = new Set<string>();
    const ctx: BatchContext = {
      signal,
      applied: (records) => {
        for (const r of records) pending.delete(r.offset);
      },
      fence: async () => {
        if (signal.aborted) throw new StaleBatch('the sink is stopping');
        await owned();
      },
      deadLetter: (records, reason) => this.dlq.write(records, reason),
    };
    const commit = async (next: bigint) => {
      await owned();
      await this.consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
    };

    const decoded = await decodeBatch(batch, output.key, ctx.deadLetter, this.log);
    const steps = planBatch(decoded, (e) => canonicalKey(output.keyColumns, e.key));
    for (const step of steps) for (const r of recordsOf(step)) pending.add(r.offset);
    const first = BigInt(batch.messages[0]!.offset);
    const end = BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n;
    try {
      await output.apply(steps, ctx);
    } catch (err) {
      if (err instanceof TargetGone) return this.rebuild(output, err, ctx);
      // Stopping: commit up to the first record not yet in the target.
      const next = BigInt(batch.messages.find((m) => pending.has(m.offset))?.offset ?? end);
      if (signal.aborted && next > first) {
        await commit(next).catch((e: unknown) =>
          this.log.warn({ ...where, err: messageOf(e) }, 'could not commit on stop'),
        );
        this.log.info({ ...where, offset: next.toString() }, 'stopped mid-batch: committed what was applied');
      }
      throw err;
    }
    for (const { event } of decoded) if (event) metrics.sinkEvents.inc({ topic, op: event.op });
    metrics.consumerLag.set(where, Number(batch.offsetLag()));
    // Only now is everything up to the batch's last record in the target.
    await commit(end);
    resolveOffset((end - 1n).toString());
    await heartbeat();
  }

  /** The collection is gone: recreate it, and read this member's partitions of it from the start. */
  private async rebuild(output: TableOutput, gone: TargetGone, ctx: BatchContext): Promise<void> {
    const topic = [...this.outputs].find(([, o]) => o === output)![0];
    let pending = this.recreating.get(topic);
    if (!pending) {
      this.log.warn(
        { collection: gone.target, err: gone.message },
        'the collection is gone: recreating it from the table descriptor and rebuilding it from the topic',
      );
      pending = output.recreate().finally(() => this.recreating.delete(topic));
      this.recreating.set(topic, pending);
    }
    await pending;
    await ctx.fence();
    const partitions = this.membership.partitions(topic);
    // The seek first: it marks this member's other batches of the table stale, so none of them
    // commits after the rewind. The commit of the start, so a crash before the first batch of
    // the rebuild is committed still starts it over.
    const offsets: Offsets = partitions.map((partition) => ({ topic, partition, offset: '0' }));
    for (const o of offsets) this.consumer.seek(o);
    await this.consumer.commitOffsets(offsets);
  }
}

/** The Kafka records a step stands for. */
function recordsOf(step: Step): SinkRecord[] {
  if (step.kind === 'truncate') return step.records;
  const out: SinkRecord[] = [];
  for (const c of step.changes.values()) out.push(...c.records);
  return out;
}
