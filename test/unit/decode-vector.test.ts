// pgvector decoders (vector, halfvec, sparsevec) and float arrays as vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { halfToFloat, halfToFloatBits } from '../../src/source/decode/half.js';
import { decodeVector } from '../../src/source/decode/value.js';
import { decodeRow } from '../../src/source/decode/row.js';
import { rowsOf } from '../fixtures/pgoutput/load.js';
import type { ValueCell } from '../../src/source/pgoutput/messages.js';

const bin = (hex: string): ValueCell => ({
  kind: 'binary',
  bytes: Buffer.from(hex.replace(/ /g, ''), 'hex'),
});
const txt = (text: string): ValueCell => ({ kind: 'text', text });
const col = (typeName: string) => ({ name: 'emb', typeName });
const dense = (values: number[], half = false) => ({
  kind: 'dense',
  values: Float32Array.from(values),
  half,
});

/** IEEE binary16 by its definition, for comparison. */
function halfReference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

test('half → float is exact for all 65536 values, subnormals, ±0, ±Infinity and NaN payloads included', () => {
  for (let h = 0; h < 65536; h++) {
    const expected = halfReference(h);
    const got = halfToFloat(h);
    if (Number.isNaN(expected)) {
      const bits = halfToFloatBits(h);
      assert.equal(bits & 0x7f80_0000, 0x7f80_0000);
      assert.equal((bits >>> 13) & 0x3ff, h & 0x3ff, 'NaN payload kept');
      assert.equal(bits >>> 31, h >>> 15);
    } else assert.ok(Object.is(got, expected), `0x${h.toString(16)}: ${got} ≠ ${expected}`);
  }
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
});

test('vector: binary and text give the same float32 values', () => {
  const binary = bin('0003 0000 3f800000 40200000 c0400000');
  assert.deepEqual(decodeVector(col('vector'), binary), dense([1, 2.5, -3]));
  assert.deepEqual(decodeVector(col('vector'), txt('[1,2.5,-3]')), dense([1, 2.5, -3]));
  // 0.1 is not a float32: text must land on the same float32 as the binary bits.
  assert.deepEqual(
    decodeVector(col('vector'), txt('[0.1]')),
    decodeVector(col('vector'), bin('0001 0000 3dcccccd')),
  );
  assert.deepEqual(decodeVector(col('vector'), bin('0000 0000')), dense([]));
  assert.equal(decodeVector(col('vector'), { kind: 'null' }), null);
  // The values are a copy (in an arena slab), not a view of the cell: the connection may reuse
  // the cell's bytes once the message is handled.
  const v = decodeVector(col('vector'), binary);
  assert.ok(v?.kind === 'dense' && v.values.buffer !== (binary as { bytes: Buffer }).bytes.buffer);
  (binary as { bytes: Buffer }).bytes.fill(0);
  assert.deepEqual(v, dense([1, 2.5, -3]));
});

test('halfvec: binary uint16 halves (subnormal, max, negative) and text', () => {
  const cell = bin('0004 0000 0001 7bff b800 3c00');
  const expected = dense([2 ** -24, 65504, -0.5, 1], true);
  assert.deepEqual(decodeVector(col('halfvec'), cell), expected);
  assert.deepEqual(decodeVector(col('halfvec'), txt('[5.9604645e-08,65504,-0.5,1]')), expected);
});

test('sparsevec: binary 0-based and text 1-based indices give the same vector; empty works', () => {
  const expected = {
    kind: 'sparse',
    dim: 10,
    indices: Int32Array.from([0, 2]),
    values: Float32Array.from([0.5, 0.2]),
  };
  const binary = bin('0000000a 00000002 00000000 00000000 00000002 3f000000 3e4ccccd');
  assert.deepEqual(decodeVector(col('sparsevec'), binary), expected);
  assert.deepEqual(decodeVector(col('sparsevec'), txt('{1:0.5,3:0.2}/10')), expected);
  const empty = { kind: 'sparse', dim: 10, indices: new Int32Array(0), values: new Float32Array(0) };
  assert.deepEqual(decodeVector(col('sparsevec'), txt('{}/10')), empty);
  assert.deepEqual(decodeVector(col('sparsevec'), bin('0000000a 00000000 00000000')), empty);
});

test('malformed vectors are errors naming the column, the type and the problem', () => {
  const cases: Array<[string, ValueCell, RegExp]> = [
    ['vector', bin('0003 0000 3f800000 40200000'), /vector of 3 dimensions: expected 16 bytes, got 12/],
    ['vector', bin('00'), /header needs 4 bytes/],
    ['vector', txt('1,2'), /expected \[x,y,…\]/],
    ['vector', txt('[1,,2]'), /not a number: ""/],
    ['vector', txt('[1,x]'), /not a number: "x"/],
    ['halfvec', bin('0002 0000 3c00'), /halfvec of 2 dimensions: expected 8 bytes/],
    ['sparsevec', bin('0000000a 00000002 00000000 00000002 00000000 3f000000 3f000000'), /out of order/],
    ['sparsevec', bin('0000000a 00000001 00000000 0000000a 3f000000'), /outside 0\.\.9/],
    ['sparsevec', txt('{0:1}/10'), /sparse index -1/],
    ['sparsevec', txt('{1:1}'), /expected \{i:x,…\}\/dim/],
    ['sparsevec', txt('{1:1}/'), /bad dimension/],
    ['sparsevec', txt('{1=1}/10'), /bad element "1=1"/],
  ];
  for (const [type, cell, problem] of cases) {
    assert.throws(
      () => decodeVector(col(type), cell),
      (err: Error) => {
        assert.equal(err.name, 'DecodeError');
        assert.match(err.message, new RegExp(`^cannot decode column "emb" of type ${type}: `));
        assert.match(err.message, problem);
        return true;
      },
      `${type} ${JSON.stringify(cell)}`,
    );
  }
  assert.throws(() => decodeVector(col('int4'), txt('1')), /of type int4: not a vector type/);
});

test('float4[] and float8[] as vectors (configured columns), binary and text alike', () => {
  const rows = ['types-binary', 'types-text'].map((fixture) => {
    const { msg, relation } = rowsOf(fixture).filter((r) => r.msg.tag === 'insert')[1]!;
    assert.ok(msg.tag === 'insert' && relation);
    return decodeRow(relation, msg.new, { vectorColumns: new Set(['a_f4', 'a_f8']) });
  });
  for (const row of rows) {
    assert.deepEqual(row.vectors.a_f4, dense([0.5, -1, 3.25]));
    assert.deepEqual(row.vectors.a_f8, dense([0.1, 0.2]), 'float8 rounded to float32');
    assert.equal(row.values.a_f4, undefined);
  }
  assert.deepEqual(decodeVector(col('_float4'), txt('[0:1]={1,2}')), dense([1, 2]));
  assert.deepEqual(decodeVector(col('_float8'), txt('{}')), dense([]));
  assert.deepEqual(decodeVector(col('_float4'), bin('00000000 00000000 000002bc')), dense([]));
  assert.throws(() => decodeVector(col('_float4'), txt('{{1,2},{3,4}}')), /one-dimensional/);
  assert.throws(() => decodeVector(col('_float4'), txt('{1,NULL}')), /NULL element/);
  // float4[] {1,NULL} in array_send form: one dimension of 2, flags 1, element OID 700.
  const withNull = bin('00000001 00000001 000002bc 00000002 00000001 00000004 3f800000 ffffffff');
  assert.throws(() => decodeVector(col('_float4'), withNull), /of type _float4: NULL element/);
});
