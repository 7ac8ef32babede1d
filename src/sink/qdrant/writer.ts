// Applies planned steps (plan.ts) to one collection, in order, and returns only when Qdrant has
// applied all of them (wait=true, status completed) — the consumer commits offsets after that.
// It is the Qdrant implementation of TableOutput (../output.ts).
//
// Failures, classified by faultOf (errors.ts):
//   transient (network, 5xx, 408, 429, not completed): retried with capped backoff and jitter,
//     honouring Retry-After, for as long as it takes (nothing is committed meanwhile);
//   record (another 4xx): the request is split until the rejected point is alone; that point's
//     records go to the dead-letter topic with Qdrant's reason, the rest apply;
//   gone (404 "Collection ... doesn't exist"): TargetGone, the consumer recreates and rebuilds;
//   fatal (401/403): ConfigError naming qdrant.apiKeyEnv — never dead-lettered.
// Before every request (and every retry) the batch's fence is checked (consumer.ts); with
// `conditional`, every write carries its guard (fence.ts) so a stale one cannot land on a newer
// point.
// The wire is a seam (transport.ts): REST (transport-rest.ts) or gRPC (transport-grpc.ts); the
// order, sizing, splitting and classification here are the same for both.
import type { TableDescriptor } from '../../event/table-descriptor.js';
import { sleep } from '../../shared/backoff.js';
import { isRetriable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { metrics } from '../../shared/metrics.js';
import { retry } from '../../shared/retry.js';
import type { BatchContext, TableOutput } from '../output.js';
import { TargetGone } from '../output.js';
import type { PointChange, Step } from '../plan.js';
import { Arena } from './arena.js';
import { authError, faultOf, QdrantError } from './errors.js';
import type { QdrantHttp } from './http.js';
import type { ExistingParams } from './collections.js';
import { collectionVectors, createdVectors, VectorMapping, type CollectionVectors } from './layout.js';
import { pointIdOf } from './point-id.js';
import { ProblemError } from '../../shared/problems.js';
import { RestPoints } from './transport-rest.js';
import type { OpKind, Pending, PointsTransport, TransportFactory, Unit, WriteShape } from './transport.js';

const KINDS: readonly OpKind[] = ['delete', 'tombstone', 'upsert', 'clearing', 'partial'];

export interface WriterOptions {
  batchSize: number;
  requestMaxBytes: number;
  retryMaxMs: number;
  /** Guard every write by the stored source position (Qdrant ≥ 1.16: update_filter). */
  conditional?: boolean;
  /** qdrant.apiKeyEnv, named when Qdrant refuses the key. */
  apiKeyEnv?: string | undefined;
  /** tables[].vectors, when configured: the only vector columns written (layout.ts). */
  configuredVectors?: readonly string[] | undefined;
  /** The collection's vectors as opened; default: those ensureCollection creates for the table. */
  collectionVectors?: CollectionVectors;
}

export class CollectionWriter implements TableOutput, WriteShape {
  private mapping: VectorMapping;
  private readonly transport: PointsTransport;
  /** Vector columns found missing from a whole row, warned about once each. */
  private readonly missingWarned = new Set<string>();
  /** Free Arena segments, shared by the concurrent apply() calls of this collection. */
  private readonly pool: Buffer[] = [];

  constructor(
    /** The wire (transport.ts); a QdrantHttp means REST. */
    transport: TransportFactory | QdrantHttp,
    readonly collection: string,
    private readonly descriptor: TableDescriptor,
    private readonly namespace: string,
    private readonly options: WriterOptions,
    private readonly log: Logger,
    private readonly createCollection: () => Promise<ExistingParams | void> = async () => {},
    /** Reads the collection's vectors again (a change that does not fit may find them changed). */
    private readonly describeCollection?: () => Promise<ExistingParams>,
  ) {
    this.mapping = this.mapped(options.collectionVectors ?? createdVectors(descriptor));
    this.transport = typeof transport === 'function' ? transport(this) : new RestPoints(transport, this);
  }

  get conditional(): boolean {
    return this.options.conditional === true;
  }

  private mapped(vectors: CollectionVectors): VectorMapping {
    return new VectorMapping(this.collection, this.descriptor, this.options.configuredVectors, vectors);
  }

  get layout() {
    return this.mapping.layout;
  }

  get keyColumns(): string[] {
    return this.descriptor.key.map((k) => k.name);
  }

  get key(): TableDescriptor['key'] {
    return this.descriptor.key;
  }

  get target(): string {
    return this.collection;
  }

  async recreate(): Promise<void> {
    const params = await this.createCollection();
    if (params) this.mapping = this.mapped(collectionVectors(params));
  }

  /**
   * Stops (ConfigError) before anything of the batch is written when a change carries a vector
   * the collection cannot take (layout.ts): a column added, or its type changed, while streaming.
   * The collection is read once more first: its vectors may have been changed to fit meanwhile.
   */
  private async checkVectors(steps: Step[]): Promise<void> {
    const problemOf = (): ProblemError | undefined => {
      for (const step of steps) {
        if (step.kind !== 'points') continue;
        for (const change of step.changes.values()) {
          if (change.kind === 'delete') continue;
          const problem = this.mapping.problem(change.vectors);
          if (problem) return new ProblemError(problem);
        }
      }
      return undefined;
    };
    if (!problemOf()) return;
    if (this.describeCollection)
      this.mapping = this.mapped(collectionVectors(await this.describeCollection()));
    const err = problemOf();
    if (!err) return;
    this.log.error({ collection: this.collection, err: err.message }, 'the table changed shape: stopping');
    throw err;
  }

  async apply(steps: Step[], ctx: BatchContext): Promise<void> {
    await this.checkVectors(steps);
    for (const step of steps) {
      if (step.kind === 'truncate') {
        // Every point older than the truncate goes; points written after it (any partition) stay.
        // A stale truncate is harmless: it never removes anything newer than itself.
        await this.send(
          (signal) => this.transport.truncate(step.lsn, step.seq, signal),
          ctx,
          (err) => ctx.deadLetter(step.records, err.message),
        );
        ctx.applied(step.records);
        continue;
      }
      const ops: Record<OpKind, Pending[]> = {
        delete: [],
        tombstone: [],
        upsert: [],
        clearing: [], // whole rows with a NULL vector: see cleared()
        partial: [],
      };
      for (const change of step.changes.values()) {
        const { id, derivedFrom } = pointIdOf(this.descriptor, this.namespace, change.event.key);
        const pending = { change, id, derivedFrom };
        if (change.kind === 'delete') (change.tombstone ? ops.tombstone : ops.delete).push(pending);
        else if (change.kind === 'upsert')
          (this.cleared(change).length ? ops.clearing : ops.upsert).push(pending);
        else ops.partial.push(pending);
      }
      // A point has at most one change per step (plan.ts): the order of the kinds is free.
      for (const kind of KINDS) if (ops[kind].length) await this.sendUnits(kind, ops[kind], ctx);
    }
  }

  /**
   * The collection's vectors a whole row sets to NULL, as delete_vectors names them ("" for the
   * unnamed vector). Vector columns the collection does not have are not named.
   */
  cleared(change: PointChange): string[] {
    const names: string[] = [];
    for (const name of [...this.layout.dense, ...this.layout.sparse]) {
      const sent = Object.hasOwn(change.vectors, name);
      if (sent ? change.vectors[name] === null : change.kind === 'upsert' && this.missing(name))
        names.push(this.layout.unnamed ? '' : name);
    }
    return names;
  }

  /**
   * A whole row without one of the table's vector columns: written before the column existed, or
   * after it was dropped. Either way the row has no such vector, so the point has none either.
   */
  private missing(name: string): boolean {
    if (!this.mapping.expected.has(name)) return false;
    if (!this.missingWarned.has(name)) {
      this.missingWarned.add(name);
      this.log.warn(
        { collection: this.collection, column: name },
        `a whole row of ${this.descriptor.schema}.${this.descriptor.table} without vector column ${name} ` +
          '(written before the column existed, or after it was dropped): its point is left without that vector',
      );
    }
    return true;
  }

  /**
   * A whole row with a NULL vector: the upsert leaves that vector out, and a delete_vectors right
   * after it, in the same request, removes it. Omission alone is not enough: Qdrant up to 1.18
   * keeps a named vector an upsert leaves out when the point sits in an optimized segment (its
   * copy-on-write path; docs/qdrant.md). The unnamed vector is no different: NULL means the row
   * has no vector, so the point stays (its payload is the row, found by filter or id) without
   * one, as an insert with a NULL vector makes it; it cannot be found by vector search.
   * One unit per point, both operations: a request that fails is retried whole (both are
   * idempotent), and the records count as applied only once both have been.
   */

  /**
   * Sends changes in requests of at most batchSize units and requestMaxBytes bytes, one request
   * at a time, in order. A request's units are encoded only when its request is due, while the
   * previous request is in flight: never the whole batch at once (memory), and encoding overlaps
   * Qdrant's work. Each request's units are written into an Arena of their own, returned to the
   * pool once the request (with its retries and splits) is done.
   */
  private async sendUnits(kind: OpKind, pending: Pending[], ctx: BatchContext) {
    let chunk: Unit[] = [];
    let bytes = 0;
    let arena = new Arena(this.pool);
    let inFlight: Promise<void> = Promise.resolve();
    const flush = async (next = new Arena(this.pool)) => {
      const units = chunk;
      const memory = arena;
      chunk = [];
      bytes = 0;
      arena = next;
      await inFlight;
      inFlight = this.sendChunk(kind, units, ctx).finally(() => memory.release());
      inFlight.catch(() => {}); // handled where it is awaited: the next flush, or the end
    };
    try {
      for (const p of pending) {
        if (chunk.length >= this.options.batchSize) await flush();
        let unit = this.transport.encode(kind, p, arena);
        if (chunk.length && bytes + unit.bytes > this.options.requestMaxBytes) {
          // Written into this request's memory, but it goes in the next request: encoded again
          // there (rare: only at a request's size limit).
          const next = new Arena(this.pool);
          unit = this.transport.encode(kind, p, next);
          await flush(next);
        }
        chunk.push({ ...unit, pending: p });
        bytes += unit.bytes;
      }
      if (chunk.length) await flush();
    } catch (err) {
      await inFlight.catch(() => {}); // no request outlives the batch it belongs to
      throw err;
    }
    await inFlight;
  }

  /** On a rejection of the request itself, halves it until the rejected unit stands alone. */
  private async sendChunk(kind: OpKind, units: Unit[], ctx: BatchContext) {
    const sent = await this.send(
      (signal) => this.transport.write(kind, units, signal),
      ctx,
      async (err) => {
        if (units.length === 1) {
          const reason = err.message;
          const { records } = units[0]!.pending.change;
          this.log.warn({ collection: this.collection, reason }, 'Qdrant rejected a record: dead-lettered');
          await ctx.deadLetter(records, reason);
          ctx.applied(records);
          return;
        }
        const half = Math.ceil(units.length / 2);
        await this.sendChunk(kind, units.slice(0, half), ctx);
        await this.sendChunk(kind, units.slice(half), ctx);
      },
    );
    if (sent) for (const u of units) ctx.applied(u.pending.change.records);
  }

  /**
   * One request, fenced, retried while the failure is transient; a record's fault goes to
   * `rejected`. True when Qdrant applied the request.
   */
  private async send(
    request: (signal: AbortSignal) => Promise<void>,
    ctx: BatchContext,
    rejected: (err: QdrantError) => Promise<void>,
  ): Promise<boolean> {
    try {
      await retry(
        async () => {
          await ctx.fence();
          await request(ctx.signal);
        },
        {
          signal: ctx.signal,
          backoff: { initialMs: 200, maxMs: this.options.retryMaxMs },
          retriable: isRetriable, // transient: network, 5xx, 408, 429 (faultOf)
          delay: (err, backoff) => {
            const { retryAfterSeconds } = err as QdrantError;
            return retryAfterSeconds !== null ? Math.max(retryAfterSeconds * 1000, backoff) : backoff;
          },
          onRetry: (caught, { attempt, delayMs }) => {
            const err = caught as QdrantError;
            metrics.qdrantRetries.inc({ status: err.status === null ? 'network' : String(err.status) });
            this.log.warn(
              { collection: this.collection, err: err.message, attempt, delayMs },
              'Qdrant write failed; retrying',
            );
          },
          wait: (ms) => this.waitFenced(ms, ctx),
        },
      );
      return true;
    } catch (err) {
      if (!(err instanceof QdrantError)) throw err;
      switch (faultOf(err)) {
        case 'record':
          await rejected(err);
          return false;
        case 'fatal':
          throw authError(err, this.options.apiKeyEnv);
        case 'gone':
          throw new TargetGone(this.collection, err.message);
        case 'transient':
          throw err; // the batch was stopped while retrying
      }
    }
  }

  /**
   * Waits in slices, telling the group this member is alive (a long Retry-After or backoff must
   * not cost the partition) and stopping as soon as the batch is stale.
   */
  private async waitFenced(ms: number, ctx: BatchContext): Promise<void> {
    for (let left = ms; left > 0; left -= 3000) {
      await ctx.fence();
      await sleep(Math.min(left, 3000), ctx.signal);
    }
  }
}
