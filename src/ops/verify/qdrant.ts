// The reads `verify` makes of a collection: its parameters, points by id, a scroll of its ids, and
// nearest-neighbour queries (exact and HNSW). Plain fetch with JSON the sink's own functions write
// (point ids keep every digit), and answers parsed so that integers beyond 2^53 — point ids,
// payload integers — stay exact (bigint), as the test server and Qdrant itself keep them.
//
// A passing fault (network, 5xx, 408, 429) is retried a few times; a refused key or a certificate
// that does not verify is a ConfigError naming its config field (exit 2), like `status`.
import { sleep } from '../../shared/backoff.js';
import { ConfigError, messageOf } from '../../shared/errors.js';
import { isRetriableStatus } from '../../sink/qdrant/errors.js';
import { pointIdJson, type PointId } from '../../sink/qdrant/point-id.js';
import { qdrantTlsProblem } from '../../sink/qdrant/tls-errors.js';
import type { ExistingParams } from '../../sink/qdrant/collections.js';

/** A point as Qdrant answers it; `vector` is a list (the unnamed vector) or name → vector. */
export interface QdrantPoint {
  id: PointId;
  payload?: Record<string, unknown> | null;
  vector?: unknown;
  score?: number;
}

export interface CollectionParams extends ExistingParams {
  vectors?:
    { size?: unknown; distance?: unknown } | Record<string, { size?: unknown; distance?: unknown }> | null;
}

/** Doubles from 2^53 on: every integer literal that does not parse exactly lands here. */
const UNSAFE = 2 ** 53;

/** Whether a parsed value holds a number JSON.parse may have rounded (|x| ≥ 2^53). */
function holdsUnsafe(v: unknown): boolean {
  if (typeof v === 'number') return v >= UNSAFE || v <= -UNSAFE;
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) {
    // A tight loop over vectors' elements: no call per number.
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'number' ? x >= UNSAFE || x <= -UNSAFE : holdsUnsafe(x)) return true;
    }
    return false;
  }
  for (const k in v) if (holdsUnsafe((v as Record<string, unknown>)[k])) return true;
  return false;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** holdsUnsafe of every field of `v` but `skip`. */
function fieldsHoldUnsafe(v: Record<string, unknown>, skip: string): boolean {
  for (const k in v) if (k !== skip && holdsUnsafe(v[k])) return true;
  return false;
}

/**
 * holdsUnsafe of an answer carrying points — a list of points (retrieve), `{points, …}` (scroll,
 * query) or a list of those (query batch) — without looking into the points' vectors: their
 * elements are float32 values, never integers to keep exact, and scanning them was a tenth of
 * verify's CPU (bench/verify.ts profiles).
 */
function pointsHoldUnsafe(answer: unknown): boolean {
  if (!isRecord(answer)) return holdsUnsafe(answer);
  if (fieldsHoldUnsafe(answer, 'result')) return true;
  const result = answer.result;
  for (const item of Array.isArray(result) ? result : [result]) {
    if (!isRecord(item)) {
      if (holdsUnsafe(item)) return true;
    } else if (Array.isArray(item.points)) {
      if (fieldsHoldUnsafe(item, 'points')) return true;
      for (const p of item.points as unknown[])
        if (isRecord(p) ? fieldsHoldUnsafe(p, 'vector') : holdsUnsafe(p)) return true;
    } else if (fieldsHoldUnsafe(item, 'vector')) return true;
  }
  return false;
}

/**
 * JSON.parse keeping integers exact: an integer literal beyond 2^53 becomes a bigint (Node ≥ 21
 * hands the reviver the literal's source text). Point ids in the answer become PointIds.
 * A reviver is called for every value — 1,536 numbers a vector — and made verify's reads several
 * times slower than the requests themselves (bench/verify.ts); so the text is parsed plainly
 * first, and again with the reviver only when a number came out at 2^53 or beyond (any integer
 * literal that lost digits does). With `points`, the text is an answer carrying points, whose
 * vectors are not searched for such numbers (pointsHoldUnsafe).
 */
export function parseExact(text: string, points = false): unknown {
  const plain: unknown = JSON.parse(text);
  if (!(points ? pointsHoldUnsafe(plain) : holdsUnsafe(plain))) return plain;
  return JSON.parse(text, function (
    this: unknown,
    _key: string,
    value: unknown,
    context?: { source?: string },
  ) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
      const source = context?.source;
      if (source && /^-?\d+$/.test(source)) return BigInt(source);
    }
    return value;
  } as (key: string, value: unknown) => unknown);
}

/** A point id as Qdrant answers it → the sink's PointId (integers as bigint, uuids as text). */
export function answeredId(id: unknown): PointId {
  if (typeof id === 'bigint') return id;
  if (typeof id === 'number') return BigInt(id);
  return String(id);
}

export class CollectionReader {
  private readonly base: string;
  /** Set when the server has no `/points/query/batch` (nearestBatch). */
  private noBatch = false;

  constructor(
    private readonly options: {
      url: string;
      apiKey: string | undefined;
      caFile: string | undefined;
      timeoutMs?: number;
      signal?: AbortSignal;
    },
    readonly collection: string,
  ) {
    this.base = `${options.url.replace(/\/+$/, '')}/collections/${encodeURIComponent(collection)}`;
  }

  private where() {
    return `Qdrant at ${this.options.url} (qdrant.url)`;
  }

  /**
   * One request; the parsed `result`, or undefined on a 404 when `missingOk`. `points`: the answer
   * carries points (parseExact).
   */
  private async call(
    method: string,
    path: string,
    body?: string,
    missingOk = false,
    points = true,
  ): Promise<unknown> {
    const timeoutMs = this.options.timeoutMs ?? 60_000;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            ...(this.options.apiKey ? { 'api-key': this.options.apiKey } : {}),
          },
          ...(body === undefined ? {} : { body }),
          signal: this.options.signal
            ? AbortSignal.any([this.options.signal, AbortSignal.timeout(timeoutMs)])
            : AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        if (this.options.signal?.aborted) throw err;
        const tls = qdrantTlsProblem(err, { url: this.options.url, caFile: this.options.caFile });
        if (tls) throw new ConfigError(`${tls.message}: ${tls.fix}`);
        if (attempt < 4) {
          await sleep(500 * attempt, this.options.signal);
          continue;
        }
        const cause = (err as { cause?: unknown }).cause;
        throw new ConfigError(
          `${this.where()}: ${messageOf(cause ?? err)}: check its address and that it runs`,
        );
      }
      const text = await res.text();
      if (res.status === 200) return (parseExact(text, points) as { result: unknown }).result;
      if (res.status === 404 && missingOk) return undefined;
      if (res.status === 401 || res.status === 403)
        throw new ConfigError(
          `${this.where()} refused the API key (HTTP ${res.status}): check qdrant.apiKeyEnv`,
        );
      if (isRetriableStatus(res.status) && attempt < 4) {
        await sleep(500 * attempt, this.options.signal);
        continue;
      }
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { status?: { error?: string } }).status?.error ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      throw new ConfigError(
        `${this.where()}: ${method} ${path} on collection ${this.collection} answered ${res.status}: ${message}`,
      );
    }
  }

  /** The collection's `config.params`; undefined when it does not exist. */
  async params(): Promise<CollectionParams | undefined> {
    const info = (await this.call('GET', '', undefined, true, false)) as
      { config?: { params?: CollectionParams } } | undefined;
    return info ? (info.config?.params ?? {}) : undefined;
  }

  /** Points by id (missing ones are left out), with their payload and, asked, their vectors. */
  async retrieve(ids: PointId[], withVector: boolean, withPayload: boolean | string[] = true) {
    if (ids.length === 0) return [];
    const body =
      `{"ids":[${ids.map(pointIdJson).join(',')}],"with_payload":${JSON.stringify(withPayload)},` +
      `"with_vector":${withVector}}`;
    return (await this.call('POST', '/points', body)) as QdrantPoint[];
  }

  /** One page of the collection in id order, from `offset` (null: the start). */
  async scroll(offset: PointId | null, limit: number, withPayload: boolean | string[]) {
    const body =
      `{"limit":${limit},"with_payload":${JSON.stringify(withPayload)},"with_vector":false` +
      `${offset === null ? '' : `,"offset":${pointIdJson(offset)}`}}`;
    const page = (await this.call('POST', '/points/scroll', body)) as {
      points: QdrantPoint[];
      next_page_offset: unknown;
    };
    const next = page.next_page_offset;
    return { points: page.points, next: next === null || next === undefined ? null : answeredId(next) };
  }

  /**
   * The `limit` nearest points to `vector` (JSON text) in vector `using` ('' for the unnamed one):
   * with `exact`, a full scan (params.exact); else the HNSW index, as applications query it.
   */
  async nearest(vectorJson: string, using: string, limit: number, exact: boolean, withPayload: string[]) {
    const body = queryJson({ vectorJson, using, limit, exact, withPayload });
    return ((await this.call('POST', '/points/query', body)) as { points: QdrantPoint[] }).points;
  }

  /**
   * Several `nearest` queries in one request (`/points/query/batch`): the answers in the order
   * asked. One request instead of one a query, and Qdrant runs them together. A server that
   * answers the route with 404 (a proxy that lists the routes it passes, a test server of an
   * older vecrelay) is asked one query at a time from then on; a missing collection then fails
   * the first of them.
   */
  async nearestBatch(searches: NearestQuery[]): Promise<QdrantPoint[][]> {
    if (searches.length === 0) return [];
    if (!this.noBatch) {
      const body = `{"searches":[${searches.map(queryJson).join(',')}]}`;
      const answers = (await this.call('POST', '/points/query/batch', body, true)) as
        Array<{ points: QdrantPoint[] }> | undefined;
      if (answers) return answers.map((a) => a.points);
      this.noBatch = true;
    }
    const out: QdrantPoint[][] = [];
    for (const q of searches)
      out.push(await this.nearest(q.vectorJson, q.using, q.limit, q.exact, q.withPayload));
    return out;
  }
}

/** A nearest-neighbour query (see CollectionReader.nearest). */
export interface NearestQuery {
  /** The query vector as JSON text. */
  vectorJson: string;
  /** '' for the unnamed vector. */
  using: string;
  limit: number;
  exact: boolean;
  withPayload: string[];
}

function queryJson(q: NearestQuery): string {
  return (
    `{"query":${q.vectorJson},${q.using ? `"using":${JSON.stringify(q.using)},` : ''}"limit":${q.limit},` +
    `"with_payload":${JSON.stringify(q.withPayload)},"with_vector":false` +
    `${q.exact ? ',"params":{"exact":true}' : ''}}`
  );
}
