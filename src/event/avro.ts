// ChangeEvent ⇄ Avro binary (schemas/change-event.avsc): the value of every Kafka message.
//
// The mapping to the schema, field by field:
//   op → enum Op;  source.{lsn, commitTimeMicros} → long (bigint);  source.xid → long (number here);
//   key / values → map of the column-value union: null | boolean | long (bigint) | double (number)
//     | string | bytes (Uint8Array) | Json {json} | Decimal {text} | Uuid {uuid: fixed 16};
//   vectors → map of null | DenseVector {data: packed float32 LE, half} | SparseVector {dim,
//     indices: packed int32 LE, values: packed float32 LE};  unchanged → array of string.
//
// Memory: encoding packs vectors as views of the caller's Float32Arrays (no copy before avsc's own
// copy into the output). Decoding never returns views of the input buffer — a Kafka fetch buffer
// holds many messages, and a view would pin all of it while the event lives — but the vector
// arrays may be views of the private copies avsc makes of each `bytes` field.
import { CHANGE_EVENT_SCHEMA, CHANGE_EVENT_TYPE, avroType, isInt64 } from './avro-type.js';
import type { ChangeEvent, ColumnValue, Op, VectorValue } from './change-event.js';
import { packLE, unpackFloat32LE, unpackInt32LE } from './packed.js';
import { Arena } from '../shared/arena.js';

const NS = (CHANGE_EVENT_SCHEMA as { namespace: string }).namespace;
const JSON_BRANCH = `${NS}.Json`;
const DECIMAL_BRANCH = `${NS}.Decimal`;
const UUID_BRANCH = `${NS}.Uuid`;
const DENSE_BRANCH = `${NS}.DenseVector`;
const SPARSE_BRANCH = `${NS}.SparseVector`;

const OPS: ReadonlySet<string> = new Set<Op>(['c', 'u', 'd', 'r', 't']);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UINT32_MAX = 2 ** 32 - 1;

/** A decoded branch of a wrapped union: avsc builds one class per branch type. */
interface Branch {
  unwrap(): unknown;
  constructor: { type: { branchName: string } };
}

/** Avro binary of `e` under the current schema. Throws, naming the field, on a value it cannot carry. */
export function encodeEvent(e: ChangeEvent): Buffer {
  if (!OPS.has(e.op)) throw new TypeError(`event op: unknown operation ${JSON.stringify(e.op)}`);
  const s = e.source;
  if (!isInt64(s.lsn) || s.lsn < 0n) {
    throw new RangeError(`source.lsn: ${String(s.lsn)} is not an LSN below 2^63`);
  }
  if (!isInt64(s.commitTimeMicros)) throw new RangeError(`source.commitTimeMicros: not an int64`);
  if (!Number.isInteger(s.xid) || s.xid < 0 || s.xid > UINT32_MAX) {
    throw new RangeError(`source.xid: ${s.xid} is not a 32-bit transaction id`);
  }
  if (!Number.isSafeInteger(s.seq) || s.seq < 0) {
    throw new RangeError(`source.seq: ${s.seq} is not a position within a transaction`);
  }
  const vectors: Record<string, unknown> = {};
  for (const name in e.vectors) vectors[name] = vectorToAvro(name, e.vectors[name]!);
  return writeAvro({
    op: e.op,
    source: {
      lsn: s.lsn,
      xid: BigInt(s.xid),
      commitTimeMicros: s.commitTimeMicros,
      schema: s.schema,
      table: s.table,
      snapshot: s.snapshot,
      seq: BigInt(s.seq),
    },
    key: columnsToAvro(e.key),
    values: e.values === null ? null : { map: columnsToAvro(e.values) },
    vectors,
    unchanged: e.unchanged,
  });
}

// avsc's toBuffer() writes into a 1 KiB scratch; an event with a vector overflows it and is then
// written a second time, into a fresh Buffer. Encoding once, straight into an arena's free space
// (src/shared/arena.ts), writes each event once and allocates no buffer per event: ~30% faster
// for 1536-dim events than toBuffer() (bench/event-codec.ts), and less for the GC to do. The
// returned bytes are a view into a shared slab: keep them only as long as needed (until Kafka
// has them).
const encoded = new Arena();

function writeAvro(rec: unknown): Buffer {
  return encoded.write((into, offset) => CHANGE_EVENT_TYPE.encode(rec, into, offset));
}

/** Decodes an event written with the current schema. */
export function decodeEvent(buf: Buffer): ChangeEvent {
  return eventFromAvro(CHANGE_EVENT_TYPE.fromBuffer(buf) as AvroEvent);
}

/**
 * A decoder for events written with `writerSchema` (an older or newer ChangeEvent schema, as JSON
 * or its text), resolved to the current schema by Avro's rules: fields the reader lacks are
 * skipped, fields the writer lacks take their default. Throws at once if the two cannot be
 * resolved. Build it once per writer schema (e.g. per Schema Registry id), not per message.
 */
export function resolvingDecoder(writerSchema: object | string): (buf: Buffer) => ChangeEvent {
  const writer = avroType(writerSchema);
  // Same canonical form = same bytes: skip the resolver's indirection.
  if (writer.equals(CHANGE_EVENT_TYPE)) return decodeEvent;
  const resolver = CHANGE_EVENT_TYPE.createResolver(writer);
  return (buf) => eventFromAvro(CHANGE_EVENT_TYPE.fromBuffer(buf, resolver) as AvroEvent);
}

function columnsToAvro(cols: Record<string, ColumnValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in cols) out[name] = columnToAvro(name, cols[name]!);
  return out;
}

function columnToAvro(name: string, v: ColumnValue): unknown {
  switch (typeof v) {
    case 'boolean':
      return { boolean: v };
    case 'bigint':
      if (!isInt64(v)) throw new RangeError(`column ${name}: ${v} does not fit in an int8`);
      return { long: v };
    case 'number':
      return { double: v };
    case 'string':
      return { string: v };
    case 'object':
      if (v === null) return null;
      if (v instanceof Uint8Array) return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
      switch (v.kind) {
        case 'json':
          return { [JSON_BRANCH]: { json: v.json } };
        case 'decimal':
          return { [DECIMAL_BRANCH]: { text: v.text } };
        case 'uuid':
          if (!UUID_RE.test(v.uuid))
            throw new TypeError(`column ${name}: ${JSON.stringify(v.uuid)} is not a uuid`);
          return { [UUID_BRANCH]: { uuid: Buffer.from(v.uuid.replaceAll('-', ''), 'hex') } };
      }
  }
  throw new TypeError(`column ${name}: no Avro form for ${describe(v)}`);
}

function vectorToAvro(name: string, v: VectorValue | null): unknown {
  if (v === null) return null;
  if (v.kind === 'dense') return { [DENSE_BRANCH]: { data: packLE(v.values), half: v.half } };
  if (v.kind === 'sparse') {
    checkSparse(name, v.dim, v.indices, v.values);
    return { [SPARSE_BRANCH]: { dim: v.dim, indices: packLE(v.indices), values: packLE(v.values) } };
  }
  throw new TypeError(`vector ${name}: no Avro form for ${describe(v)}`);
}

// A malformed sparse vector would be rejected by Qdrant far from its cause; reject it here.
function checkSparse(name: string, dim: number, indices: Int32Array, values: Float32Array): void {
  if (!Number.isInteger(dim) || dim < 0 || dim > 0x7fffffff)
    throw new RangeError(`vector ${name}: bad dim ${dim}`);
  if (indices.length !== values.length) {
    throw new RangeError(`vector ${name}: ${indices.length} indices but ${values.length} values`);
  }
  let prev = -1;
  for (const i of indices) {
    if (i <= prev || i >= dim)
      throw new RangeError(`vector ${name}: index ${i} out of order or not below ${dim}`);
    prev = i;
  }
}

const describe = (v: unknown): string =>
  typeof v === 'object' && v !== null ? `object ${v.constructor?.name ?? ''}`.trim() : typeof v;

/** The event as avsc decodes it (unions wrapped, longs as bigint). */
interface AvroEvent {
  op: Op;
  source: {
    lsn: bigint;
    xid: bigint;
    commitTimeMicros: bigint;
    schema: string;
    table: string;
    snapshot: boolean;
    seq: bigint;
  };
  key: Record<string, Branch | null>;
  values: Branch | null;
  vectors: Record<string, Branch | null>;
  unchanged: string[];
}

function eventFromAvro(r: AvroEvent): ChangeEvent {
  const s = r.source;
  const vectors: Record<string, VectorValue | null> = {};
  for (const name in r.vectors) vectors[name] = vectorFromAvro(name, r.vectors[name]!);
  return {
    op: r.op,
    source: {
      lsn: s.lsn,
      xid: Number(s.xid),
      commitTimeMicros: s.commitTimeMicros,
      schema: s.schema,
      table: s.table,
      snapshot: s.snapshot,
      seq: Number(s.seq),
    },
    key: columnsFromAvro(r.key),
    values: r.values === null ? null : columnsFromAvro(r.values.unwrap() as Record<string, Branch | null>),
    vectors,
    unchanged: r.unchanged,
  };
}

function columnsFromAvro(cols: Record<string, Branch | null>): Record<string, ColumnValue> {
  const out: Record<string, ColumnValue> = {};
  for (const name in cols) out[name] = columnFromAvro(cols[name]!);
  return out;
}

function columnFromAvro(b: Branch | null): ColumnValue {
  if (b === null) return null;
  const v = b.unwrap();
  switch (b.constructor.type.branchName) {
    case 'bytes': {
      const buf = v as Buffer;
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    case JSON_BRANCH:
      return { kind: 'json', json: (v as { json: string }).json };
    case DECIMAL_BRANCH:
      return { kind: 'decimal', text: (v as { text: string }).text };
    case UUID_BRANCH:
      return { kind: 'uuid', uuid: uuidText((v as { uuid: Buffer }).uuid) };
    default: // boolean, long (bigint), double, string: already in their ChangeEvent form.
      return v as boolean | bigint | number | string;
  }
}

function vectorFromAvro(name: string, b: Branch | null): VectorValue | null {
  if (b === null) return null;
  if (b.constructor.type.branchName === DENSE_BRANCH) {
    const d = b.unwrap() as { data: Buffer; half: boolean };
    return { kind: 'dense', values: unpackFloat32LE(d.data, `vector ${name}`), half: d.half };
  }
  const sp = b.unwrap() as { dim: number; indices: Buffer; values: Buffer };
  const indices = unpackInt32LE(sp.indices, `vector ${name} indices`);
  const values = unpackFloat32LE(sp.values, `vector ${name} values`);
  if (indices.length !== values.length) {
    throw new RangeError(`vector ${name}: ${indices.length} indices but ${values.length} values`);
  }
  return { kind: 'sparse', dim: sp.dim, indices, values };
}

function uuidText(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
