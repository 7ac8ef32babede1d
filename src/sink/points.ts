// Change events → the JSON of Qdrant points, written by hand: ids keep every digit, float32
// vectors are written with 9 significant digits (enough to round-trip any float32: no waste, no
// loss), jsonb is embedded as its own text.
import type { ColumnValue, DenseVector, SparseVector, VectorValue } from '../event/change-event.js';
import type { TableDescriptor } from '../event/table-descriptor.js';

/** Payload field with the commit LSN of the row's last change: truncates delete below it. */
export const LSN_FIELD = '_vecrelay_lsn';

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

export function denseJson(values: Float32Array): string {
  let s = '[';
  for (let i = 0; i < values.length; i++) {
    if (i) s += ',';
    s += values[i]!.toPrecision(9);
  }
  return s + ']';
}

function sparseJson(v: SparseVector): string {
  return `{"indices":[${Array.from(v.indices).join(',')}],"values":${denseJson(v.values)}}`;
}

export function vectorJson(v: VectorValue): string {
  return v.kind === 'dense' ? denseJson((v as DenseVector).values) : sparseJson(v);
}

/** The `vector` field of a point: a bare array for the unnamed layout, else name → vector. */
export function vectorsJson(layout: VectorLayout, vectors: Record<string, VectorValue | null>): string {
  if (layout.unnamed) {
    const v = vectors[layout.dense[0]!];
    return v ? vectorJson(v) : '{}';
  }
  const parts: string[] = [];
  for (const name in vectors) {
    const v = vectors[name];
    if (v) parts.push(`${JSON.stringify(name)}:${vectorJson(v)}`);
  }
  return `{${parts.join(',')}}`;
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
