// Change events → the JSON of Qdrant points, written by hand: ids keep every digit, float32
// vectors are written with 9 significant digits (enough to round-trip any float32: no waste, no
// loss), jsonb is embedded as its own text.
import type { ColumnValue, DenseVector, SparseVector, VectorValue } from '../../event/change-event.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';

/** Payload field with the commit LSN of the row's last change: truncates delete below it. */
export const LSN_FIELD = '_vecrelay_lsn';
/** Payload field with that change's position in its transaction (a truncate in the same one). */
export const SEQ_FIELD = '_vecrelay_seq';

/** How a table's vector columns appear in its collection. */
export interface VectorLayout {
  /** One dense vector and nothing else: the collection's unnamed default vector. */
  unnamed: boolean;
  dense: string[];
  sparse: string[];
}

export function vectorLayout(descriptor: Pick<TableDescriptor, 'vectors'>): VectorLayout {
  const dense = descriptor.vectors.filter((v) => v.kind !== 'sparsevec').map((v) => v.name);
  const sparse = descriptor.vectors.filter((v) => v.kind === 'sparsevec').map((v) => v.name);
  return { unnamed: dense.length === 1 && sparse.length === 0, dense, sparse };
}

const POW10 = Array.from({ length: 13 }, (_, k) => 10 ** k);
/** 10^e for e = −3 … 8: |x| ≥ DECADES[e + 4] means its decimal exponent is above e. */
const DECADES = [1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * A float32 array as a JSON array, each element exactly as `x.toPrecision(9)` writes it (9
 * significant digits round-trip every float32). Written as bytes: formatting 1536-dim vectors is
 * the sink's main CPU cost, and toPrecision plus string joins cost ~3× more.
 */
export function denseJson(values: Float32Array): string {
  const b = scratchFor(denseJsonBound(values));
  return b.toString('latin1', 0, writeDenseJson(b, 0, values));
}

/** At most the bytes denseJson writes: an element is at most 15 characters, plus a comma. */
const denseJsonBound = (values: Float32Array): number => values.length * 16 + 2;

/** denseJson's text written at `p` of `b` (room for denseJsonBound bytes); returns the end. */
function writeDenseJson(b: Buffer, p: number, values: Float32Array): number {
  b[p++] = 0x5b; // [
  for (let i = 0; i < values.length; i++) {
    if (i) b[p++] = 0x2c; // ,
    p = writeFloat32(b, p, values[i]!);
  }
  b[p++] = 0x5d; // ]
  return p;
}

function scratchFor(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.max(bytes, scratch.length * 2));
  return scratch;
}

/**
 * Writes `x.toPrecision(9)` at `p`; returns the end. For 1e-4 ≤ |x| < 1e9 it is fixed notation
 * with the digits n = round(|x| × 10^(8−e)), e the decimal exponent: that product is exact (a
 * 24-bit mantissa times 5^k, k ≤ 12, fits 53 bits), and Math.round breaks ties upwards as
 * toPrecision does. Anything else (zero, tiny, huge, non-finite) is toPrecision's own text.
 */
function writeFloat32(b: Buffer, p: number, x: number): number {
  const a = x < 0 ? -x : x;
  let e = 0;
  let n = 0;
  if (a >= 1e-4 && a < 1e9) {
    e = -4;
    while (e < 8 && a >= DECADES[e + 4]!) e++;
    n = Math.round(a * POW10[8 - e]!);
    if (n >= 1e9 && e < 8) n = Math.round(a * POW10[8 - ++e]!); // rounded up to the next power of 10
  }
  if (n < 1e8 || n >= 1e9) return p + b.write(x.toPrecision(9), p, 'latin1');
  if (x < 0) b[p++] = 0x2d; // -
  if (e < 0) {
    b[p++] = 0x30; // 0
    b[p++] = 0x2e; // .
    for (let z = -e - 1; z > 0; z--) b[p++] = 0x30;
    e = 8; // the nine digits follow without a point
  }
  const point = e < 8 ? e + 1 : 9; // digits before the decimal point
  for (let j = 8; j >= 0; j--) {
    b[p + j + (j >= point ? 1 : 0)] = 0x30 + (n % 10);
    n = (n / 10) | 0;
  }
  if (point < 9) {
    b[p + point] = 0x2e;
    return p + 10;
  }
  return p + 9;
}

/** Text at `p`, as UTF-8 (room: 3 bytes per UTF-16 unit); returns the end. */
const writeText = (b: Buffer, p: number, text: string): number => p + b.write(text, p, 'utf8');

const vectorJsonBound = (v: VectorValue): number =>
  v.kind === 'dense' ? denseJsonBound(v.values) : 32 + 12 * v.indices.length + denseJsonBound(v.values);

function writeVectorJson(b: Buffer, p: number, v: VectorValue): number {
  if (v.kind === 'dense') return writeDenseJson(b, p, (v as DenseVector).values);
  const sparse = v as SparseVector;
  p = writeText(b, p, `{"indices":[${Array.from(sparse.indices).join(',')}],"values":`);
  p = writeDenseJson(b, p, sparse.values);
  b[p++] = 0x7d; // }
  return p;
}

export function vectorJson(v: VectorValue): string {
  const b = scratchFor(vectorJsonBound(v));
  return b.toString('latin1', 0, writeVectorJson(b, 0, v));
}

/**
 * The vectors written for the named layout: the collection's, nothing else. An event's vector the
 * collection does not have is refused before (layout.ts), or left out (not in tables[].vectors).
 */
export const layoutNames = (layout: VectorLayout): string[] => [...layout.dense, ...layout.sparse];

/** At most the bytes vectorsJson writes. */
export function vectorsJsonBound(layout: VectorLayout, vectors: Record<string, VectorValue | null>): number {
  if (layout.unnamed) {
    const v = vectors[layout.dense[0]!];
    return v ? vectorJsonBound(v) : 2;
  }
  let n = 2;
  for (const name of layoutNames(layout)) {
    const v = vectors[name];
    if (v) n += 6 * name.length + 4 + vectorJsonBound(v); // JSON.stringify: ≤ 6 bytes a unit
  }
  return n;
}

/** vectorsJson's text written at `p` of `b` (room for vectorsJsonBound bytes); returns the end. */
export function writeVectorsJson(
  b: Buffer,
  p: number,
  layout: VectorLayout,
  vectors: Record<string, VectorValue | null>,
): number {
  if (layout.unnamed) {
    const v = vectors[layout.dense[0]!];
    return v ? writeVectorJson(b, p, v) : writeText(b, p, '{}');
  }
  b[p++] = 0x7b; // {
  let first = true;
  for (const name of layoutNames(layout)) {
    const v = vectors[name];
    if (!v) continue;
    if (!first) b[p++] = 0x2c; // ,
    first = false;
    p = writeText(b, p, `${JSON.stringify(name)}:`);
    p = writeVectorJson(b, p, v);
  }
  b[p++] = 0x7d; // }
  return p;
}

/** The `vector` field of a point: a bare array for the unnamed layout, else name → vector. */
export function vectorsJson(layout: VectorLayout, vectors: Record<string, VectorValue | null>): string {
  const b = scratchFor(vectorsJsonBound(layout, vectors));
  return b.toString('utf8', 0, writeVectorsJson(b, 0, layout, vectors));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** One column value as payload JSON (DESIGN.md: jsonb as JSON, timestamps ISO, numeric as string). */
export function valueJson(v: ColumnValue): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      // Beyond 2^53 a JSON number would be rounded by most readers: keep the digits as a string.
      return v <= MAX_SAFE && v >= -MAX_SAFE ? v.toString() : `"${v.toString()}"`;
    case 'number':
      return Number.isFinite(v) ? String(v) : JSON.stringify(String(v));
    case 'string':
      return JSON.stringify(v);
  }
  if (v instanceof Uint8Array)
    return `"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}"`;
  switch (v.kind) {
    case 'json':
      return v.json;
    case 'decimal':
      return JSON.stringify(v.text);
    case 'uuid':
      return JSON.stringify(v.uuid);
  }
}

/** A payload object: the row's values plus vecrelay's own fields. */
export function payloadJson(values: Record<string, ColumnValue>, extra: Record<string, string>): string {
  const parts: string[] = [];
  for (const name in values) parts.push(`${JSON.stringify(name)}:${valueJson(values[name]!)}`);
  for (const name in extra) parts.push(`${JSON.stringify(name)}:${extra[name]}`);
  return `{${parts.join(',')}}`;
}
