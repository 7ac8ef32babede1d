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
  payloadJson,
  vectorJson,
  vectorLayout,
  vectorsJson,
  type VectorLayout,
} from './points.js';
import { QdrantError } from './qdrant/errors.js';
import type { QdrantHttp } from './qdrant/http.js';
import { metrics } from '../shared/metrics.js';

export interface WriterOptions {
  batchSize: number;
  requestMaxBytes: number;
  retryMaxMs: number;
}

export type DeadLetter = (records: SinkRecord[], reason: string) => Promise<void>;

type KeepAlive = () => Promise<void>;
type Wrap = (jsons: string[]) => string;

/** A change with its point id, before its JSON is written. */
interface Pending {
  change: PointChange;
  idJson: string;
  derivedFrom: string | undefined;
}

/** One unit of a request: a point's JSON (or operations) and the change it comes from. */
interface Unit {
  json: string;
  change: PointChange;
}

const wrapPoints: Wrap = (u) => `{"points":[${u.join(',')}]}`;
const wrapOperations: Wrap = (u) => `{"operations":[${u.join(',')}]}`;

export class CollectionWriter {
  private readonly layout: VectorLayout;

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
        const body = `{"filter":{"must":[{"key":"${LSN_FIELD}","range":{"lt":${Number(step.lsn)}}}]}}`;
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
        (p) => this.pointJson(p.idJson, p.change, p.derivedFrom),
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
    const extra: Record<string, string> = { [LSN_FIELD]: String(Number(change.lsn)) };
    if (derivedFrom !== undefined) extra[KEY_FIELD] = JSON.stringify(derivedFrom);
    return extra;
  }

  private pointJson(idJson: string, change: PointChange, derivedFrom: string | undefined): string {
    const vector = vectorsJson(this.layout, change.vectors);
    return `{"id":${idJson},"vector":${vector},"payload":${payloadJson(change.values, this.extra(change, derivedFrom))}}`;
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
   * overlaps Qdrant's work.
   */
  private async sendUnits(
    method: string,
    path: string,
    pending: Pending[],
    toJson: (p: Pending) => string,
    wrap: Wrap,
    keepAlive: KeepAlive,
  ) {
    let chunk: Unit[] = [];
    let bytes = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const flush = async () => {
      const units = chunk;
      chunk = [];
      bytes = 0;
      await inFlight;
      inFlight = this.sendChunk(method, path, units, wrap, keepAlive);
      inFlight.catch(() => {}); // handled where it is awaited: the next flush, or the end
    };
    for (const p of pending) {
      const u: Unit = { json: toJson(p), change: p.change };
      if (
        chunk.length >= this.options.batchSize ||
        (chunk.length && bytes + u.json.length > this.options.requestMaxBytes)
      )
        await flush();
      chunk.push(u);
      bytes += u.json.length + 1;
    }
    if (chunk.length) await flush();
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
    body: string,
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
