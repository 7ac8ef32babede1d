// The Qdrant test server's exact-integer JSON (test/qdrant-server/json.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F32, JsonSyntaxError, formatF32, parseJson, stringify } from '../qdrant-server/json.js';

test('integer literals parse to bigint, others to number', () => {
  assert.deepEqual(
    parseJson('{"a": 18446744073709551615, "b": 1.5, "c": -3, "d": 2e3, "e": [true, null, "x"]}'),
    {
      a: 18446744073709551615n,
      b: 1.5,
      c: -3n,
      d: 2000,
      e: [true, null, 'x'],
    },
  );
  assert.equal(parseJson('"a\\u00e9\\n"'), 'aé\n');
});

test('syntax errors name the line and column', () => {
  for (const text of ['', '{', '{"a":}', '[1,]', '{"a":1} x', "{'a':1}", '01']) {
    assert.throws(() => parseJson(text), JsonSyntaxError, JSON.stringify(text));
  }
  assert.throws(() => parseJson('{\n  "a": ?'), /at line 2 column/);
});

test('serialisation: bigint as bare digits, float32 in shortest form', () => {
  assert.equal(
    stringify({
      id: 9007199254740993n,
      v: [new F32(Math.fround(0.1)), new F32(1), new F32(Math.fround(1 / 3))],
      u: undefined,
    }),
    '{"id":9007199254740993,"v":[0.1,1.0,0.33333334]}',
  );
  assert.equal(formatF32(Math.fround(1e-7)), '1e-7');
  assert.equal(formatF32(120000), '120000.0');
  assert.equal(Math.fround(Number(formatF32(Math.fround(0.26726124)))), Math.fround(0.26726124));
});

test('round trip of a parsed body', () => {
  const text = '{"points":[{"id":12345678901234567891,"payload":{"n":-5,"f":0.25,"s":"q\\"x"}}]}';
  assert.equal(stringify(parseJson(text)), text);
});
