// Point reads: get, retrieve, scroll, count, query and the deprecated search. Queries are always
// exact (a full scan), which is what `params: {exact: true}` asks of a real Qdrant.
import type { Collection, StoredPoint } from './collections.js';
import { formatError, notFound, validationError, wrongInput } from './errors.js';
import { compileFilter } from './filter.js';
import { compareIds, idKey, idToString, parsePointId, parsePointIds, type PointId } from './ids.js';
import { isNumeric, isObject, F32, type JsonObject, type JsonValue, type Out } from './json.js';
import { selectPayload, valuesAt } from './payload.js';
import {
  isSparse,
  normalise,
  parseVector,
  postprocess,
  similarityOf,
  sparseDot,
  vectorsOut,
  type Vector,
} from './vectors.js';

const idOut = (id: PointId): Out => id;

function record(
  p: StoredPoint,
  withPayload: JsonValue | undefined,
  withVector: JsonValue | undefined,
): Record<string, Out> {
  const out: Record<string, Out> = { id: idOut(p.id) };
  out.payload = selectPayload(p.payload, withPayload);
  out.vector = vectorsOut(p.vectors, withVector);
  return out;
}

function limitOf(body: JsonObject, fallback: number): number {
  const v = body.limit;
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'bigint' || v < 0n) throw formatError(`invalid value for \`limit\`, expected usize`);
  if (v === 0n) throw validationError([['limit', 'value 0 invalid, must be 1 or larger']]);
  return Number(v);
}

function offsetOf(body: JsonObject): number {
  const v = body.offset;
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'bigint' || v < 0n) throw formatError('invalid value for `offset`, expected usize');
  return Number(v);
}

export function getPoint(c: Collection, id: PointId): Out {
  const p = c.points.get(idKey(id));
  if (!p) throw notFound(`Point with id ${idToString(id)} does not exists!`);
  return record(p, true, true);
}

export function retrieve(c: Collection, body: JsonObject): Out {
  const ids = parsePointIds(body.ids, 'ids');
  const withVector = body.with_vector ?? body.with_vectors;
  const seen = new Set<string>();
  const out: Out[] = [];
  for (const id of ids) {
    const p = c.points.get(idKey(id));
    if (!p || seen.has(idKey(id))) continue;
    seen.add(idKey(id));
    out.push(record(p, body.with_payload ?? false, withVector));
  }
  return out;
}

function orderBy(body: JsonObject): { key: string; desc: boolean; start?: number } | undefined {
  const o = body.order_by;
  if (o === undefined || o === null) return undefined;
  if (typeof o === 'string') return { key: o, desc: false };
  if (!isObject(o) || typeof o.key !== 'string') throw formatError('invalid `order_by`');
  return {
    key: o.key,
    desc: o.direction === 'desc',
    start: isNumeric(o.start_from) ? Number(o.start_from) : undefined,
  };
}

export function scroll(c: Collection, body: JsonObject): Out {
  const limit = limitOf(body, 10);
  const filter = compileFilter(body.filter);
  const withPayload = body.with_payload ?? true;
  const withVector = body.with_vector ?? body.with_vectors ?? false;
  const order = orderBy(body);
  if (order) {
    const rows: Array<{ p: StoredPoint; v: number }> = [];
    for (const p of c.sortedPoints()) {
      if (!filter(p)) continue;
      for (const v of valuesAt(p.payload, order.key).flat()) {
        if (!isNumeric(v)) continue;
        const n = Number(v);
        if (order.start === undefined || (order.desc ? n <= order.start : n >= order.start))
          rows.push({ p, v: n });
      }
    }
    rows.sort((a, b) => (order.desc ? b.v - a.v : a.v - b.v) || compareIds(a.p.id, b.p.id));
    const points = rows
      .slice(0, limit)
      .map((r) => ({ ...record(r.p, withPayload, withVector), order_value: r.v }));
    return { points, next_page_offset: null };
  }
  const offset = body.offset === undefined || body.offset === null ? undefined : parsePointId(body.offset);
  const matching = c
    .sortedPoints()
    .filter((p) => (offset === undefined || compareIds(p.id, offset) >= 0) && filter(p));
  const next = matching[limit];
  return {
    points: matching.slice(0, limit).map((p) => record(p, withPayload, withVector)),
    next_page_offset: next ? idOut(next.id) : null,
  };
}

export function count(c: Collection, body: JsonObject): Out {
  const filter = compileFilter(body.filter);
  let n = 0;
  for (const p of c.points.values()) if (filter(p)) n++;
  return { count: BigInt(n) };
}

interface Search {
  vector?: Vector | PointId;
  using: string;
  body: JsonObject;
  limit: number;
}

function parseQuery(q: JsonValue | undefined): Vector | PointId | undefined {
  if (q === undefined || q === null) return undefined;
  if (isObject(q) && 'nearest' in q) return parseQuery(q.nearest);
  if (typeof q === 'bigint' || typeof q === 'string') return parsePointId(q);
  if (Array.isArray(q) || (isObject(q) && 'indices' in q)) return parseVector(q, 'QueryInterface', 'query');
  throw wrongInput('this query type is not supported by the test server (use nearest)');
}

type Hit = { p: StoredPoint; raw: number; score: number };

/**
 * Within one batch, queries asking the same ranking (vector, `using`, filter, score threshold) share
 * one scoring pass: the test server answers every search exactly (a full scan), so a batch's exact
 * and approximate search of one vector rank the same points — as Qdrant's batch search also reads
 * each segment once for the whole batch.
 */
export type Rankings = Map<string, Hit[]>;

function rankingKey(s: Search): string {
  const json = (v: JsonValue | undefined) =>
    JSON.stringify(v ?? null, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  return `${s.using}\n${json(s.body.filter)}\n${json(s.body.score_threshold)}\n${json(s.body.query)}`;
}

function scored(c: Collection, s: Search, rankings?: Rankings): Out[] {
  const filter = compileFilter(s.body.filter);
  const withPayload = s.body.with_payload ?? false;
  const withVector = s.body.with_vector ?? s.body.with_vectors ?? false;
  const offset = offsetOf(s.body);
  const out = (p: StoredPoint, score: number): Out => ({
    ...record(p, withPayload, withVector),
    version: BigInt(p.version),
    score: new F32(score),
  });
  if (s.vector === undefined) {
    const points = c.sortedPoints().filter((p) => filter(p));
    return points.slice(offset, offset + s.limit).map((p) => out(p, 0));
  }
  const key = rankings && rankingKey(s);
  const hits = (key !== undefined && rankings!.get(key)) || rank(c, s, filter);
  if (key !== undefined) rankings!.set(key, hits);
  return hits.slice(offset, offset + s.limit).map((h) => out(h.p, h.score));
}

/** Every point matching, best first, as a search ranks them. */
function rank(c: Collection, s: Search, filter: ReturnType<typeof compileFilter>): Hit[] {
  let query = s.vector!;
  let exclude: string | undefined;
  if (typeof query === 'bigint' || typeof query === 'string') {
    const p = c.points.get(idKey(query));
    const v = p?.vectors.get(s.using);
    if (!v) throw notFound(`No point with id ${idToString(query)} found`);
    exclude = idKey(query);
    query = v;
  }
  const hits: Hit[] = [];
  if (isSparse(query)) {
    if (!c.schema.sparse.has(s.using)) throw wrongInput(`Not existing vector name error: ${s.using}`);
    for (const p of c.points.values()) {
      const v = p.vectors.get(s.using);
      const dot = v && isSparse(v) && idKey(p.id) !== exclude && filter(p) ? sparseDot(query, v) : undefined;
      if (dot !== undefined) hits.push({ p, raw: dot, score: dot });
    }
  } else {
    const params = c.schema.dense.get(s.using);
    if (!params) throw wrongInput(`Not existing vector name error: ${s.using}`);
    if (query.length !== params.size) {
      throw wrongInput(`Vector dimension error: expected dim: ${params.size}, got ${query.length}`);
    }
    const q = params.distance === 'Cosine' ? normalise(query) : query;
    const similarity = similarityOf(params.distance);
    for (const p of c.points.values()) {
      const v = p.vectors.get(s.using);
      if (!v || isSparse(v) || (exclude !== undefined && idKey(p.id) === exclude) || !filter(p)) continue;
      const raw = similarity(q, v);
      hits.push({ p, raw, score: postprocess(params.distance, raw) });
    }
  }
  const threshold = s.body.score_threshold;
  const distance = isSparse(query) ? 'Dot' : c.schema.dense.get(s.using)!.distance;
  const keep = (score: number) =>
    !isNumeric(threshold) ||
    (distance === 'Euclid' || distance === 'Manhattan'
      ? score <= Number(threshold)
      : score >= Number(threshold));
  return hits.filter((h) => keep(h.score)).sort((a, b) => b.raw - a.raw || compareIds(a.p.id, b.p.id));
}

/** POST /collections/{c}/points/query (nearest only; no prefetch, fusion or recommend). */
export function query(c: Collection, body: JsonObject, rankings?: Rankings): Out {
  if (body.prefetch !== undefined && body.prefetch !== null)
    throw wrongInput('prefetch is not supported by the test server');
  const using = typeof body.using === 'string' ? body.using : '';
  return {
    points: scored(c, { vector: parseQuery(body.query), using, body, limit: limitOf(body, 10) }, rankings),
  };
}

/**
 * POST /collections/{c}/points/query/batch: `{"searches": [query request, …]}` → one `{points}`
 * per request, in order (Qdrant's query_points_batch). One failing request fails the batch.
 */
export function queryBatch(c: Collection, body: JsonObject): Out {
  const searches = body.searches;
  if (searches === undefined || searches === null) throw formatError('missing field `searches`');
  if (!Array.isArray(searches)) throw formatError('invalid type: expected a sequence for `searches`');
  const rankings: Rankings = new Map();
  return searches.map((s) => {
    if (!isObject(s)) throw formatError('invalid type: expected struct QueryRequestInternal');
    return query(c, s, rankings);
  });
}

/** POST /collections/{c}/points/search (deprecated): `vector` is a list or {name, vector}. */
export function search(c: Collection, body: JsonObject): Out {
  if (body.limit === undefined) throw formatError('missing field `limit`');
  const v = body.vector;
  const named = isObject(v) && typeof v.name === 'string' && v.vector !== undefined;
  const vector = parseVector(named ? v.vector! : (v ?? null), 'NamedVectorStruct', 'vector');
  return scored(c, { vector, using: named ? (v.name as string) : '', body, limit: limitOf(body, 10) });
}
