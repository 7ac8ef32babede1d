// Point writes. Each operation is parsed first (format / validation errors, as actix does before
// the handler runs), then checked against the collection, then applied. Errors Qdrant only finds
// while applying (ApplyError: missing point, unknown vector name, update_vectors dimension) are
// hidden from wait=false callers, as with a real server that has already acknowledged the write.
import type { Collection, StoredPoint } from './collections.js';
import { ApplyError, formatError, pointNotFound, validationError, wrongInput } from './errors.js';
import { compileFilter, type Predicate } from './filter.js';
import { idKey, idToString, parsePointId, parsePointIds, type PointId } from './ids.js';
import { clone, isObject, type JsonObject, type JsonValue, type Out } from './json.js';
import { deletePath, mergePayload } from './payload.js';
import {
  checkDimensions,
  parseVector,
  parseVectorStruct,
  prepareVectors,
  type NamedVectors,
} from './vectors.js';

interface NewPoint {
  id: PointId;
  vectors: NamedVectors;
  named: boolean;
  payload: JsonObject;
}

/** Which points an operation addresses: listed ids, or those matching a filter. */
interface Selector {
  ids?: PointId[];
  filter?: Predicate;
}

type Apply = (c: Collection, op: number) => void;

function payloadOf(v: JsonValue | undefined): JsonObject {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw formatError('invalid type: expected a map for `payload`');
  return clone(v);
}

function selector(body: JsonObject, required = true): Selector {
  const sel: Selector = {};
  if (body.points !== undefined && body.points !== null) sel.ids = parsePointIds(body.points, 'points');
  if (body.filter !== undefined && body.filter !== null) sel.filter = compileFilter(body.filter);
  if (required && !sel.ids && !sel.filter) {
    throw validationError([['points', 'either `points` or `filter` is required']]);
  }
  return sel;
}

function parseNewPoints(body: JsonObject): NewPoint[] {
  if (isObject(body.batch)) {
    const { ids, vectors, payloads } = body.batch;
    const idList = parsePointIds(ids, 'ids');
    const columns = new Map<string, JsonValue[]>();
    if (Array.isArray(vectors)) columns.set('', vectors);
    else if (isObject(vectors))
      for (const [name, col] of Object.entries(vectors)) columns.set(name, list(col));
    else throw formatError('data did not match any variant of untagged enum BatchVectorStruct');
    const payloadList = payloads === undefined || payloads === null ? [] : list(payloads);
    for (const col of columns.values()) {
      if (col.length !== idList.length) throw wrongInput('number of ids and vectors must be equal');
    }
    return idList.map((id, i) => {
      const vs: NamedVectors = new Map();
      for (const [name, col] of columns)
        vs.set(name, parseVector(col[i]!, 'BatchVectorStruct', `vectors.${name}`));
      return { id, vectors: vs, named: !Array.isArray(vectors), payload: payloadOf(payloadList[i]) };
    });
  }
  if (!Array.isArray(body.points)) {
    throw formatError('data did not match any variant of untagged enum PointInsertOperations');
  }
  return body.points.map((p, i) => {
    if (!isObject(p))
      throw formatError('data did not match any variant of untagged enum PointInsertOperations');
    const id = parsePointId(p.id);
    const { vectors, named } = parseVectorStruct(p.vector ?? p.vectors, `points[${i}].vector`);
    return { id, vectors, named, payload: payloadOf(p.payload) };
  });
}

function list(v: JsonValue | undefined): JsonValue[] {
  if (!Array.isArray(v)) throw formatError('invalid type: expected a sequence');
  return v;
}

/**
 * The stored points an operation touches, chunk by chunk (32 like Qdrant); missing ids → 404.
 * Listed ids take precedence: a filter given beside them is ignored, as in Qdrant's
 * process_payload_operation (lib/shard/src/update/mod.rs) and its untagged PointsSelector.
 */
function forEachSelected(c: Collection, sel: Selector, fn: (p: StoredPoint) => void): void {
  if (!sel.ids) {
    for (const p of [...c.sortedPoints()]) if (sel.filter!(p)) fn(p);
    return;
  }
  for (let i = 0; i < sel.ids.length; i += 32) {
    let missing: PointId | undefined;
    for (const id of sel.ids.slice(i, i + 32)) {
      const p = c.points.get(idKey(id));
      if (!p) missing ??= id;
      else fn(p);
    }
    if (missing !== undefined) throw pointNotFound(idToString(missing));
  }
}

/**
 * How a modelled server applies writes beyond its request fields. `keepOmittedVectors`: Qdrant up
 * to 1.18 moves a point that sits in an optimized (non-appendable) segment to an appendable one
 * on upsert, starting from the point's old vectors and inserting the request's over them
 * (lib/shard/src/update.rs upsert_points, v1.18.3): vectors the request leaves out, named or
 * the unnamed "", are kept. 1.19 drops them. A recently written point is replaced fully even on
 * 1.18; the test server, asked to model optimized segments, treats every stored point as
 * optimized — the case a sink must handle.
 */
export interface WriteModel {
  keepOmittedVectors?: boolean;
}

export function parseUpsert(
  body: JsonObject,
  model: WriteModel = {},
): Apply & { check: (c: Collection) => void } {
  const points = parseNewPoints(body);
  const updateFilter = body.update_filter ? compileFilter(body.update_filter) : undefined;
  const mode = body.update_mode ?? 'upsert';
  if (!['upsert', 'insert_only', 'update_only'].includes(String(mode))) {
    throw formatError(
      `unknown variant \`${String(mode)}\`, expected one of \`upsert\`, \`insert_only\`, \`update_only\``,
    );
  }
  const apply = (c: Collection, op: number) => {
    const prepared = points.map((p) => ({ ...p, vectors: prepareVectors(c.schema, p.vectors) }));
    for (const p of prepared) {
      const existing = c.points.get(idKey(p.id));
      if (existing && (mode === 'insert_only' || (updateFilter && !updateFilter(existing)))) continue;
      if (!existing && mode === 'update_only') continue;
      const vectors =
        existing && model.keepOmittedVectors ? new Map([...existing.vectors, ...p.vectors]) : p.vectors;
      c.setPoint({ id: p.id, vectors, payload: p.payload, version: op });
    }
  };
  apply.check = (c: Collection) => points.forEach((p) => checkDimensions(c.schema, p.vectors, p.named));
  return apply;
}

export function parseDelete(body: JsonObject): Apply {
  const sel = selector(body);
  return (c) => {
    if (sel.ids) for (const id of sel.ids) c.deletePoint(id);
    else for (const p of [...c.sortedPoints()]) if (sel.filter!(p)) c.deletePoint(p.id);
  };
}

export function parseSetPayload(body: JsonObject, overwrite: boolean): Apply {
  if (!isObject(body.payload)) throw formatError('missing field `payload`');
  const patch = body.payload;
  const key = typeof body.key === 'string' && !overwrite ? body.key : undefined;
  const sel = selector(body);
  return (c, op) =>
    forEachSelected(c, sel, (p) => {
      if (overwrite) p.payload = clone(patch);
      else mergePayload(p.payload, patch, key);
      p.version = op;
    });
}

export function parseDeletePayload(body: JsonObject): Apply {
  if (!Array.isArray(body.keys)) throw formatError('missing field `keys`');
  const keys = body.keys.map(String);
  const sel = selector(body);
  return (c, op) =>
    forEachSelected(c, sel, (p) => {
      for (const k of keys) deletePath(p.payload, k);
      p.version = op;
    });
}

export function parseClearPayload(body: JsonObject): Apply {
  const sel = selector(body);
  return (c, op) =>
    forEachSelected(c, sel, (p) => {
      p.payload = {};
      p.version = op;
    });
}

export function parseUpdateVectors(body: JsonObject): Apply {
  if (!Array.isArray(body.points)) throw formatError('missing field `points`');
  const merged = new Map<string, { id: PointId; vectors: NamedVectors }>();
  body.points.forEach((p, i) => {
    if (!isObject(p)) throw formatError('invalid type: expected struct PointVectors');
    const id = parsePointId(p.id);
    const { vectors } = parseVectorStruct(p.vector, `points[${i}].vector`);
    const entry = merged.get(idKey(id)) ?? { id, vectors: new Map() };
    for (const [name, v] of vectors) entry.vectors.set(name, v);
    merged.set(idKey(id), entry);
  });
  const updateFilter = body.update_filter ? compileFilter(body.update_filter) : undefined;
  return (c, op) => {
    const prepared = new Map([...merged].map(([k, e]) => [k, prepareVectors(c.schema, e.vectors)]));
    const ids = [...merged.values()].map((e) => e.id);
    forEachSelected(c, { ids }, (p) => {
      if (updateFilter && !updateFilter(p)) return;
      for (const [name, v] of prepared.get(idKey(p.id))!) p.vectors.set(name, v);
      p.version = op;
    });
  };
}

export function parseDeleteVectors(body: JsonObject): Apply {
  const names = body.vector ?? body.vectors;
  if (!Array.isArray(names)) throw formatError('missing field `vector`');
  const sel = selector(body);
  const drop = (op: number) => (p: StoredPoint) => {
    for (const n of names) p.vectors.delete(String(n));
    p.version = op;
  };
  // Qdrant's do_delete_vectors applies both: the filter's points first, then the listed ids.
  return (c, op) => {
    if (sel.filter) forEachSelected(c, { filter: sel.filter }, drop(op));
    if (sel.ids) forEachSelected(c, { ids: sel.ids }, drop(op));
  };
}

/** Runs one write: assigns the operation id, applies, and answers an UpdateResult. */
export function runWrite(
  c: Collection,
  apply: Apply & { check?: (c: Collection) => void },
  wait: boolean,
): Out {
  apply.check?.(c);
  const op = c.nextOperationId();
  try {
    apply(c, op);
  } catch (err) {
    if (wait || !(err instanceof ApplyError)) throw err;
  }
  return { operation_id: BigInt(op), status: wait ? 'completed' : 'acknowledged' };
}

const BATCH_OPS: Record<string, (body: JsonObject) => Apply> = {
  upsert: parseUpsert,
  delete: parseDelete,
  set_payload: (b) => parseSetPayload(b, false),
  overwrite_payload: (b) => parseSetPayload(b, true),
  delete_payload: parseDeletePayload,
  clear_payload: parseClearPayload,
  update_vectors: parseUpdateVectors,
  delete_vectors: parseDeleteVectors,
};

/** POST /collections/{c}/points/batch: {operations: [{upsert: {...}}, {delete: {...}}, ...]}. */
export function parseBatch(
  body: JsonObject,
  version: Version = CURRENT,
  model: WriteModel = {},
): Array<Apply & { check?: (c: Collection) => void }> {
  if (!Array.isArray(body.operations)) throw formatError('missing field `operations`');
  return body.operations.map((o) => {
    const entry = isObject(o) ? Object.entries(o).find(([k]) => k in BATCH_OPS) : undefined;
    if (!entry || !isObject(entry[1])) {
      throw formatError('data did not match any variant of untagged enum UpdateOperation');
    }
    const op = asOf(version, entry[1]);
    return entry[0] === 'upsert' ? parseUpsert(op, model) : BATCH_OPS[entry[0]]!(op);
  });
}

/** A server version as [major, minor]. */
export type Version = [number, number];
const CURRENT: Version = [1, 19];

/**
 * A write body as an older Qdrant reads it: fields it does not know yet are ignored (serde drops
 * unknown fields; read from v1.15.0's lib/api rest schema): `update_filter` on upsert and
 * update_vectors came in 1.16, `update_mode` in 1.17.
 */
export function asOf(version: Version, body: JsonObject): JsonObject {
  const before = (major: number, minor: number) =>
    version[0] < major || (version[0] === major && version[1] < minor);
  const out = { ...body };
  if (before(1, 16)) delete out.update_filter;
  if (before(1, 17)) delete out.update_mode;
  return out;
}
