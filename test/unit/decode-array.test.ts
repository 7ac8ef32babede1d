// Arrays → JSON text: array_out quoting, bounds, NULLs, and array_send framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeValue } from '../../src/source/decode/value.js';
import type { ValueCell } from '../../src/source/pgoutput/messages.js';

const txt = (text: string): ValueCell => ({ kind: 'text', text });
const json = (typeName: string, cell: ValueCell) => {
  const v = decodeValue({ name: 'arr', typeName }, cell);
  assert.ok(v !== null && typeof v === 'object' && 'kind' in v && v.kind === 'json');
  return v.json;
};

/** array_send bytes for a one-dimensional array of int4 (null = NULL element). */
function int4Array(values: Array<number | null>, elemOid = 23): Buffer {
  const parts = [Buffer.alloc(20)];
  parts[0]!.writeInt32BE(1, 0);
  parts[0]!.writeInt32BE(values.includes(null) ? 1 : 0, 4);
  parts[0]!.writeUInt32BE(elemOid, 8);
  parts[0]!.writeInt32BE(values.length, 12);
  parts[0]!.writeInt32BE(1, 16);
  for (const v of values) {
    const e = Buffer.alloc(v === null ? 4 : 8);
    e.writeInt32BE(v === null ? -1 : 4, 0);
    if (v !== null) e.writeInt32BE(v, 4);
    parts.push(e);
  }
  return Buffer.concat(parts);
}

test('text arrays: quoting, escapes, NULL vs "NULL", nesting, bounds', () => {
  assert.equal(
    json('_text', txt('{"a b","c\\"d",NULL,"NULL","",é,"x,y","{}","back\\\\slash"}')),
    JSON.stringify(['a b', 'c"d', null, 'NULL', '', 'é', 'x,y', '{}', 'back\\slash']),
  );
  assert.equal(json('_int4', txt('{{1,2},{3,NULL}}')), '[[1,2],[3,null]]');
  assert.equal(json('_int4', txt('[2:3]={7,8}')), '[7,8]');
  assert.equal(json('_int4', txt('[1:1][0:1]={{7,8}}')), '[[7,8]]');
  assert.equal(json('_bool', txt('{t,f}')), '[true,false]');
  assert.equal(json('_varchar', txt('{abc}')), '["abc"]');
  assert.equal(json('_bpchar', txt('{"ab "}')), '["ab "]');
  assert.equal(json('_numeric', txt('{1.50,-Infinity,NaN}')), '[1.50,"-Infinity","NaN"]');
  assert.equal(json('_float4', txt('{3.4028235e+38,1e-45}')), '[3.4028235e+38,1e-45]');
  assert.equal(json('_int8', txt('{-9223372036854775808}')), '[-9223372036854775808]');
});

test('binary arrays: framing, NULL elements, empty', () => {
  assert.equal(json('_int4', { kind: 'binary', bytes: int4Array([1, null, -3]) }), '[1,null,-3]');
  assert.equal(
    json('_int4', { kind: 'binary', bytes: Buffer.from('000000000000000000000017', 'hex') }),
    '[]',
  );
  const mismatched = int4Array([1], 20);
  assert.throws(
    () => json('_int4', { kind: 'binary', bytes: mismatched }),
    /element type OID 20, expected 23/,
  );
  const extra = Buffer.concat([int4Array([1]), Buffer.alloc(1)]);
  assert.throws(
    () => json('_int4', { kind: 'binary', bytes: extra }),
    /1 bytes after the last array element/,
  );
  const cut = int4Array([1, 2]);
  assert.throws(
    () => json('_int4', { kind: 'binary', bytes: cut.subarray(0, 30) }),
    /of type _int4: array ends before/,
  );
  assert.throws(
    () => json('_int4', { kind: 'binary', bytes: cut.subarray(0, 34) }),
    /element of 4 bytes runs past the end/,
  );
});

test('malformed text arrays are errors naming the column and the offset', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['_int4', '{1,2', /expected ',' or '}' at offset 4/],
    ['_int4', '1,2', /expected '\{' at offset 0/],
    ['_int4', '{1,x}', /not an integer: "x"/],
    ['_text', '{"abc}', /unterminated quoted element/],
    ['_int4', '{1}}', /trailing characters/],
    ['_bool', '{yes}', /bad bool element "yes"/],
  ];
  for (const [type, text, problem] of cases) {
    assert.throws(
      () => json(type, txt(text)),
      (err: Error) =>
        err.message.startsWith(`cannot decode column "arr" of type ${type}: `) && problem.test(err.message),
      text,
    );
  }
});
