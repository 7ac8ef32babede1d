// Applies planned steps (plan.ts) to one collection, in order, and returns only when Qdrant has
// applied all of them (wait=true, status completed) — the consumer commits offsets after that.
//
// Failures: a retriable one (network, 5xx, 408, 429, not completed) is retried with capped
// backoff and jitter, honouring Retry-After, for as long as it takes (nothing is committed
// meanwhile). A request Qdrant rejects for itself (4xx) is split until the rejected point is
// alone; that point's records go to the dead-letter topic with Qdrant's reason, the rest apply.
import type { TableDescriptor } from '../event/table-descriptor.js';
import { backoffDelay, sleep } from '../shared/backoff.js';
import type { Logger } from '../shared/log.js';
import type { PointChange, SinkRecord, Step } from './plan.js';
import { KEY_FIELD, pointIdJson, pointIdOf } from './point-id.js';
import {
  LSN_FIELD,
  SEQ_FIELD,
  payloadJson,
  vectorJson,
  vectorLayout,
  vectorsJsonBound,
  writeVectorsJson,
  type VectorLayout,
} from './points.js';
import { QdrantError } from './qdrant/errors.js';
import type { Body, QdrantHttp } from './qdrant/http.js';
import { metrics } from '../shared/metrics.js';

export interface WriterOptions {
  batchSize: number;
  requestMaxBytes: number;
  retryMaxMs: number;
}

export type DeadLetter = (records: SinkRecord[], reason: string) => Promise<void>;

type KeepAlive = () => Promise<void>;
/** A unit's JSON: text, or bytes in an Arena. */
type Json = string | Buffer;
/** A request body from its units' JSON, as pieces (never joined into one large string). */
type Wrap = (jsons: Json[]) => Json[];

/** A change with its point id, before its JSON is written. */
interface Pending {
  change: PointChange;
  idJson: string;
  derivedFrom: string | undefined;
}

/** One unit of a request: a point's JSON (or operations) and the change it comes from. */
interface Unit {
  json: Json;
  change: PointChange;
}

/** Segments of request-body memory, reused from request to request. */
const SEGMENT_BYTES = 1 << 20;
const POOL_SEGMENTS = 32;

/**
 * The memory of one request's points: their JSON is written straight into pooled segments, so a
 * 1536-dim point never becomes a 20 KB heap string. V8 promotes such strings (they outlive the
 * request's round trip) and collects them late: with them the sink's heap peaked near 130 MB
 * between major GCs, with arenas near 40 MB (bench/sink.ts). Released once the request settled.
 */
class Arena {
  private readonly segments: Buffer[] = [];
  private used = 0;

  constructor(private readonly pool: Buffer[]) {}

  /** Writes at most `bound` bytes with `write(buffer, at) → end`; returns what it wrote. */
  write(bound: number, write: (b: Buffer, at: number) => number): Buffer {
    let seg = this.segments[this.segments.length - 1];
    if (!seg || seg.length - this.used < bound) {
      seg =
        bound <= SEGMENT_BYTES
          ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_BYTES))
          : Buffer.allocUnsafeSlow(bound);
      this.segments.push(seg);
      this.used = 0;
    }
    const start = this.used;
    this.used = write(seg, start);
    return seg.subarray(start, this.used);
  }

  /** A copy of `json` here (when it was written into another arena). */
  adopt(json: Json): Json {
    return typeof json === 'string' ? json : this.write(json.length, (b, at) => at + json.copy(b, at));
  }

  release(): void {
    for (const seg of this.segments)
      if (seg.length === SEGMENT_BYTES && this.pool.length < POOL_SEGMENTS) this.pool.push(seg);
    this.segments.length = 0;
  }
}

const enclose = (open: string, jsons: Json[], close: string): Json[] => {
  const parts: Json[] = [open];
  for (let i = 0; i < jsons.length; i++) {
    if (i) parts.push(',');
    parts.push(jsons[i]!);
  }
  parts.push(close);
  return parts;
};
const wrapPoints: Wrap = (u) => enclose('{"points":[', u, ']}');
const wrapOperations: Wrap = (u) => enclose('{"operations":[', u, ']}');

export class CollectionWriter {
  private readonly layout: VectorLayout;
  /** Free Arena segments, shared by the concurrent apply() calls of this collection. */
  private readonly pool: Buffer[] = [];

  constructor(
    private readonly http: QdrantHttp,
    readonly collection: string,
    private readonly descriptor: TableDescriptor,
    private readonly namespace: string,
    private readonly options: WriterOptions,
    private readonly deadLetter: DeadLetter,
    private readonly log: Logger,
    private readonly signal?: AbortSignal,
  ) {
    this.layout = vectorLayout(descriptor);
  }

  get keyColumns(): string[] {
    return this.descriptor.key.map((k) => k.name);
  }

  /** `keepAlive` is called while waiting, so the consumer group keeps this member (kafkajs heartbeat). */
  async apply(steps: Step[], keepAlive: KeepAlive = async () => {}): Promise<void> {
    for (const step of steps) {
      if (step.kind === 'truncate') {
        // Every point older than the truncate goes; points written after it (any partition) stay.
        // Older: an earlier transaction, or earlier in the truncate's own transaction.
        const lsn = Number(step.lsn);
        const body =
          `{"filter":{"should":[{"key":"${LSN_FIELD}","range":{"lt":${lsn}}},` +
          `{"must":[{"key":"${LSN_FIELD}","match":{"value":${lsn}}},{"key":"${SEQ_FIELD}","range":{"lt":${step.seq}}}]}]}}`;
        await this.send('POST', '/points/delete', body, keepAlive, (err) =>
          this.deadLetter(step.records, err.message),
        );
        continue;
      }
      const deletes: Pending[] = [];
      const upserts: Pending[] = [];
      const partials: Pending[] = [];
      for (const change of step.changes.values()) {
        const { id, derivedFrom } = pointIdOf(this.descriptor, this.namespace, change.event.key);
        const pending = { change, idJson: pointIdJson(id), derivedFrom };
        if (change.kind === 'delete') deletes.push(pending);
        else if (change.kind === 'upsert') upserts.push(pending);
        else partials.push(pending);
      }
      await this.sendUnits('POST', '/points/delete', deletes, (p) => p.idJson, wrapPoints, keepAlive);
      await this.sendUnits(
        'PUT',
        '/points',
        upserts,
        (p, arena) => this.pointJson(arena, p.idJson, p.change, p.derivedFrom),
        wrapPoints,
        keepAlive,
      );
      await this.sendUnits(
        'POST',
        '/points/batch',
        partials,
        (p) => this.partialOps(p.idJson, p.change, p.derivedFrom),
        wrapOperations,
        keepAlive,
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

  private pointJson(
    arena: Arena,
    idJson: string,
    change: PointChange,
    derivedFrom: string | undefined,
  ): Json {
    const head = `{"id":${idJson},"vector":`;
    const tail = `,"payload":${payloadJson(change.values, this.extra(change, derivedFrom))}}`;
    const bound = 3 * (head.length + tail.length) + vectorsJsonBound(this.layout, change.vectors);
    return arena.write(bound, (b, at) => {
      at += b.write(head, at, 'utf8');
      at = writeVectorsJson(b, at, this.layout, change.vectors);
      return at + b.write(tail, at, 'utf8');
    });
  }

  /** set_payload for the sent columns, update_vectors / delete_vectors for the sent vectors. */
  private partialOps(idJson: string, change: PointChange, derivedFrom: string | undefined): string {
    const ops = [
      `{"set_payload":{"payload":${payloadJson(change.values, this.extra(change, derivedFrom))},"points":[${idJson}]}}`,
    ];
    const set: string[] = [];
    const cleared: string[] = [];
    for (const name in change.vectors) {
      const v = change.vectors[name];
      const field = this.layout.unnamed ? '' : name;
      if (v) set.push(this.layout.unnamed ? vectorJson(v) : `${JSON.stringify(field)}:${vectorJson(v)}`);
      else cleared.push(JSON.stringify(field));
    }
    if (set.length)
      ops.push(
        `{"update_vectors":{"points":[{"id":${idJson},"vector":${this.layout.unnamed ? set[0] : `{${set.join(',')}}`}}]}}`,
      );
    if (cleared.length) ops.push(`{"delete_vectors":{"points":[${idJson}],"vector":[${cleared.join(',')}]}}`);
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
    keepAlive: KeepAlive,
  ) {
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
      inFlight = this.sendChunk(method, path, units, wrap, keepAlive).finally(() => memory.release());
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
        chunk.push({ json, change: p.change });
        bytes += json.length + 1;
      }
      if (chunk.length) await flush();
    } catch (err) {
      await inFlight.catch(() => {}); // no request outlives the batch it belongs to
      throw err;
    }
    await inFlight;
  }

  /** On a rejection of the request itself, halves it until the rejected unit stands alone. */
  private async sendChunk(method: string, path: string, units: Unit[], wrap: Wrap, keepAlive: KeepAlive) {
    await this.send(method, path, wrap(units.map((u) => u.json)), keepAlive, async (err) => {
      if (units.length === 1) {
        const reason = err.message;
        this.log.warn({ collection: this.collection, reason }, 'Qdrant rejected a record: dead-lettered');
        await this.deadLetter(units[0]!.change.records, reason);
        return;
      }
      const half = Math.ceil(units.length / 2);
      await this.sendChunk(method, path, units.slice(0, half), wrap, keepAlive);
      await this.sendChunk(method, path, units.slice(half), wrap, keepAlive);
    });
  }

  /** One request, retried while the failure is retriable; a rejection goes to `rejected`. */
  private async send(
    method: string,
    path: string,
    body: Body,
    keepAlive: KeepAlive,
    rejected: (err: QdrantError) => Promise<void>,
  ) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.http.write(method, this.collection, path, body);
        return;
      } catch (err) {
        if (!(err instanceof QdrantError)) throw err;
        if (!err.retriable) return rejected(err);
        metrics.qdrantRetries.inc({ status: err.status === null ? 'network' : String(err.status) });
        const backoff = backoffDelay(attempt, { initialMs: 200, maxMs: this.options.retryMaxMs });
        const delay =
          err.retryAfterSeconds !== null ? Math.max(err.retryAfterSeconds * 1000, backoff) : backoff;
        this.log.warn(
          { collection: this.collection, err: err.message, attempt, delayMs: delay },
          'Qdrant write failed; retrying',
        );
        // Sleep in slices, telling the group this member is alive (a long Retry-After or backoff
        // must not cost the partition).
        for (let left = delay; left > 0; left -= 3000) {
          await keepAlive();
          await sleep(Math.min(left, 3000), this.signal);
        }
      }
    }
  }
}
