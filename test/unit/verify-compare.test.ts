// verify's comparison of a row with its point (src/ops/verify/compare.ts): Cosine normalisation as
// Qdrant does it on any CPU, payload equality, NULL vectors, dimensions; exact JSON integers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../../src/event/change-event.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import { collectionVectors, VectorMapping } from '../../src/sink/qdrant/layout.js';
import {
  cosineStored,
  comparePoint,
  expectedPoint,
  jsonEqual,
  vectorParams,
} from '../../src/ops/verify/compare.js';
import { parseExact } from '../../src/ops/verify/qdrant.js';

function vector(seed: number, dim: number): Float32Array {
  let s = seed * 2654435761;
  return Float32Array.from({ length: dim }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 4 - 2;
  });
}

/** Qdrant's scalar cosine_preprocess: Σx² summed in float32, in order. */
function sequential(x: Float32Array): number[] {
  let sum = 0;
  for (const v of x) sum = Math.fround(sum + Math.fround(v * v));
  const length = Math.fround(Math.sqrt(sum));
  return Array.from(x, (v) => Math.fround(v / length));
}

/** Its AVX shape: four 8-lane accumulators with fused multiply-add, then a horizontal sum. */
function simd(x: Float32Array): number[] {
  const acc = Array.from({ length: 32 }, () => 0);
  const whole = x.length - (x.length % 32);
  for (let i = 0; i < whole; i++) acc[i % 32] = Math.fround(acc[i % 32]! + x[i]! * x[i]!);
  let sum = 0;
  for (let lane = 0; lane < 8; lane++) {
    const four = Math.fround(
      Math.fround(acc[lane]! + acc[8 + lane]!) + Math.fround(acc[16 + lane]! + acc[24 + lane]!),
    );
    sum = Math.fround(sum + four);
  }
  for (let i = whole; i < x.length; i++) sum = Math.fround(sum + Math.fround(x[i]! * x[i]!));
  const length = Math.fround(Math.sqrt(sum));
  return Array.from(x, (v) => Math.fround(v / length));
}

test('cosineStored accepts Qdrant normalisation summed in any order, and nothing else', () => {
  for (const dim of [3, 8, 100, 1536]) {
    for (let seed = 1; seed <= 30; seed++) {
      const x = vector(seed * 7 + dim, dim);
      for (const stored of [sequential(x), simd(x)]) {
        assert.ok(cosineStored(x, stored), `dim ${dim} seed ${seed}`);
        const changed = stored.slice();
        changed[dim - 1] = Math.fround(changed[dim - 1]! * (1 + 2 ** -20));
        assert.ok(!cosineStored(x, changed), `dim ${dim} seed ${seed}: one element changed`);
        assert.ok(!cosineStored(x, stored.slice(1)), 'another dimension');
      }
      assert.ok(!cosineStored(x, Array.from(x)), 'stored without normalising');
      assert.ok(!cosineStored(vector(seed + 1000, dim), sequential(x)), "another row's vector");
    }
  }
  // Zero vectors and vectors of length 1 are stored as they are.
  assert.ok(cosineStored(new Float32Array(4), [0, 0, 0, 0]));
  const unit = Float32Array.from([0.6, 0.8, 0]);
  assert.ok(cosineStored(unit, Array.from(unit)));
});

test('parseExact keeps integers beyond 2^53 exact and leaves the rest to JSON.parse', () => {
  const v = parseExact(
    '{"id":18446744073709551615,"n":9007199254740993,"s":42,"f":1.5,"x":[1e300]}',
  ) as Record<string, unknown>;
  assert.equal(v.id, 18446744073709551615n);
  assert.equal(v.n, 9007199254740993n);
  assert.equal(v.s, 42);
  assert.equal(v.f, 1.5);
  assert.deepEqual(v.x, [1e300]);
  // Long integers anywhere a value goes; long digit runs that are not integers stay numbers.
  const w = parseExact(
    '{"ids":[-9223372036854775807, 9007199254740992],"f":0.12345678901234567890,"e":12345678901234567e3}',
  ) as Record<string, unknown>;
  assert.deepEqual(w.ids, [-9223372036854775807n, 9007199254740992n]);
  assert.equal(w.f, Number('0.12345678901234567890'));
  assert.equal(w.e, Number('12345678901234567e3'));
  // Nothing at 2^53 or beyond: the same values as JSON.parse.
  const plain =
    '{"id":42,"vector":[0.25,-1.5e-7,3],"payload":{"n":9007199254740991,"s":"12345678901234567"}}';
  assert.deepEqual(parseExact(plain), JSON.parse(plain));
});

test('parseExact of an answer carrying points: ids, offsets and payload exact, vectors not searched', () => {
  const point =
    '{"id":18446744073709551615,"payload":{"n":9007199254740993,"vector":[9007199254740993]},"vector":[0.5,1.25]}';
  const shapes: Array<[string, (result: unknown) => Record<string, unknown>]> = [
    [`[${point}]`, (r) => (r as Array<Record<string, unknown>>)[0]!],
    [
      `{"points":[${point}],"next_page_offset":18446744073709551614}`,
      (r) => {
        assert.equal((r as { next_page_offset: unknown }).next_page_offset, 18446744073709551614n);
        return (r as { points: Array<Record<string, unknown>> }).points[0]!;
      },
    ],
    [
      `[{"points":[${point}]}]`,
      (r) => (r as Array<{ points: Array<Record<string, unknown>> }>)[0]!.points[0]!,
    ],
  ];
  for (const [result, first] of shapes) {
    const answer = parseExact(`{"result":${result},"status":"ok","time":0.1}`, true) as { result: unknown };
    const p = first(answer.result);
    assert.equal(p.id, 18446744073709551615n, result);
    assert.deepEqual(p.payload, { n: 9007199254740993n, vector: [9007199254740993n] }, result);
    assert.deepEqual(p.vector, [0.5, 1.25], result);
  }
  // Nothing at 2^53 or beyond but in a vector: JSON.parse's values.
  const plain = '{"result":[{"id":1,"payload":{},"vector":{"a":[1e300,0.5]}}],"status":"ok","time":0}';
  assert.deepEqual(parseExact(plain, true), JSON.parse(plain));
});

test('jsonEqual: objects in any key order, arrays in order, numbers by value', () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1.0, { c: 'x' }], a: 1 }));
  assert.ok(!jsonEqual({ a: [1, 2] }, { a: [2, 1] }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: null }));
  assert.ok(!jsonEqual({ a: '1' }, { a: 1 }));
  assert.ok(jsonEqual(2n ** 64n, 18446744073709551616n));
  assert.ok(!jsonEqual('18446744073709551616', 2n ** 64n));
});

const descriptor: TableDescriptor = {
  schema: 'public',
  table: 'items',
  topic: 'p.public.items',
  key: [{ name: 'id', type: 'int4' }],
  vectors: [
    { name: 'a', kind: 'vector', dimension: 3, distance: 'Dot', hnsw: null },
    { name: 'b', kind: 'vector', dimension: 2, distance: 'Dot', hnsw: null },
  ],
  payload: ['id', 'title'],
};
const params = { vectors: { a: { size: 3, distance: 'Dot' }, b: { size: 2, distance: 'Dot' } } };
const mapping = new VectorMapping('items', descriptor, undefined, collectionVectors(params));

const event = (vectors: ChangeEvent['vectors'], title = 'x'): ChangeEvent => ({
  op: 'r',
  source: { lsn: 1n, xid: 0, commitTimeMicros: 0n, schema: 'public', table: 'items', snapshot: true, seq: 0 },
  key: { id: 5n },
  values: { id: 5n, title },
  vectors,
  unchanged: [],
});
const dense = (...v: number[]) => ({ kind: 'dense' as const, values: Float32Array.from(v), half: false });

test('comparePoint: equal point, and each way a point can differ', () => {
  const want = expectedPoint(descriptor, 'ns', event({ a: dense(1, 2, 3), b: null }));
  assert.equal(want.idJson, '5');
  const point = {
    id: 5n,
    vector: { a: [1, 2, 3] },
    payload: { id: 5, title: 'x', _vecrelay_lsn: 77, _vecrelay_seq: 0 },
  };
  const cmp = (p: object) =>
    comparePoint(want, { id: 5n, ...p }, mapping, vectorParams(params)).map((x) => `${x.kind}: ${x.detail}`);
  assert.deepEqual(cmp(point), []);
  assert.deepEqual(cmp({ ...point, vector: { a: [1, 2, 3], b: [0, 1] } }), [
    'null-vector: vector b is NULL in the row but present in Qdrant',
  ]);
  assert.deepEqual(cmp({ ...point, vector: { a: [1, 2, 4] } }), [
    'vector: vector a differs (first at [2]: 3 vs 4)',
  ]);
  assert.deepEqual(cmp({ ...point, vector: { a: [1, 2] } }), [
    'dimension: vector a has 2 dimensions in Qdrant, 3 in the row',
  ]);
  assert.deepEqual(cmp({ ...point, vector: {} }), ['vector: vector a is missing from the point']);
  assert.deepEqual(cmp({ ...point, payload: { id: 5, title: 'y', _vecrelay_lsn: 1 } }), [
    'payload: payload differs in "title"',
  ]);
  assert.deepEqual(cmp({ ...point, payload: { id: 5, title: 'x', extra: true } }), [
    'payload: payload differs in "extra"',
  ]);
  const long = expectedPoint(descriptor, 'ns', event({ a: dense(1, 2, 3, 4), b: null }));
  assert.deepEqual(
    comparePoint(long, point, mapping, vectorParams(params)).map((x) => x.kind),
    ['dimension'],
  );
});
