// Change events → the protobuf bytes of Qdrant points (qdrant.PointStruct, points.proto), written
// by hand into the request's Arena: a vector's float32 values go from the event's packed bytes
// into the request with one copy (DenseVector.data is `repeated float`, packed: exactly the
// event's little-endian float32 bytes), where @bufbuild/protobuf would want a number[] and write
// it element by element. transport-grpc.ts hands the bytes to protobuf-es as the unknown field
// `points` of its request message, which it writes out as they are.
//
//   PointStruct  { PointId id = 1; map<string, Value> payload = 3; Vectors vectors = 4; }
//   PointId      { oneof { uint64 num = 1; string uuid = 2; } }
//   Vectors      { oneof { Vector vector = 1; NamedVectors vectors = 2; } }
//   NamedVectors { map<string, Vector> vectors = 1; }
//   Vector       { oneof { DenseVector dense = 101; SparseVector sparse = 102; ... } }
//   DenseVector  { repeated float data = 1; }
//   SparseVector { repeated float values = 1; repeated uint32 indices = 2; }
//   Value        { oneof { NullValue null_value = 1; double double_value = 2; int64 integer_value = 3;
//                  string string_value = 4; bool bool_value = 5; Struct struct_value = 6;
//                  ListValue list_value = 7; } }   (json_with_int.proto; Struct { map fields = 1 },
//                  ListValue { repeated Value values = 1 })
//
// Payload values are the REST output's (points.ts valueJson) as typed values: integers within
// 2^53 as integer_value (JSON would store them as integers too), larger ones as strings, numeric
// and uuid as strings, jsonb as its structure.
import type { ColumnValue, VectorValue } from '../../event/change-event.js';
import { packLE } from '../../event/packed.js';
import type { Arena } from './arena.js';
import type { PointId } from './point-id.js';
import { layoutNames, type VectorLayout } from './points.js';

const LEN = 2; // wire type: length-delimited
const VARINT = 0;
const FIXED64 = 1;

/** Bytes of a varint: numbers below 2^53, or bigints below 2^64. */
export function varintSize(n: number | bigint): number {
  if (typeof n === 'bigint') {
    let size = 1;
    while (n >= 0x80n) {
      n >>= 7n;
      size++;
    }
    return size;
  }
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export function writeVarint(b: Buffer, at: number, n: number | bigint): number {
  if (typeof n === 'bigint') {
    while (n >= 0x80n) {
      b[at++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
    }
    b[at++] = Number(n);
    return at;
  }
  while (n >= 0x80) {
    b[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  b[at++] = n;
  return at;
}

const tagSize = (field: number) => varintSize(field << 3);
const writeTag = (b: Buffer, at: number, field: number, wire: number) =>
  writeVarint(b, at, (field << 3) | wire);
/** A length-delimited field's bytes around `size` bytes of content. */
const lenField = (field: number, size: number) => tagSize(field) + varintSize(size) + size;

/** A payload value in protobuf terms, with its encoded size, computed once. */
export type Proto =
  | { k: 'null' }
  | { k: 'double'; v: number }
  | { k: 'int'; v: bigint }
  | { k: 'str'; v: string; n: number }
  | { k: 'bool'; v: boolean }
  | { k: 'struct'; entries: Entry[]; n: number }
  | { k: 'list'; items: Proto[]; n: number };
export interface Entry {
  key: string;
  keyBytes: number;
  value: Proto;
  /** The map entry's content: key = 1, value = 2. */
  n: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const str = (v: string): Proto => ({ k: 'str', v, n: Buffer.byteLength(v, 'utf8') });

/** A number as JSON would store it: an integer literal as an integer, else a double. */
const num = (v: number): Proto =>
  Number.isSafeInteger(v)
    ? { k: 'int', v: BigInt(v) }
    : Number.isFinite(v)
      ? { k: 'double', v }
      : str(String(v));

function fromJson(v: unknown): Proto {
  if (v === null) return { k: 'null' };
  switch (typeof v) {
    case 'boolean':
      return { k: 'bool', v };
    case 'number':
      return num(v);
    case 'string':
      return str(v);
  }
  if (Array.isArray(v)) return list(v.map(fromJson));
  return struct(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJson(x)]));
}

function list(items: Proto[]): Proto {
  let n = 0;
  for (const item of items) n += lenField(1, valueSize(item));
  return { k: 'list', items, n };
}

export function entry(key: string, value: Proto): Entry {
  const keyBytes = Buffer.byteLength(key, 'utf8');
  return { key, keyBytes, value, n: lenField(1, keyBytes) + lenField(2, valueSize(value)) };
}

function struct(pairs: Array<[string, Proto]>): Proto {
  const entries = pairs.map(([k, v]) => entry(k, v));
  let n = 0;
  for (const e of entries) n += lenField(1, e.n);
  return { k: 'struct', entries, n };
}

/** One column value (DESIGN.md: jsonb as JSON, timestamps ISO, numeric as string). */
export function columnValue(v: ColumnValue): Proto {
  if (v === null) return { k: 'null' };
  switch (typeof v) {
    case 'boolean':
      return { k: 'bool', v };
    case 'bigint':
      // Beyond 2^53 most readers of the payload's JSON would round it: keep the digits.
      return v <= MAX_SAFE && v >= -MAX_SAFE ? { k: 'int', v } : str(v.toString());
    case 'number':
      return num(v);
    case 'string':
      return str(v);
  }
  if (v instanceof Uint8Array)
    return str(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'));
  switch (v.kind) {
    case 'json':
      return fromJson(JSON.parse(v.json));
    case 'decimal':
      return str(v.text);
    case 'uuid':
      return str(v.uuid);
  }
}

export const intValue = (v: number): Proto => ({ k: 'int', v: BigInt(v) });
export const stringValue = str;

/** The content size of a Value message. */
function valueSize(p: Proto): number {
  switch (p.k) {
    case 'null':
      return 2;
    case 'double':
      return 9;
    case 'int':
      return 1 + varintSize(BigInt.asUintN(64, p.v));
    case 'bool':
      return 2;
    case 'str':
      return lenField(4, p.n);
    case 'struct':
      return lenField(6, p.n);
    case 'list':
      return lenField(7, p.n);
  }
}

function writeValue(b: Buffer, at: number, p: Proto): number {
  switch (p.k) {
    case 'null':
      at = writeTag(b, at, 1, VARINT);
      b[at++] = 0;
      return at;
    case 'double':
      at = writeTag(b, at, 2, FIXED64);
      return b.writeDoubleLE(p.v, at);
    case 'int':
      return writeVarint(b, writeTag(b, at, 3, VARINT), BigInt.asUintN(64, p.v));
    case 'bool':
      at = writeTag(b, at, 5, VARINT);
      b[at++] = p.v ? 1 : 0;
      return at;
    case 'str':
      at = writeVarint(b, writeTag(b, at, 4, LEN), p.n);
      return at + b.write(p.v, at, 'utf8');
    case 'struct':
      at = writeVarint(b, writeTag(b, at, 6, LEN), p.n);
      return writeEntries(b, at, 1, p.entries);
    case 'list':
      at = writeVarint(b, writeTag(b, at, 7, LEN), p.n);
      for (const item of p.items) {
        at = writeVarint(b, writeTag(b, at, 1, LEN), valueSize(item));
        at = writeValue(b, at, item);
      }
      return at;
  }
}

/** A map<string, Value> as its repeated entries of field `field`. */
function writeEntries(b: Buffer, at: number, field: number, entries: Entry[]): number {
  for (const e of entries) {
    at = writeVarint(b, writeTag(b, at, field, LEN), e.n);
    at = writeVarint(b, writeTag(b, at, 1, LEN), e.keyBytes);
    at += b.write(e.key, at, 'utf8');
    at = writeVarint(b, writeTag(b, at, 2, LEN), valueSize(e.value));
    at = writeValue(b, at, e.value);
  }
  return at;
}

const entriesSize = (field: number, entries: Entry[]) => {
  let n = 0;
  for (const e of entries) n += lenField(field, e.n);
  return n;
};

/** A Vector message's content: dense = 101 or sparse = 102. */
function vectorSize(v: VectorValue): number {
  if (v.kind === 'dense') return lenField(101, lenField(1, v.values.byteLength));
  return lenField(102, sparseSize(v.values, v.indices));
}

function sparseSize(values: Float32Array, indices: Int32Array): number {
  return lenField(1, values.byteLength) + lenField(2, indicesSize(indices));
}

function indicesSize(indices: Int32Array): number {
  let n = 0;
  for (let i = 0; i < indices.length; i++) n += varintSize(indices[i]! >>> 0);
  return n;
}

function writeFloats(b: Buffer, at: number, field: number, values: Float32Array): number {
  at = writeVarint(b, writeTag(b, at, field, LEN), values.byteLength);
  return at + packLE(values).copy(b, at);
}

function writeVector(b: Buffer, at: number, v: VectorValue): number {
  if (v.kind === 'dense') {
    at = writeVarint(b, writeTag(b, at, 101, LEN), lenField(1, v.values.byteLength));
    return writeFloats(b, at, 1, v.values);
  }
  at = writeVarint(b, writeTag(b, at, 102, LEN), sparseSize(v.values, v.indices));
  at = writeFloats(b, at, 1, v.values);
  at = writeVarint(b, writeTag(b, at, 2, LEN), indicesSize(v.indices));
  for (let i = 0; i < v.indices.length; i++) at = writeVarint(b, at, v.indices[i]! >>> 0);
  return at;
}

/** The vectors of the layout that the change has, as (name, vector) pairs. */
function present(layout: VectorLayout, vectors: Record<string, VectorValue | null>) {
  const out: Array<[string, VectorValue]> = [];
  for (const name of layoutNames(layout)) {
    const v = vectors[name];
    if (v) out.push([name, v]);
  }
  return out;
}

/**
 * A Vectors message's content: the unnamed vector, or name → vector (an empty map when the row
 * has none: the REST output's `"vector": {}`).
 */
function vectorsSize(layout: VectorLayout, named: Array<[string, VectorValue]>): number {
  if (layout.unnamed && named.length) return lenField(1, vectorSize(named[0]![1]));
  let map = 0;
  for (const [name, v] of named) map += lenField(1, namedEntrySize(name, v));
  return lenField(2, map);
}

const namedEntrySize = (name: string, v: VectorValue) =>
  lenField(1, Buffer.byteLength(name, 'utf8')) + lenField(2, vectorSize(v));

function writeVectors(b: Buffer, at: number, layout: VectorLayout, named: Array<[string, VectorValue]>) {
  if (layout.unnamed && named.length) {
    const v = named[0]![1];
    at = writeVarint(b, writeTag(b, at, 1, LEN), vectorSize(v));
    return writeVector(b, at, v);
  }
  let map = 0;
  for (const [name, v] of named) map += lenField(1, namedEntrySize(name, v));
  at = writeVarint(b, writeTag(b, at, 2, LEN), map);
  for (const [name, v] of named) {
    at = writeVarint(b, writeTag(b, at, 1, LEN), namedEntrySize(name, v));
    at = writeVarint(b, writeTag(b, at, 1, LEN), Buffer.byteLength(name, 'utf8'));
    at += b.write(name, at, 'utf8');
    at = writeVarint(b, writeTag(b, at, 2, LEN), vectorSize(v));
    at = writeVector(b, at, v);
  }
  return at;
}

const idSize = (id: PointId) =>
  typeof id === 'bigint' ? 1 + varintSize(id) : lenField(2, Buffer.byteLength(id, 'utf8'));

function writeId(b: Buffer, at: number, id: PointId): number {
  if (typeof id === 'bigint') return writeVarint(b, writeTag(b, at, 1, VARINT), id);
  at = writeVarint(b, writeTag(b, at, 2, LEN), Buffer.byteLength(id, 'utf8'));
  return at + b.write(id, at, 'utf8');
}

/** A payload: the row's values, then vecrelay's own fields (transport-grpc.ts). */
export function payloadEntries(values: Record<string, ColumnValue>, extra: Array<[string, Proto]>): Entry[] {
  const entries: Entry[] = [];
  for (const name in values) entries.push(entry(name, columnValue(values[name]!)));
  for (const [name, value] of extra) entries.push(entry(name, value));
  return entries;
}

/**
 * A PointStruct as the bytes of a length-delimited field: its length, then the message (what
 * protobuf-es keeps as an unknown field's data, and writes after the field's tag).
 */
export function writePoint(
  arena: Arena,
  id: PointId,
  payload: Entry[],
  layout: VectorLayout,
  vectors: Record<string, VectorValue | null>,
): Buffer {
  const named = present(layout, vectors);
  const vectorsBytes = vectorsSize(layout, named);
  const size = lenField(1, idSize(id)) + entriesSize(3, payload) + lenField(4, vectorsBytes);
  return arena.write(varintSize(size) + size, (b, at) => {
    at = writeVarint(b, at, size);
    at = writeVarint(b, writeTag(b, at, 1, LEN), idSize(id));
    at = writeId(b, at, id);
    at = writeEntries(b, at, 3, payload);
    at = writeVarint(b, writeTag(b, at, 4, LEN), vectorsBytes);
    return writeVectors(b, at, layout, named);
  });
}
