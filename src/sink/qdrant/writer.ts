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
import type { TableDescriptor } from '../../event/table-descriptor.js';
import { sleep } from '../../shared/backoff.js';
import { isRetriable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { metrics } from '../../shared/metrics.js';
import { retry } from '../../shared/retry.js';
import type { BatchContext, TableOutput } from '../output.js';
import { TargetGone } from '../output.js';
import type { PointChange, Step } from '../plan.js';
import { Arena, type Json } from './arena.js';
import { authError, faultOf, QdrantError } from './errors.js';
import { anyOf, notNewerThan, pointGuard } from './fence.js';
import type { Body, QdrantHttp } from './http.js';
import type { ExistingParams } from './collections.js';
import { collectionVectors, createdVectors, VectorMapping, type CollectionVectors } from './layout.js';
import { KEY_FIELD, pointIdJson, pointIdOf } from './point-id.js';
import {
  LSN_FIELD,
  SEQ_FIELD,
  payloadJson,
  vectorJson,
  vectorsJsonBound,
  writeVectorsJson,
} from './points.js';
import { ProblemError } from '../../shared/problems.js';

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

/** A change with its point id, before its JSON is written. */
interface Pending {
  change: PointChange;
  idJson: string;
  derivedFrom: string | undefined;
}

/** One unit of a request: a point's JSON (or operations), its guard, and the change it comes from. */
interface Unit {
  json: Json;
  guard: string;
  change: PointChange;
}

/** A request body from its units, as pieces (never joined into one large string). */
type Wrap = (units: Unit[]) => Json[];

const enclose = (open: string, units: Unit[], close: string): Json[] => {
  const parts: Json[] = [open];
  for (let i = 0; i < units.length; i++) {
    if (i) parts.push(',');
    parts.push(units[i]!.json);
  }
  parts.push(close);
  return parts;
};
const guards = (units: Unit[]) => anyOf(units.map((u) => u.guard));
const wrapPoints: Wrap = (u) => enclose('{"points":[', u, ']}');
const wrapGuardedPoints: Wrap = (u) => enclose('{"points":[', u, `],"update_filter":${guards(u)}}`);
const wrapOperations: Wrap = (u) => enclose('{"operations":[', u, ']}');
const wrapIds: Wrap = (u) => [`{"points":[${u.map((x) => x.json as string).join(',')}]}`];
const wrapGuardedDelete: Wrap = (u) => [`{"filter":${guards(u)}}`];

export class CollectionWriter implements TableOutput {
  private mapping: VectorMapping;
  /** Vector columns found missing from a whole row, warned about once each. */
  private readonly missingWarned = new Set<string>();
  /** Free Arena segments, shared by the concurrent apply() calls of this collection. */
  private readonly pool: Buffer[] = [];

  constructor(
    private readonly http: QdrantHttp,
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
  }

  private mapped(vectors: CollectionVectors): VectorMapping {
    return new VectorMapping(this.collection, this.descriptor, this.options.configuredVectors, vectors);
  }

  private get layout() {
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
        // Older: an earlier transaction, or earlier in the truncate's own transaction. A stale
        // truncate is harmless: it never removes anything newer than itself.
        const lsn = Number(step.lsn);
        const body =
          `{"filter":{"should":[{"key":"${LSN_FIELD}","range":{"lt":${lsn}}},` +
          `{"must":[{"key":"${LSN_FIELD}","match":{"value":${lsn}}},{"key":"${SEQ_FIELD}","range":{"lt":${step.seq}}}]}]}}`;
        await this.send('POST', '/points/delete', body, ctx, (err) =>
          ctx.deadLetter(step.records, err.message),
        );
        ctx.applied(step.records);
        continue;
      }
      const deletes: Pending[] = [];
      const tombstones: Pending[] = [];
      const upserts: Pending[] = [];
      /** Whole rows with a NULL vector: upsert, then delete that vector (upsertClearing). */
      const clearing: Pending[] = [];
      const partials: Pending[] = [];
      for (const change of step.changes.values()) {
        const { id, derivedFrom } = pointIdOf(this.descriptor, this.namespace, change.event.key);
        const pending = { change, idJson: pointIdJson(id), derivedFrom };
        if (change.kind === 'delete') (change.tombstone ? tombstones : deletes).push(pending);
        else if (change.kind === 'upsert') (this.cleared(change).length ? clearing : upserts).push(pending);
        else partials.push(pending);
      }
      const conditional = this.options.conditional === true;
      await this.sendUnits(
        'POST',
        '/points/delete',
        deletes,
        (p) => p.idJson,
        conditional ? wrapGuardedDelete : wrapIds,
        ctx,
      );
      // A tombstone has no position to guard by: by id (plan.ts, tombstoneChange, says why).
      await this.sendUnits('POST', '/points/delete', tombstones, (p) => p.idJson, wrapIds, ctx);
      await this.sendUnits(
        'PUT',
        '/points',
        upserts,
        (p, arena) => this.pointJson(arena, p.idJson, p.change, p.derivedFrom),
        conditional ? wrapGuardedPoints : wrapPoints,
        ctx,
      );
      await this.sendUnits(
        'POST',
        '/points/batch',
        clearing,
        (p, arena) => this.upsertClearing(arena, p.idJson, p.change, p.derivedFrom),
        wrapOperations,
        ctx,
      );
      await this.sendUnits(
        'POST',
        '/points/batch',
        partials,
        (p) => this.partialOps(p.idJson, p.change, p.derivedFrom),
        wrapOperations,
        ctx,
      );
    }
  }

  private extra(change: PointChange, derivedFrom: string | undefined): Record<string, string> {
    const extra: Record<string, string> = {
      [LSN_FIELD]: String(Number(change.lsn)),
      [SEQ_FIELD]: String(change.event.source.seq),
    };
    if (derivedFrom !== undefined) extra[KEY_FIELD] = JSON.stringify(derivedFrom);
    return extra;
  }

  /** A point's JSON, between `before` and `after` (written with it, as one piece). */
  private pointJson(
    arena: Arena,
    idJson: string,
    change: PointChange,
    derivedFrom: string | undefined,
    before = '',
    after = '',
  ): Json {
    const head = `${before}{"id":${idJson},"vector":`;
    const tail = `,"payload":${payloadJson(change.values, this.extra(change, derivedFrom))}}${after}`;
    const bound = 3 * (head.length + tail.length) + vectorsJsonBound(this.layout, change.vectors);
    return arena.write(bound, (b, at) => {
      at += b.write(head, at, 'utf8');
      at = writeVectorsJson(b, at, this.layout, change.vectors);
      return at + b.write(tail, at, 'utf8');
    });
  }

  /**
   * The collection's vectors a whole row sets to NULL, as delete_vectors names them ("" for the
   * unnamed vector). Vector columns the collection does not have are not named.
   */
  private cleared(change: PointChange): string[] {
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
   * Conditional: the upsert by its guard, the delete by the same guard as a filter; the upsert
   * stored that position, so the delete matches the point it wrote, and nothing newer.
   */
  private upsertClearing(
    arena: Arena,
    idJson: string,
    change: PointChange,
    derivedFrom: string | undefined,
  ): Json {
    const conditional = this.options.conditional === true;
    const { lsn } = change;
    const { seq } = change.event.source;
    const filter = conditional ? `,"update_filter":${notNewerThan(lsn, seq)}` : '';
    const select = conditional ? `"filter":${pointGuard(idJson, lsn, seq)}` : `"points":[${idJson}]`;
    const names = this.cleared(change).map((n) => JSON.stringify(n));
    return this.pointJson(
      arena,
      idJson,
      change,
      derivedFrom,
      '{"upsert":{"points":[',
      `]${filter}}},{"delete_vectors":{${select},"vector":[${names.join(',')}]}}`,
    );
  }

  /**
   * set_payload for the sent columns, update_vectors / delete_vectors for the sent vectors.
   * Conditional: each by its guard (fence.ts); set_payload first, so the later operations see
   * the position it wrote (equal: still not newer). A partial of a missing point then changes
   * nothing, unless it sets a vector (update_vectors answers 404: dead-lettered).
   */
  private partialOps(idJson: string, change: PointChange, derivedFrom: string | undefined): string {
    const conditional = this.options.conditional === true;
    const guard = notNewerThan(change.lsn, change.event.source.seq);
    const select = conditional
      ? `"filter":${pointGuard(idJson, change.lsn, change.event.source.seq)}`
      : `"points":[${idJson}]`;
    const ops = [
      `{"set_payload":{"payload":${payloadJson(change.values, this.extra(change, derivedFrom))},${select}}}`,
    ];
    const set: string[] = [];
    const cleared: string[] = [];
    for (const name of [...this.layout.dense, ...this.layout.sparse]) {
      if (!Object.hasOwn(change.vectors, name)) continue; // unchanged
      const v = change.vectors[name];
      const field = this.layout.unnamed ? '' : name;
      if (v) set.push(this.layout.unnamed ? vectorJson(v) : `${JSON.stringify(field)}:${vectorJson(v)}`);
      else cleared.push(JSON.stringify(field));
    }
    if (set.length)
      ops.push(
        `{"update_vectors":{"points":[{"id":${idJson},"vector":${this.layout.unnamed ? set[0] : `{${set.join(',')}}`}}]` +
          `${conditional ? `,"update_filter":${guard}` : ''}}}`,
      );
    if (cleared.length) ops.push(`{"delete_vectors":{${select},"vector":[${cleared.join(',')}]}}`);
    return ops.join(',');
  }

  /**
   * Sends changes in requests of at most batchSize units and requestMaxBytes bytes, one request
   * at a time, in order. A request's JSON is written only when its request is due, while the
   * previous request is in flight: never the whole batch's JSON at once (memory), and writing it
   * overlaps Qdrant's work. Each request's points are written into an Arena of their own,
   * returned to the pool once the request (with its retries and splits) is done.
   */
  private async sendUnits(
    method: string,
    path: string,
    pending: Pending[],
    toJson: (p: Pending, arena: Arena) => Json,
    wrap: Wrap,
    ctx: BatchContext,
  ) {
    const conditional = this.options.conditional === true;
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
      inFlight = this.sendChunk(method, path, units, wrap, ctx).finally(() => memory.release());
      inFlight.catch(() => {}); // handled where it is awaited: the next flush, or the end
    };
    try {
      for (const p of pending) {
        if (chunk.length >= this.options.batchSize) await flush();
        let json = toJson(p, arena);
        if (chunk.length && bytes + json.length > this.options.requestMaxBytes) {
          // Written into this request's memory, but it goes in the next request.
          const next = new Arena(this.pool);
          json = next.adopt(json);
          await flush(next);
        }
        const guard = conditional ? pointGuard(p.idJson, p.change.lsn, p.change.event.source.seq) : '';
        chunk.push({ json, guard, change: p.change });
        bytes += json.length + guard.length + 1;
      }
      if (chunk.length) await flush();
    } catch (err) {
      await inFlight.catch(() => {}); // no request outlives the batch it belongs to
      throw err;
    }
    await inFlight;
  }

  /** On a rejection of the request itself, halves it until the rejected unit stands alone. */
  private async sendChunk(method: string, path: string, units: Unit[], wrap: Wrap, ctx: BatchContext) {
    const sent = await this.send(method, path, wrap(units), ctx, async (err) => {
      if (units.length === 1) {
        const reason = err.message;
        this.log.warn({ collection: this.collection, reason }, 'Qdrant rejected a record: dead-lettered');
        await ctx.deadLetter(units[0]!.change.records, reason);
        ctx.applied(units[0]!.change.records);
        return;
      }
      const half = Math.ceil(units.length / 2);
      await this.sendChunk(method, path, units.slice(0, half), wrap, ctx);
      await this.sendChunk(method, path, units.slice(half), wrap, ctx);
    });
    if (sent) for (const u of units) ctx.applied(u.change.records);
  }

  /**
   * One request, fenced, retried while the failure is transient; a record's fault goes to
   * `rejected`. True when Qdrant applied the request.
   */
  private async send(
    method: string,
    path: string,
    body: Body,
    ctx: BatchContext,
    rejected: (err: QdrantError) => Promise<void>,
  ): Promise<boolean> {
    try {
      await retry(
        async () => {
          await ctx.fence();
          await this.http.write(method, this.collection, path, body, ctx.signal);
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
