import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKey, keyBytes, parseCanonicalKey } from '../../src/event/key.js';
import type { ColumnValue } from '../../src/event/change-event.js';

test('the canonical key is a JSON array of the key values in key-column order', () => {
  const key = { id: 7n, tenant: 'acme' };
  assert.equal(canonicalKey(['tenant', 'id'], key), '["acme",7]');
  assert.equal(canonicalKey(['id', 'tenant'], key), '[7,"acme"]');
  assert.deepStrictEqual(JSON.parse(canonicalKey(['tenant'], key)), ['acme']);
});

test('each kind of key value has one fixed form', () => {
  const key: Record<string, ColumnValue> = {
    i: -42n,
    f: 0.5,
    nz: -0,
    nan: NaN,
    inf: -Infinity,
    t: true,
    s: 'x',
    d: { kind: 'decimal', text: '12.340' },
    u: { kind: 'uuid', uuid: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' },
    b: new Uint8Array([0, 15, 255]),
    j: { kind: 'json', json: '{"a": 1}' },
  };
  assert.equal(
    canonicalKey(Object.keys(key), key),
    '[-42,0.5,0,"NaN","-Infinity",true,"x","12.340","a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","000fff","{\\"a\\": 1}"]',
  );
});

test('int8 keys keep every digit, to the bounds', () => {
  assert.equal(canonicalKey(['id'], { id: 2n ** 63n - 1n }), '[9223372036854775807]');
  assert.equal(canonicalKey(['id'], { id: -(2n ** 63n) }), '[-9223372036854775808]');
  assert.notEqual(canonicalKey(['id'], { id: 2n ** 53n }), canonicalKey(['id'], { id: 2n ** 53n + 1n }));
});

test('composite text keys with separators, quotes and unicode are unambiguous', () => {
  const cols = ['a', 'b'];
  const keys: [string, string][] = [
    ['a,b', 'c'],
    ['a', 'b,c'],
    ['a"', 'b'],
    ['a', '"b'],
    ['a","b', ''],
    ['', 'a","b'],
    ['a\\', '"b'],
    ['\u00e9', 'x'], // é, precomposed
    ['e\u0301', 'x'], // é, combining accent: another key in PostgreSQL, so another key here
    ['😀', ']'],
    ['[', ''],
    ['null', 'x'],
  ];
  const seen = new Map<string, [string, string]>();
  for (const [a, b] of keys) {
    const k = canonicalKey(cols, { a, b });
    assert.deepStrictEqual(JSON.parse(k), [a, b], 'the key parses back to its values');
    assert.ok(!seen.has(k), `${k} is also the key of ${JSON.stringify(seen.get(k))}`);
    seen.set(k, [a, b]);
  }
});

test('equal keys give identical bytes whatever the order of the object and extra entries', () => {
  const a = keyBytes(['tenant', 'id'], { tenant: 'acme', id: 1n });
  const b = keyBytes(['tenant', 'id'], { id: 1n, tenant: 'acme', title: 'ignored' });
  assert.ok(a.equals(b));
  assert.ok(a.equals(Buffer.from('["acme",1]', 'utf8')));
  assert.ok(keyBytes(['s'], { s: 'ü' }).equals(Buffer.from('["ü"]', 'utf8')), 'UTF-8, not \\u escapes');
});

test('a NULL or missing key column, or no key columns, is refused with the column named', () => {
  assert.throws(() => canonicalKey(['tenant', 'id'], { tenant: 'a', id: null }), /key column id is NULL/);
  assert.throws(() => canonicalKey(['tenant', 'id'], { tenant: 'a' }), /key column id is missing/);
  assert.throws(() => canonicalKey([], {}), /no key columns/);
  assert.throws(
    () => canonicalKey(['d'], { d: new Date() as unknown as ColumnValue }),
    /key column d .*no canonical form/,
  );
});

test('parseCanonicalKey inverts canonicalKey with the key columns’ types', () => {
  const columns = [
    { name: 'i', type: 'int8' },
    { name: 'f', type: 'float8' },
    { name: 'nan', type: 'float4' },
    { name: 't', type: 'bool' },
    { name: 's', type: 'text' },
    { name: 'd', type: 'numeric' },
    { name: 'u', type: 'uuid' },
    { name: 'b', type: 'bytea' },
    { name: 'j', type: 'jsonb' },
  ];
  const key: Record<string, ColumnValue> = {
    i: -(2n ** 63n),
    f: 0.5,
    nan: NaN,
    t: false,
    s: 'a,"b"] ü',
    d: { kind: 'decimal', text: '12.340' },
    u: { kind: 'uuid', uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
    b: new Uint8Array([0, 15, 255]),
    j: { kind: 'json', json: '{"a": [1, 2]}' },
  };
  const text = canonicalKey(
    columns.map((c) => c.name),
    key,
  );
  assert.deepStrictEqual(parseCanonicalKey(columns, text), key);
  // An integer key stays exact beyond 2^53 (its point id is the integer itself).
  assert.deepStrictEqual(parseCanonicalKey([{ name: 'id', type: 'int4' }], '[9007199254740993]'), {
    id: 9007199254740993n,
  });
});

test('parseCanonicalKey refuses a key that is not this table’s', () => {
  const id = [{ name: 'id', type: 'int8' }];
  for (const bad of ['', '[]', '[1,2]', '["1"]', '[1.5]', '[ 1]', '1', '[01]', '[1', '[null]'])
    assert.throws(() => parseCanonicalKey(id, bad), /canonical key/, bad);
  const two = [
    { name: 'tenant', type: 'text' },
    { name: 'id', type: 'int8' },
  ];
  assert.deepStrictEqual(parseCanonicalKey(two, '["a,b",7]'), { tenant: 'a,b', id: 7n });
  assert.throws(() => parseCanonicalKey(two, '[7,"a"]'), /canonical key/);
});
