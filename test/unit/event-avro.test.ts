import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEvent, encodeEvent, resolvingDecoder } from '../../src/event/avro.js';
import { CHANGE_EVENT_SCHEMA } from '../../src/event/avro-type.js';
import { isPartialUpdate, type ChangeEvent, type ColumnValue } from '../../src/event/change-event.js';
import { OPS, comparable, sampleEvents } from '../fixtures/avro/samples.js';

const roundTrip = (e: ChangeEvent): ChangeEvent => decodeEvent(encodeEvent(e));

const withValues = (values: Record<string, ColumnValue>): ChangeEvent => ({ ...sampleEvents().c, values });

const f32Bits = (bits: number[]): Float32Array => new Float32Array(new Uint32Array(bits).buffer);

test('every operation round-trips', () => {
  const events = sampleEvents();
  for (const op of OPS)
    assert.deepStrictEqual(comparable(roundTrip(events[op])), comparable(events[op]), `op ${op}`);
});

test('every column-value kind round-trips with its exact value', () => {
  const values: Record<string, ColumnValue> = {
    null: null,
    t: true,
    f: false,
    zero: 0n,
    int8_max: 2n ** 63n - 1n,
    int8_min: -(2n ** 63n),
    above_2_53: 2n ** 53n + 1n,
    double: 0.1,
    neg_zero: -0,
    nan: NaN,
    inf: Infinity,
    neg_inf: -Infinity,
    max: Number.MAX_VALUE,
    empty: '',
    text: 'a,"b"\\c\n😀 — ü',
    bytes: new Uint8Array([0, 255, 1]),
    no_bytes: new Uint8Array(0),
    json: { kind: 'json', json: '{"a":[1,2.5,null]}' },
    decimal: { kind: 'decimal', text: '123456789012345678901234567890.000001' },
    decimal_nan: { kind: 'decimal', text: 'NaN' },
    uuid: { kind: 'uuid', uuid: '00000000-0000-0000-0000-000000000000' },
  };
  const decoded = roundTrip(withValues(values)).values!;
  assert.deepStrictEqual(comparable(withValues(decoded)), comparable(withValues(values)));
  // comparable() tags types; check the JS types themselves on the edge cases too.
  assert.equal(decoded.int8_max, 9223372036854775807n);
  assert.equal(decoded.int8_min, -9223372036854775808n);
  assert.ok(Object.is(decoded.neg_zero, -0));
  assert.ok(Number.isNaN(decoded.nan));
  assert.ok(decoded.bytes instanceof Uint8Array);
});

test('a uuid decodes lowercase', () => {
  const e = withValues({ u: { kind: 'uuid', uuid: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' } });
  assert.deepStrictEqual(roundTrip(e).values, {
    u: { kind: 'uuid', uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
  });
});

test('empty maps stay empty, and empty values stay distinct from null values', () => {
  const e: ChangeEvent = { ...sampleEvents().u, key: {}, values: {}, vectors: {}, unchanged: [] };
  const d = roundTrip(e);
  assert.deepStrictEqual([d.key, d.values, d.vectors, d.unchanged], [{}, {}, {}, []]);
  assert.equal(roundTrip({ ...e, values: null }).values, null);
});

test('NULL, half, sparse and empty sparse vectors round-trip', () => {
  const e: ChangeEvent = {
    ...sampleEvents().c,
    vectors: {
      none: null,
      half: { kind: 'dense', values: new Float32Array([1, -0.5, 65504]), half: true },
      full: { kind: 'dense', values: new Float32Array([1, -0.5]), half: false },
      no_dims: { kind: 'dense', values: new Float32Array(0), half: false },
      sparse: {
        kind: 'sparse',
        dim: 5,
        indices: new Int32Array([0, 4]),
        values: new Float32Array([0.5, -1]),
      },
      empty: { kind: 'sparse', dim: 1000, indices: new Int32Array(0), values: new Float32Array(0) },
    },
  };
  const d = roundTrip(e);
  assert.deepStrictEqual(comparable(d), comparable(e));
  assert.equal(d.vectors.none, null);
  assert.ok(
    d.vectors.half?.kind === 'dense' && d.vectors.half.half && d.vectors.half.values instanceof Float32Array,
  );
  assert.ok(d.vectors.sparse?.kind === 'sparse' && d.vectors.sparse.indices instanceof Int32Array);
});

test('float32 vectors are bit-exact: NaN payloads, -0, subnormals, extremes', () => {
  const bits = [
    0x7fc00001, 0xffc12345, 0x80000000, 0x00000001, 0x007fffff, 0x7f7fffff, 0xff800000, 0x3f800000,
  ];
  const e: ChangeEvent = {
    ...sampleEvents().c,
    vectors: { v: { kind: 'dense', values: f32Bits(bits), half: false } },
  };
  const v = roundTrip(e).vectors.v;
  assert.ok(v?.kind === 'dense');
  assert.deepStrictEqual([...new Uint32Array(v.values.buffer, v.values.byteOffset, v.values.length)], bits);
});

test('a 1536-dim vector is carried as its packed little-endian float32 bytes', () => {
  const values = new Float32Array(1536).map((_, i) => Math.sin(i) * 1e3);
  const e: ChangeEvent = {
    ...sampleEvents().r,
    vectors: { embedding: { kind: 'dense', values, half: false } },
  };
  const buf = encodeEvent(e);
  const le = Buffer.alloc(1536 * 4);
  values.forEach((x, i) => le.writeFloatLE(x, i * 4));
  assert.ok(buf.includes(le), 'the packed bytes appear verbatim in the Avro record');
  assert.ok(buf.length < le.length + 200, `${buf.length} bytes: no per-number overhead`);
  const d = decodeEvent(buf).vectors.embedding;
  assert.ok(d?.kind === 'dense');
  assert.ok(Buffer.from(d.values.buffer, d.values.byteOffset, d.values.byteLength).equals(le));
});

test('a vector that is a view at an odd place of a larger buffer encodes only its own elements', () => {
  const big = new Float32Array([9, 9, 1.5, 2.5, 9]);
  const e: ChangeEvent = {
    ...sampleEvents().r,
    vectors: { v: { kind: 'dense', values: big.subarray(2, 4), half: false } },
  };
  const v = roundTrip(e).vectors.v;
  assert.ok(v?.kind === 'dense');
  assert.deepStrictEqual([...v.values], [1.5, 2.5]);
});

test('decoding at any byte offset gives the same event, and never a view of the input', () => {
  const e = sampleEvents().c;
  const bytes = encodeEvent(e);
  for (let offset = 0; offset < 4; offset++) {
    const input = Buffer.alloc(bytes.length + offset).fill(0xee);
    bytes.copy(input, offset);
    const d = decodeEvent(input.subarray(offset));
    input.fill(0); // the caller reuses or drops the message buffer
    assert.deepStrictEqual(comparable(d), comparable(e), `offset ${offset}`);
  }
});

test('unchanged TOAST columns are kept, and make an update partial', () => {
  const d = roundTrip(sampleEvents().u);
  assert.deepStrictEqual(d.unchanged, ['embedding', 'meta']);
  assert.ok(isPartialUpdate(d));
  assert.ok(!isPartialUpdate(roundTrip({ ...sampleEvents().u, unchanged: [] })));
});

test('source positions keep every digit', () => {
  const e: ChangeEvent = {
    ...sampleEvents().c,
    source: {
      ...sampleEvents().c.source,
      lsn: 2n ** 63n - 1n,
      xid: 2 ** 32 - 1,
      commitTimeMicros: -(2n ** 63n),
    },
  };
  assert.deepStrictEqual(roundTrip(e).source, e.source);
});

test('values that have no Avro form are refused with the field named', () => {
  const c = sampleEvents().c;
  const cases: [ChangeEvent, RegExp][] = [
    [withValues({ big: 2n ** 63n }), /column big: .*int8/],
    [withValues({ when: new Date() as unknown as ColumnValue }), /column when: no Avro form for object Date/],
    [withValues({ u: { kind: 'uuid', uuid: 'not-a-uuid' } }), /column u: .*not a uuid/],
    [{ ...c, op: 'x' as 'c' }, /unknown operation "x"/],
    [{ ...c, source: { ...c.source, lsn: -1n } }, /source.lsn/],
    [{ ...c, source: { ...c.source, xid: 2 ** 32 } }, /source.xid/],
    [
      {
        ...c,
        vectors: { s: { kind: 'sparse', dim: 9, indices: new Int32Array([1]), values: new Float32Array(2) } },
      },
      /vector s: 1 indices but 2 values/,
    ],
    [
      {
        ...c,
        vectors: {
          s: { kind: 'sparse', dim: 9, indices: new Int32Array([3, 2]), values: new Float32Array(2) },
        },
      },
      /vector s: index 2 out of order/,
    ],
    [
      {
        ...c,
        vectors: { s: { kind: 'sparse', dim: 9, indices: new Int32Array([9]), values: new Float32Array(1) } },
      },
      /vector s: index 9 .* not below 9/,
    ],
  ];
  for (const [e, re] of cases) assert.throws(() => encodeEvent(e), re);
});

test('truncated or over-long input is refused', () => {
  const bytes = encodeEvent(sampleEvents().c);
  assert.throws(() => decodeEvent(bytes.subarray(0, bytes.length - 3)), /truncated/);
  assert.throws(() => decodeEvent(Buffer.concat([bytes, Buffer.from([0])])), /trailing/);
});

test('a resolving decoder for the current schema is the plain decoder', () => {
  assert.equal(resolvingDecoder(CHANGE_EVENT_SCHEMA), decodeEvent);
  assert.equal(resolvingDecoder(JSON.stringify(CHANGE_EVENT_SCHEMA)), decodeEvent);
});
