// The hand-written JSON of Qdrant points: payload values of every kind, float32 vectors that
// round-trip exactly in at most 9 significant digits, the unnamed and named vector layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ColumnValue, VectorValue } from '../../src/event/change-event.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import {
  LSN_FIELD,
  denseJson,
  payloadJson,
  valueJson,
  vectorJson,
  vectorLayout,
  vectorsJson,
} from '../../src/sink/qdrant/points.js';

const parse = (s: string): unknown => JSON.parse(s);

test('valueJson: every ColumnValue kind, as valid JSON of the documented form', () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
  const cases: Array<[string, ColumnValue, string, unknown]> = [
    ['null', null, 'null', null],
    ['true', true, 'true', true],
    ['false', false, 'false', false],
    ['int', 42n, '42', 42],
    ['negative int', -7n, '-7', -7],
    ['2^53-1', 2n ** 53n - 1n, '9007199254740991', 2 ** 53 - 1],
    ['-(2^53-1)', -(2n ** 53n - 1n), '-9007199254740991', -(2 ** 53 - 1)],
    ['2^53', 2n ** 53n, '"9007199254740992"', '9007199254740992'],
    ['2^53+1', 2n ** 53n + 1n, '"9007199254740993"', '9007199254740993'],
    ['-(2^53)', -(2n ** 53n), '"-9007199254740992"', '-9007199254740992'],
    ['int8 max', 2n ** 63n - 1n, '"9223372036854775807"', '9223372036854775807'],
    ['int8 min', -(2n ** 63n), '"-9223372036854775808"', '-9223372036854775808'],
    ['double', 0.1, '0.1', 0.1],
    ['float4 value', Math.fround(0.1), '0.10000000149011612', Math.fround(0.1)],
    ['large double', 1e21, '1e+21', 1e21],
    ['tiny double', 5e-324, '5e-324', 5e-324],
    ['-0', -0, '0', 0],
    ['NaN', NaN, '"NaN"', 'NaN'],
    ['Infinity', Infinity, '"Infinity"', 'Infinity'],
    ['-Infinity', -Infinity, '"-Infinity"', '-Infinity'],
    ['text', 'a"b\\c\n\u0001😀ü', '"a\\"b\\\\c\\n\\u0001😀ü"', 'a"b\\c\n\u0001😀ü'],
    [
      'timestamp text',
      '2024-01-02T03:04:05.123456Z',
      '"2024-01-02T03:04:05.123456Z"',
      '2024-01-02T03:04:05.123456Z',
    ],
    ['bytes', bytes, `"${Buffer.from(bytes).toString('base64')}"`, 'AAEC+vv8/f7/'],
    ['empty bytes', new Uint8Array(0), '""', ''],
    // A view into a larger buffer: only its own bytes.
    ['bytes view', bytes.subarray(3, 6), '"+vv8"', '+vv8'],
    [
      'json object',
      { kind: 'json', json: '{"a": [1, 2.5, null], "b": {"c": "d"}}' },
      '{"a": [1, 2.5, null], "b": {"c": "d"}}',
      { a: [1, 2.5, null], b: { c: 'd' } },
    ],
    ['json scalar', { kind: 'json', json: '"x"' }, '"x"', 'x'],
    ['json array', { kind: 'json', json: '[1,"a",null]' }, '[1,"a",null]', [1, 'a', null]],
    ['decimal', { kind: 'decimal', text: '12.340' }, '"12.340"', '12.340'],
    [
      'decimal beyond double',
      { kind: 'decimal', text: '123456789012345678901234567890.000001' },
      '"123456789012345678901234567890.000001"',
      '123456789012345678901234567890.000001',
    ],
    ['decimal NaN', { kind: 'decimal', text: 'NaN' }, '"NaN"', 'NaN'],
    [
      'uuid',
      { kind: 'uuid', uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
      '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ],
  ];
  for (const [what, value, json, parsed] of cases) {
    const got = valueJson(value);
    assert.equal(got, json, what);
    assert.deepStrictEqual(parse(got), parsed, `${what}: parses to the value`);
  }
});

test('valueJson: integers keep every digit when read back by a reader that rounds at 2^53', () => {
  for (let e = 50n; e <= 63n; e++)
    for (const v of [2n ** e - 1n, 2n ** e, 2n ** e + 1n, -(2n ** e)]) {
      const back = parse(valueJson(v));
      assert.equal(BigInt(back as number | string), v, `${v}`);
    }
});

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (bits: number) => ((u32[0] = bits), f32[0]!);

/** Significant digits of a decimal number's text (mantissa digits without leading zeros). */
function significantDigits(s: string): number {
  const mantissa = s.replace(/^-/, '').split(/e/i)[0]!.replace('.', '');
  return mantissa.replace(/^0+/, '').length || 1;
}

function checkRoundTrip(values: Float32Array) {
  const text = denseJson(values);
  const back = parse(text) as number[];
  assert.equal(back.length, values.length);
  const elements = text.slice(1, -1).split(',');
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    // -0 may come back as 0: equal as numbers, and for every distance.
    assert.ok(Math.fround(back[i]!) === x, `${x} (bits ${u32hex(x)}) written as ${elements[i]}`);
    assert.ok(significantDigits(elements[i]!) <= 9, `${elements[i]} has more than 9 significant digits`);
  }
}

function u32bits(x: number) {
  f32[0] = x;
  return u32[0]!;
}

function u32hex(x: number) {
  f32[0] = x;
  return u32[0]!.toString(16).padStart(8, '0');
}

test('denseJson: edge float32 values round-trip exactly', () => {
  const edges = [
    0,
    -0,
    1,
    -1,
    0.1,
    1 / 3,
    -2 / 3,
    0.5,
    1e-7,
    123456.789,
    16777216,
    16777217,
    fromBits(0x00000001), // smallest subnormal
    fromBits(0x80000001),
    fromBits(0x007fffff), // largest subnormal
    fromBits(0x00800000), // smallest normal
    fromBits(0x7f7fffff), // largest finite
    fromBits(0xff7fffff),
    fromBits(0x3f7fffff), // just below 1
    fromBits(0x3f800001), // just above 1
  ];
  checkRoundTrip(Float32Array.from(edges));
  assert.equal(denseJson(new Float32Array(0)), '[]');
});

test('denseJson: random float32 bit patterns round-trip exactly with ≤ 9 significant digits', () => {
  // Every exponent equally likely (uniform bits), plus typical embedding values in [-1, 1].
  const n = 200_000;
  const values = new Float32Array(n);
  const bits = new Uint32Array(values.buffer);
  let seed = 0x9e3779b9;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let i = 0; i < n; i++) {
    do bits[i] = next();
    while (!Number.isFinite(values[i]!));
  }
  checkRoundTrip(values);
  const embedding = new Float32Array(1536);
  for (let i = 0; i < embedding.length; i++) embedding[i] = (next() / 2 ** 32) * 2 - 1;
  checkRoundTrip(embedding);
});

test('denseJson writes each element exactly as toPrecision(9) does', () => {
  // The writer formats digits itself (for speed); its text must be toPrecision's, element by
  // element, across every exponent and around the powers of ten where the digit count changes.
  const values: number[] = [];
  let seed = 12345;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let i = 0; i < 100_000; i++) {
    const x = fromBits(next());
    if (Number.isFinite(x)) values.push(x);
    values.push(Math.fround((next() / 2 ** 32) * 2 - 1));
  }
  for (let e = -46; e <= 39; e++)
    for (const m of [1, 9.99999999, 5, 1.00000005, 9.9999995]) {
      const x = Math.fround(m * 10 ** e);
      if (!Number.isFinite(x)) continue;
      for (const y of [x, fromBits(u32bits(x) + 1), fromBits(u32bits(x) - 1)]) values.push(y, -y);
    }
  values.push(0, -0, NaN, Infinity, -Infinity);
  const text = denseJson(Float32Array.from(values));
  assert.equal(text, `[${values.map((x) => Math.fround(x).toPrecision(9)).join(',')}]`);
});

const dense = (...values: number[]): VectorValue => ({
  kind: 'dense',
  values: Float32Array.from(values),
  half: false,
});
const sparse = (dim: number, indices: number[], values: number[]): VectorValue => ({
  kind: 'sparse',
  dim,
  indices: Int32Array.from(indices),
  values: Float32Array.from(values),
});

type VectorColumn = TableDescriptor['vectors'][number];
const column = (name: string, kind: VectorColumn['kind']): VectorColumn => ({
  name,
  kind,
  dimension: kind === 'sparsevec' ? null : 3,
  distance: null,
  hnsw: null,
});

test('vectorLayout: one dense vector alone is unnamed; anything else is named', () => {
  assert.deepStrictEqual(vectorLayout({ vectors: [column('e', 'vector')] }), {
    unnamed: true,
    dense: ['e'],
    sparse: [],
  });
  assert.deepStrictEqual(vectorLayout({ vectors: [column('e', 'halfvec')] }).unnamed, true);
  assert.deepStrictEqual(vectorLayout({ vectors: [column('a', 'vector'), column('b', 'float4[]')] }), {
    unnamed: false,
    dense: ['a', 'b'],
    sparse: [],
  });
  assert.deepStrictEqual(vectorLayout({ vectors: [column('a', 'vector'), column('s', 'sparsevec')] }), {
    unnamed: false,
    dense: ['a'],
    sparse: ['s'],
  });
  assert.deepStrictEqual(vectorLayout({ vectors: [column('s', 'sparsevec')] }), {
    unnamed: false,
    dense: [],
    sparse: ['s'],
  });
});

test('vectorsJson: the unnamed layout is the bare array', () => {
  const layout = vectorLayout({ vectors: [column('e', 'vector')] });
  assert.equal(vectorsJson(layout, { e: dense(0.5, -1, 0.25) }), '[0.500000000,-1.00000000,0.250000000]');
  assert.deepStrictEqual(parse(vectorsJson(layout, { e: dense(0.5, -1, 0.25) })), [0.5, -1, 0.25]);
  // A NULL vector: no vector at all.
  assert.equal(vectorsJson(layout, { e: null }), '{}');
});

test('vectorsJson: named layout maps names to dense and sparse vectors, skipping NULLs', () => {
  const layout = vectorLayout({
    vectors: [column('title', 'vector'), column('body', 'vector'), column('terms', 'sparsevec')],
  });
  const json = vectorsJson(layout, {
    title: dense(1, 2, 3),
    body: null,
    terms: sparse(1000, [3, 17, 999], [0.5, 0.25, 2]),
  });
  assert.deepStrictEqual(parse(json), {
    title: [1, 2, 3],
    terms: { indices: [3, 17, 999], values: [0.5, 0.25, 2] },
  });
  assert.equal(vectorsJson(layout, { title: null, body: null, terms: null }), '{}');
  const weird = vectorLayout({ vectors: [column('we"ird', 'vector'), column('b', 'vector')] });
  assert.deepStrictEqual(parse(vectorsJson(weird, { 'we"ird': dense(1) })), { 'we"ird': [1] });
  // Only the layout's vectors are written: a column the collection does not have is not.
  assert.deepStrictEqual(parse(vectorsJson(layout, { title: dense(1), other: dense(2) })), { title: [1] });
  assert.deepStrictEqual(parse(vectorJson(sparse(10, [], []))), { indices: [], values: [] });
});

test('payloadJson: the row values plus the extra fields, as one parseable object', () => {
  const values: Record<string, ColumnValue> = {
    title: 'item "1"',
    n: 2n ** 60n,
    score: 0.5,
    doc: { kind: 'json', json: '{"tags": ["a", "b"]}' },
    price: { kind: 'decimal', text: '9.90' },
    blob: new Uint8Array([1, 2, 3]),
    missing: null,
    'we"ird\nname': true,
    ü: 'ü',
  };
  const text = payloadJson(values, { [LSN_FIELD]: '123456789', _vecrelay_key: JSON.stringify('["a",1]') });
  assert.deepStrictEqual(parse(text), {
    title: 'item "1"',
    n: '1152921504606846976',
    score: 0.5,
    doc: { tags: ['a', 'b'] },
    price: '9.90',
    blob: 'AQID',
    missing: null,
    'we"ird\nname': true,
    ü: 'ü',
    [LSN_FIELD]: 123456789,
    _vecrelay_key: '["a",1]',
  });
  assert.deepStrictEqual(parse(payloadJson({}, {})), {});
  assert.deepStrictEqual(parse(payloadJson({}, { [LSN_FIELD]: '1' })), { [LSN_FIELD]: 1 });
});
