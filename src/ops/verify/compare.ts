// One row against its point: what the sink would write for the row (its point id, vectors and
// payload, made by the sink's own functions) compared with what Qdrant holds.
//
//   - vectors: every vector of the collection's layout (layout.ts). A non-NULL vector must be
//     there with the collection's size, equal in float32 — for a Cosine vector, equal to the row's
//     vector normalised as Qdrant normalises it (cosineStored). A NULL vector must be absent.
//   - payload: the row's payload columns as the sink writes them (payloadJson, with the derived
//     key field), equal as JSON values; vecrelay's position fields are the pipeline's bookkeeping
//     and left out.
import type { ChangeEvent, VectorValue } from '../../event/change-event.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import type { Distance } from '../../sink/qdrant/collections.js';
import type { VectorMapping } from '../../sink/qdrant/layout.js';
import { KEY_FIELD, pointIdJson, pointIdOf } from '../../sink/qdrant/point-id.js';
import { layoutNames, LSN_FIELD, payloadJson, SEQ_FIELD } from '../../sink/qdrant/points.js';
import { parseExact, type CollectionParams, type QdrantPoint } from './qdrant.js';

export interface Problem {
  kind: 'vector' | 'payload' | 'null-vector' | 'dimension' | 'undecodable';
  detail: string;
}

/** What the sink writes for a row. */
export interface ExpectedPoint {
  idJson: string;
  id: ReturnType<typeof pointIdOf>['id'];
  vectors: Record<string, VectorValue | null>;
  payload: unknown;
}

export function expectedPoint(
  descriptor: Pick<TableDescriptor, 'key'>,
  namespace: string,
  event: ChangeEvent,
): ExpectedPoint {
  const { id, derivedFrom } = pointIdOf(descriptor, namespace, event.key);
  const extra: Record<string, string> =
    derivedFrom === undefined ? {} : { [KEY_FIELD]: JSON.stringify(derivedFrom) };
  return {
    idJson: pointIdJson(id),
    id,
    vectors: event.vectors,
    payload: parseExact(payloadJson(event.values ?? {}, extra)),
  };
}

/** Each vector's distance and size, by the name points use ('' for the unnamed vector). */
export function vectorParams(params: CollectionParams): Map<string, { distance: Distance; size: number }> {
  const out = new Map<string, { distance: Distance; size: number }>();
  const v = params.vectors;
  if (!v) return out;
  const one = v as { size?: unknown; distance?: unknown };
  if (typeof one.size === 'number') out.set('', { size: one.size, distance: one.distance as Distance });
  else
    for (const [name, p] of Object.entries(v as Record<string, { size?: unknown; distance?: unknown }>))
      if (p && typeof p.size === 'number') out.set(name, { size: p.size, distance: p.distance as Distance });
  return out;
}

type Stored = number[] | { indices: number[]; values: number[] };

/** The point's vectors by the table's column names (the unnamed vector under its column). */
function storedVectors(point: QdrantPoint, mapping: VectorMapping): Map<string, Stored> {
  const out = new Map<string, Stored>();
  const v = point.vector;
  if (Array.isArray(v)) {
    if (mapping.layout.unnamed && mapping.layout.dense[0]) out.set(mapping.layout.dense[0], v as number[]);
  } else if (v && typeof v === 'object') {
    for (const [name, x] of Object.entries(v as Record<string, Stored>))
      out.set(name === '' && mapping.layout.unnamed ? (mapping.layout.dense[0] ?? '') : name, x);
  }
  return out;
}

const ulpStep = new Float32Array(1);
const ulpBits = new Int32Array(ulpStep.buffer);
/** The float32 `n` units in the last place away from positive `x`. */
function f32Step(x: number, n: number): number {
  ulpStep[0] = x;
  ulpBits[0] = ulpBits[0]! + n;
  return ulpStep[0]!;
}

/**
 * Whether `stored` is `source` as Qdrant stores it in a Cosine collection (cosine_preprocess in
 * lib/segment/src/spaces): s = x / L per element, in float32, where L = sqrt(Σx²) computed in
 * float32 — unless Σx² < f32::EPSILON or |Σx² − 1| ≤ 1e-6, when the vector is kept as it is.
 * Qdrant sums the squares with SIMD on most CPUs (AVX, SSE, NEON: each its own order of
 * additions), so L may differ from a sequential sum in its last bits. The check is therefore exact
 * per element for one float32 L found near the true norm: every element must be exactly
 * fround(x / L). A single changed element, or a vector normalised from other values, fails it.
 */
export function cosineStored(source: Float32Array, stored: number[]): boolean {
  if (stored.length !== source.length) return false;
  let sumSq = 0;
  for (const x of source) sumSq += x * x;
  const same = () => source.every((x, i) => x === Math.fround(stored[i]!));
  // Kept unchanged (with a margin for Qdrant's own float32 sum), or normalised.
  if ((sumSq < 1.2e-7 || Math.abs(sumSq - 1) <= 2e-6) && same()) return true;
  if (sumSq === 0) return false;
  const norm = Math.fround(Math.sqrt(sumSq));
  const matches = (length: number) => {
    for (let i = 0; i < source.length; i++)
      if (Math.fround(source[i]! / length) !== Math.fround(stored[i]!)) return false;
    return true;
  };
  if (matches(norm)) return true;
  // A float32 sum of n squares is within about n ulps of the exact one; its root within half that.
  const reach = Math.min(4096, Math.max(16, source.length));
  for (let n = 1; n <= reach; n++) if (matches(f32Step(norm, n)) || matches(f32Step(norm, -n))) return true;
  return false;
}

/** Float32 equality, element by element (Euclid, Dot, Manhattan store vectors as they are). */
const denseEqual = (source: Float32Array, stored: number[]): boolean =>
  stored.length === source.length && source.every((x, i) => x === Math.fround(stored[i]!));

function vectorProblem(
  name: string,
  want: VectorValue,
  have: Stored,
  params: { distance: Distance; size: number } | undefined,
): Problem | undefined {
  if (want.kind === 'sparse') {
    const s = have as { indices?: number[]; values?: number[] };
    const ok =
      !Array.isArray(have) &&
      s.indices?.length === want.indices.length &&
      want.indices.every((ix, i) => s.indices![i] === ix && Math.fround(s.values![i]!) === want.values[i]);
    return ok ? undefined : { kind: 'vector', detail: `sparse vector ${name} differs` };
  }
  if (!Array.isArray(have))
    return { kind: 'vector', detail: `vector ${name} is sparse in Qdrant, dense in the row` };
  if (have.length !== want.values.length)
    return {
      kind: 'dimension',
      detail: `vector ${name} has ${have.length} dimensions in Qdrant, ${want.values.length} in the row`,
    };
  const equal =
    params?.distance === 'Cosine' ? cosineStored(want.values, have) : denseEqual(want.values, have);
  if (equal) return undefined;
  const first = want.values.findIndex((x, i) => x !== Math.fround(have[i]!));
  return {
    kind: 'vector',
    detail:
      `vector ${name} differs` +
      (params?.distance === 'Cosine'
        ? ' (after Cosine normalisation)'
        : ` (first at [${first}]: ${want.values[first]} vs ${have[first]})`),
  };
}

/** JSON values equal: objects by keys (any order), arrays in order, numbers by value. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint')
    return String(a) === String(b) && typeof a !== 'string' && typeof b !== 'string';
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const ob = b as Record<string, unknown>;
  return (
    ka.length === Object.keys(ob).length &&
    ka.every((k) => Object.hasOwn(ob, k) && jsonEqual((a as Record<string, unknown>)[k], ob[k]))
  );
}

/** The payload columns that differ (or the whole payload when it is not an object). */
function payloadProblem(want: unknown, have: unknown): Problem | undefined {
  const stored: Record<string, unknown> = { ...((have as Record<string, unknown> | null) ?? {}) };
  delete stored[LSN_FIELD];
  delete stored[SEQ_FIELD];
  if (jsonEqual(want, stored)) return undefined;
  const w = want as Record<string, unknown>;
  const names = [...new Set([...Object.keys(w), ...Object.keys(stored)])].filter(
    (k) => !jsonEqual(w[k], stored[k]),
  );
  return { kind: 'payload', detail: `payload differs in ${names.map((n) => JSON.stringify(n)).join(', ')}` };
}

/** Every way the point differs from the row; empty when equal. */
export function comparePoint(
  want: ExpectedPoint,
  point: QdrantPoint,
  mapping: VectorMapping,
  params: Map<string, { distance: Distance; size: number }>,
): Problem[] {
  const problems: Problem[] = [];
  const stored = storedVectors(point, mapping);
  for (const name of layoutNames(mapping.layout)) {
    const value = want.vectors[name] ?? null;
    const have = stored.get(name);
    const p = params.get(mapping.layout.unnamed ? '' : name);
    if (value === null) {
      if (have !== undefined)
        problems.push({
          kind: 'null-vector',
          detail: `vector ${name} is NULL in the row but present in Qdrant`,
        });
      continue;
    }
    if (value.kind === 'dense' && p && value.values.length !== p.size)
      problems.push({
        kind: 'dimension',
        detail: `vector ${name} has ${value.values.length} dimensions in the row, the collection ${p.size}`,
      });
    else if (have === undefined)
      problems.push({ kind: 'vector', detail: `vector ${name} is missing from the point` });
    else {
      const problem = vectorProblem(name, value, have, p);
      if (problem) problems.push(problem);
    }
  }
  const payload = payloadProblem(want.payload, point.payload);
  if (payload) problems.push(payload);
  return problems;
}
