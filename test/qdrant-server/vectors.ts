// Vectors: parsing the request forms, dimension checks, Cosine preprocessing, scoring, output.
import { applyWrongInput, formatError, validationError, wrongInput } from './errors.js';
import { formatF32, isNumeric, isObject, RawJson, type JsonValue, type Out } from './json.js';

export type Distance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';
export const DISTANCES: readonly Distance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];

export interface Sparse {
  indices: number[];
  values: number[];
}
export type Vector = number[] | Sparse;
/** Vectors of one point by name; the unnamed (default) vector is "". */
export type NamedVectors = Map<string, Vector>;

export interface VectorSchema {
  /** Created with a single unnamed `vectors: {size, distance}` config. */
  single: boolean;
  dense: Map<string, { size: number; distance: Distance }>;
  sparse: Set<string>;
}

export function isSparse(v: Vector): v is Sparse {
  return !Array.isArray(v);
}

function dense(v: JsonValue[], what: string): number[] {
  return v.map((x) => {
    if (!isNumeric(x)) throw formatError(`data did not match any variant of untagged enum ${what}`);
    return Math.fround(Number(x));
  });
}

function sparse(v: JsonValue, what: string, field: string): Sparse {
  if (!isObject(v) || !Array.isArray(v.indices) || !Array.isArray(v.values)) {
    throw formatError(`data did not match any variant of untagged enum ${what}`);
  }
  const indices = v.indices.map((x) => {
    if (typeof x !== 'bigint' || x < 0n || x > 0xffffffffn) {
      throw formatError(`data did not match any variant of untagged enum ${what}`);
    }
    return Number(x);
  });
  const values = dense(v.values, what);
  const errors: Array<[string, string]> = [];
  if (indices.length !== values.length)
    errors.push([`${field}.values`, 'must be the same length as indices']);
  if (new Set(indices).size !== indices.length) errors.push([`${field}.indices`, 'must be unique']);
  if (errors.length) throw validationError(errors);
  return { indices, values };
}

/** One vector of a named map: dense list or sparse {indices, values}. */
export function parseVector(v: JsonValue, what: string, field: string): Vector {
  if (Array.isArray(v)) {
    if (v.some((x) => Array.isArray(x)))
      throw wrongInput('multivectors are not supported by the test server');
    return dense(v, what);
  }
  return sparse(v, what, field);
}

/** A point's `vector` field. `named` tells whether the request used the map form. */
export function parseVectorStruct(
  v: JsonValue | undefined,
  field: string,
): { vectors: NamedVectors; named: boolean } {
  if (Array.isArray(v))
    return { vectors: new Map([['', parseVector(v, 'VectorStruct', field)]]), named: false };
  if (!isObject(v)) throw formatError('data did not match any variant of untagged enum VectorStruct');
  const vectors: NamedVectors = new Map();
  for (const [name, x] of Object.entries(v))
    vectors.set(name, parseVector(x, 'VectorStruct', `${field}.${name}`));
  return { vectors, named: true };
}

/** The early (pre-WAL) dimension check Qdrant runs on upserts (src/common/validate_vectors.rs). */
export function checkDimensions(schema: VectorSchema, vectors: NamedVectors, named: boolean): void {
  for (const [name, v] of vectors) {
    const params = schema.dense.get(name);
    if (!params || isSparse(v) || v.length === params.size) continue;
    const suffix = named ? ` for vector '${name}'` : '';
    throw wrongInput(`Vector dimension error: expected dim: ${params.size}, got ${v.length}${suffix}`);
  }
}

/**
 * The checks a segment makes when it applies vectors: the name must exist with the right kind and
 * dense vectors must have the configured size. Returns them preprocessed (Cosine normalised,
 * sparse sorted by index).
 */
export function prepareVectors(schema: VectorSchema, vectors: NamedVectors): NamedVectors {
  const out: NamedVectors = new Map();
  for (const [name, v] of vectors) {
    const params = schema.dense.get(name);
    if (isSparse(v)) {
      if (!schema.sparse.has(name)) throw applyWrongInput(`Not existing vector name error: ${name}`);
      const order = v.indices.map((_, i) => i).sort((a, b) => v.indices[a]! - v.indices[b]!);
      out.set(name, { indices: order.map((i) => v.indices[i]!), values: order.map((i) => v.values[i]!) });
      continue;
    }
    if (!params) throw applyWrongInput(`Not existing vector name error: ${name}`);
    if (v.length !== params.size) {
      throw applyWrongInput(`Vector dimension error: expected dim: ${params.size}, got ${v.length}`);
    }
    out.set(name, params.distance === 'Cosine' ? normalise(v) : v.slice());
  }
  return out;
}

/** Qdrant's cosine_preprocess: v / ‖v‖ in float32; (near) zero and already unit vectors unchanged. */
export function normalise(v: number[]): number[] {
  const sumSq = Math.fround(v.reduce((s, x) => s + x * x, 0));
  if (sumSq < 1.1920929e-7 || Math.abs(sumSq - 1) <= 1e-6) return v.slice();
  const length = Math.fround(Math.sqrt(sumSq));
  return v.map((x) => Math.fround(x / length));
}

// One loop per distance, with no branch inside: a search scores every point (a full scan), and
// a loop that tested the distance at each element made queries several times slower.
const dot = (a: number[], b: number[]): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const euclid = (a: number[], b: number[]): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s -= (a[i]! - b[i]!) * (a[i]! - b[i]!);
  return s;
};
const manhattan = (a: number[], b: number[]): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s -= Math.abs(a[i]! - b[i]!);
  return s;
};

/** Raw similarity: larger is better for every distance (distances are negated here). */
export function similarityOf(distance: Distance): (a: number[], b: number[]) => number {
  return distance === 'Euclid' ? euclid : distance === 'Manhattan' ? manhattan : dot;
}

/** The score Qdrant reports: Euclid and Manhattan as a (positive) distance, others as is. */
export function postprocess(distance: Distance, raw: number): number {
  if (distance === 'Euclid') return Math.fround(Math.sqrt(Math.abs(raw)));
  if (distance === 'Manhattan') return Math.fround(Math.abs(raw));
  return Math.fround(raw);
}

export function sparseDot(a: Sparse, b: Sparse): number | undefined {
  const m = new Map(a.indices.map((ix, i) => [ix, a.values[i]!]));
  let hit = false;
  let s = 0;
  b.indices.forEach((ix, i) => {
    const x = m.get(ix);
    if (x !== undefined) {
      hit = true;
      s += x * b.values[i]!;
    }
  });
  return hit ? Math.fround(s) : undefined;
}

// Stored vectors are never mutated in place (updates store new arrays), so their JSON text can be
// cached: formatting float32s in shortest form is the slow part of answering a large scroll.
const rendered = new WeakMap<Vector, RawJson>();
/** The other way (the gRPC front answers the stored vector, not its JSON text). */
const source = new WeakMap<RawJson, Vector>();

/** The stored vector a rendered `vector` value stands for (grpc/from-rest.ts). */
export function vectorOf(out: RawJson): Vector | undefined {
  return source.get(out);
}

function vectorOut(v: Vector): Out {
  let out = rendered.get(v);
  if (!out) {
    const floats = (xs: number[]) => `[${xs.map(formatF32).join(',')}]`;
    out = new RawJson(
      isSparse(v) ? `{"indices":[${v.indices.join(',')}],"values":${floats(v.values)}}` : floats(v),
    );
    rendered.set(v, out);
    source.set(out, v);
  }
  return out;
}

/** The `vector` of a record: a bare list when only the default vector is there, else a map. */
export function vectorsOut(vectors: NamedVectors, selector: JsonValue | undefined): Out {
  if (selector === undefined || selector === null || selector === false) return undefined;
  let names: string[];
  if (selector === true) names = [...vectors.keys()];
  else if (Array.isArray(selector)) names = selector.map(String).filter((n) => vectors.has(n));
  else throw formatError('data did not match any variant of untagged enum WithVector');
  if (names.length === 1 && names[0] === '') return vectorOut(vectors.get('')!);
  const out: Record<string, Out> = {};
  for (const name of names.sort()) out[name] = vectorOut(vectors.get(name)!);
  return out;
}
