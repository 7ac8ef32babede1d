// Point ids for every key type the source produces (DESIGN.md "Mappings"): non-negative integers
// as themselves (exact past 2^53), uuids as themselves, everything else as a UUIDv5 of the
// canonical key in the pipeline's namespace — checked against an independent RFC 4122 §4.3
// implementation, so a change of algorithm, namespace or canonical form cannot pass unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ColumnValue } from '../../src/event/change-event.js';
import { canonicalKey } from '../../src/event/key.js';
import { pipelineNamespace, pointIdJson, pointIdOf } from '../../src/sink/qdrant/point-id.js';

/** The fixed root namespace of derived point ids: changing it moves every derived point. */
const ROOT = 'a4d8c1e2-5b7f-4c3d-9e6a-0f1b2c3d4e5f';
const V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** RFC 4122 §4.3 name-based UUID with SHA-1, written from the RFC rather than the uuid package. */
function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // variant 10xx
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const NS = pipelineNamespace('orders');
const OTHER_NS = pipelineNamespace('orders-2');

const single = (type: string) => ({ key: [{ name: 'id', type }] });

test('the pipeline namespace is UUIDv5("vecrelay:<pipeline>", fixed root)', () => {
  assert.equal(NS, uuidV5('vecrelay:orders', ROOT));
  assert.match(NS, V5);
  assert.notEqual(NS, OTHER_NS);
});

test('int2/int4/int8 keys ≥ 0 are integer ids (bigint), without a derived key', () => {
  const cases: Array<[string, bigint]> = [
    ['int2', 0n],
    ['int2', 32767n],
    ['int4', 1n],
    ['int4', 2n ** 31n - 1n],
    ['int8', 42n],
    ['int8', 2n ** 53n - 1n],
    ['int8', 2n ** 53n],
    ['int8', 2n ** 53n + 1n],
    ['int8', 2n ** 63n - 1n],
  ];
  for (const [type, value] of cases) {
    const got = pointIdOf(single(type), NS, { id: value });
    assert.equal(typeof got.id, 'bigint', `${type} ${value}`);
    assert.equal(got.id, value, `${type} ${value}`);
    assert.equal(got.derivedFrom, undefined, `${type} ${value}`);
  }
});

test('integer ids are written as exact bare digits, up to 2^64-1', () => {
  assert.equal(pointIdJson(0n), '0');
  assert.equal(pointIdJson(2n ** 53n + 1n), '9007199254740993');
  assert.equal(pointIdJson(2n ** 63n - 1n), '9223372036854775807');
  assert.equal(pointIdJson(2n ** 64n - 1n), '18446744073709551615');
  // Through pointIdOf too: the digits survive from the key to the request body.
  const { id } = pointIdOf(single('int8'), NS, { id: 2n ** 53n + 1n });
  assert.equal(`{"id":${pointIdJson(id)}}`, '{"id":9007199254740993}');
  // 2^64-1 is the largest id Qdrant accepts; the rule maps it to itself as well.
  assert.equal(pointIdOf(single('int8'), NS, { id: 2n ** 64n - 1n }).id, 2n ** 64n - 1n);
});

test('negative integer keys get a UUIDv5 id, with the canonical key as derivedFrom', () => {
  for (const [type, value] of [
    ['int2', -1n],
    ['int4', -(2n ** 31n)],
    ['int8', -(2n ** 63n)],
  ] as Array<[string, bigint]>) {
    const got = pointIdOf(single(type), NS, { id: value });
    const canonical = `[${value}]`;
    assert.equal(got.derivedFrom, canonical, `${type} ${value}`);
    assert.equal(got.id, uuidV5(canonical, NS), `${type} ${value}`);
    assert.match(got.id as string, V5);
    assert.equal(pointIdJson(got.id), JSON.stringify(got.id));
  }
});

test('uuid keys are the uuid itself', () => {
  const uuid = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
  const got = pointIdOf(single('uuid'), NS, { id: { kind: 'uuid', uuid } });
  assert.deepStrictEqual(got, { id: uuid });
  assert.equal(pointIdJson(got.id), `"${uuid}"`);
});

test('text, composite, numeric and bytea keys get deterministic, valid UUIDv5 ids', () => {
  const cases: Array<{
    what: string;
    key: Array<{ name: string; type: string }>;
    value: Record<string, ColumnValue>;
  }> = [
    { what: 'text', key: [{ name: 'id', type: 'text' }], value: { id: 'sku-1' } },
    // Text that looks like an integer or a uuid is still text.
    { what: 'numeric-looking text', key: [{ name: 'id', type: 'text' }], value: { id: '42' } },
    {
      what: 'uuid-looking text',
      key: [{ name: 'id', type: 'text' }],
      value: { id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' },
    },
    { what: 'empty text', key: [{ name: 'id', type: 'varchar' }], value: { id: '' } },
    { what: 'unicode text', key: [{ name: 'id', type: 'text' }], value: { id: 'ü😀"\\' } },
    {
      what: 'composite (int, text)',
      key: [
        { name: 'tenant_id', type: 'int4' },
        { name: 'sku', type: 'text' },
      ],
      value: { sku: 'a,b', tenant_id: 7n },
    },
    {
      what: 'composite of two non-negative ints',
      key: [
        { name: 'a', type: 'int8' },
        { name: 'b', type: 'int8' },
      ],
      value: { a: 1n, b: 2n },
    },
    {
      what: 'numeric',
      key: [{ name: 'id', type: 'numeric' }],
      value: { id: { kind: 'decimal', text: '12.340' } },
    },
    {
      what: 'bytea',
      key: [{ name: 'id', type: 'bytea' }],
      value: { id: new Uint8Array([0, 15, 255]) },
    },
    { what: 'float8', key: [{ name: 'id', type: 'float8' }], value: { id: 0.5 } },
    { what: 'bool', key: [{ name: 'id', type: 'bool' }], value: { id: true } },
  ];
  const seen = new Map<string, string>();
  for (const { what, key, value } of cases) {
    const descriptor = { key };
    const canonical = canonicalKey(
      key.map((k) => k.name),
      value,
    );
    const got = pointIdOf(descriptor, NS, value);
    assert.equal(got.derivedFrom, canonical, what);
    assert.equal(got.id, uuidV5(canonical, NS), what);
    assert.match(got.id as string, V5, `${what}: an RFC 4122 version-5 uuid`);
    // Deterministic: the same key (as a fresh object, as decoded again) gives the same id...
    const again = pointIdOf(descriptor, NS, structuredClone(value));
    assert.deepStrictEqual(again, got, `${what}: same key, same id`);
    // ...and another pipeline puts the same key at another point.
    const other = pointIdOf(descriptor, OTHER_NS, value);
    assert.notEqual(other.id, got.id, `${what}: another pipeline, another id`);
    assert.equal(other.derivedFrom, canonical);
    assert.ok(!seen.has(got.id as string), `${what} collides with ${seen.get(got.id as string)}`);
    seen.set(got.id as string, what);
  }
});

test('key columns follow the descriptor order, not the order of the event key object', () => {
  const descriptor = {
    key: [
      { name: 'tenant', type: 'text' },
      { name: 'id', type: 'int8' },
    ],
  };
  const a = pointIdOf(descriptor, NS, { tenant: 'acme', id: 7n });
  const b = pointIdOf(descriptor, NS, { id: 7n, tenant: 'acme' });
  assert.deepStrictEqual(a, b);
  assert.equal(a.derivedFrom, '["acme",7]');
  assert.notEqual(pointIdOf(descriptor, NS, { tenant: 'acme', id: 8n }).id, a.id);
});

test('a key column missing from the event is an error, not a random id', () => {
  assert.throws(() => pointIdOf({ key: [{ name: 'sku', type: 'text' }] }, NS, { id: 1n }), /missing/);
  assert.throws(() => pointIdOf({ key: [{ name: 'sku', type: 'text' }] }, NS, { sku: null }), /NULL/);
});
