// pgvector types → DenseVector / SparseVector (change-event.ts). The hottest path of the source.
//   vector     binary: int16 dim, int16 unused, dim × float4           text: [1,2.5,3]
//   halfvec    binary: int16 dim, int16 unused, dim × float16 (uint16) text: [1,2.5,3]
//   sparsevec  binary: int32 dim, int32 nnz, int32 unused, int32[nnz] 0-based indices, float4[nnz]
//              text:   {1:0.5,3:0.2}/10 (1-based indices)
// All big-endian. Text elements are the shortest decimals that round-trip float32 (halfvec: the
// float32 of the half value), so Math.fround(Number(element)) recovers the stored value exactly.
import type { DenseVector, SparseVector } from '../../event/change-event.js';
import { halfTable } from './half.js';
import { expectLength, float32FromBE, int32FromBE, parseNumber } from './floats.js';

export function vectorFromBinary(bytes: Buffer): DenseVector {
  const dim = header16(bytes);
  expectLength(bytes, 4 + dim * 4, `vector of ${dim} dimensions`);
  return { kind: 'dense', values: float32FromBE(bytes, 4, dim), half: false };
}

export function halfvecFromBinary(bytes: Buffer): DenseVector {
  const dim = header16(bytes);
  expectLength(bytes, 4 + dim * 2, `halfvec of ${dim} dimensions`);
  const table = halfTable();
  const values = new Float32Array(dim);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0, p = 4; i < dim; i++, p += 2) bits[i] = table[(bytes[p]! << 8) | bytes[p + 1]!]!;
  return { kind: 'dense', values, half: true };
}

export function sparsevecFromBinary(bytes: Buffer): SparseVector {
  if (bytes.length < 12) throw new Error(`sparsevec header needs 12 bytes, got ${bytes.length}`);
  const dim = bytes.readInt32BE(0);
  const nnz = bytes.readInt32BE(4);
  if (dim < 0 || nnz < 0 || nnz > dim) throw new Error(`bad sparsevec header: dim ${dim}, nnz ${nnz}`);
  expectLength(bytes, 12 + nnz * 8, `sparsevec with ${nnz} non-zero elements`);
  const indices = int32FromBE(bytes, 12, nnz);
  checkIndices(indices, dim);
  return { kind: 'sparse', dim, indices, values: float32FromBE(bytes, 12 + nnz * 4, nnz) };
}

/** `[1,2.5,3]` (vector and halfvec). */
export function vectorFromText(text: string, half: boolean): DenseVector {
  const n = text.length;
  if (n < 2 || text.charCodeAt(0) !== 0x5b || text.charCodeAt(n - 1) !== 0x5d) {
    throw new Error(`expected [x,y,…], got ${preview(text)}`);
  }
  return { kind: 'dense', values: floatList(text, 1, n - 1), half };
}

/** `{1:0.5,3:0.2}/10`, 1-based indices → 0-based. */
export function sparsevecFromText(text: string): SparseVector {
  const close = text.lastIndexOf('}/');
  if (text.charCodeAt(0) !== 0x7b || close < 0) throw new Error(`expected {i:x,…}/dim, got ${preview(text)}`);
  const dim = Number(text.slice(close + 2));
  if (!Number.isInteger(dim) || dim < 0 || close + 2 === text.length)
    throw new Error(`bad dimension in ${preview(text)}`);
  const body = text.slice(1, close);
  const entries = body.length === 0 ? [] : body.split(',');
  const indices = new Int32Array(entries.length);
  const values = new Float32Array(entries.length);
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const index = colon > 0 ? Number(entry.slice(0, colon)) : NaN;
    if (!Number.isInteger(index)) throw new Error(`bad element ${JSON.stringify(entry)}`);
    indices[i] = index - 1;
    values[i] = parseNumber(entry.slice(colon + 1));
  });
  checkIndices(indices, dim);
  return { kind: 'sparse', dim, indices, values };
}

/** Comma-separated floats in text[start, end) → float32 (empty range → no elements). */
export function floatList(text: string, start: number, end: number): Float32Array {
  if (start === end) return new Float32Array(0);
  let count = 1;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 0x2c) count++;
  const values = new Float32Array(count);
  for (let i = 0, from = start; i < count; i++) {
    let to = text.indexOf(',', from);
    if (to < 0 || to > end) to = end;
    values[i] = parseNumber(text.slice(from, to));
    from = to + 1;
  }
  return values;
}

function header16(bytes: Buffer): number {
  if (bytes.length < 4) throw new Error(`header needs 4 bytes, got ${bytes.length}`);
  return bytes.readUInt16BE(0);
}

function checkIndices(indices: Int32Array, dim: number): void {
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    if (idx < 0 || idx >= dim || (i > 0 && idx <= indices[i - 1]!)) {
      throw new Error(`sparse index ${idx} out of order or outside 0..${dim - 1}`);
    }
  }
}

const preview = (text: string): string => JSON.stringify(text.length > 40 ? text.slice(0, 40) + '…' : text);
