// Scalar decoders beyond the captured fixtures: numeric and date/time arithmetic, bytea escape
// text, unknown types, malformed cells.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeValue } from '../../src/source/decode/value.js';
import { decodeRow } from '../../src/source/decode/row.js';
import { formatTimestamp } from '../../src/source/decode/datetime.js';
import { DecodeError, UnsupportedTypeError } from '../../src/source/decode/errors.js';
import type { ValueCell } from '../../src/source/pgoutput/messages.js';
import { RelationCache } from '../../src/source/pgoutput/relation-cache.js';

const bin = (bytes: Buffer): ValueCell => ({ kind: 'binary', bytes });
const txt = (text: string): ValueCell => ({ kind: 'text', text });
const col = (typeName: string) => ({ name: 'c', typeName });

/** numeric_send bytes. */
function numeric(weight: number, sign: number, dscale: number, digits: number[]): Buffer {
  const b = Buffer.alloc(8 + digits.length * 2);
  b.writeInt16BE(digits.length, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(sign, 4);
  b.writeInt16BE(dscale, 6);
  digits.forEach((d, i) => b.writeInt16BE(d, 8 + i * 2));
  return b;
}
const decimal = (bytes: Buffer) => decodeValue(col('numeric'), bin(bytes));

test('numeric binary → numeric_out text: weight, padding, dscale, sign, specials', () => {
  const cases: Array<[Buffer, string]> = [
    [numeric(0, 0, 0, []), '0'],
    [numeric(0, 0, 2, []), '0.00'],
    [numeric(1, 0, 0, [1]), '10000'],
    [numeric(0, 0, 4, [9999, 9999]), '9999.9999'],
    [numeric(-1, 0x4000, 3, [10]), '-0.001'],
    [numeric(-8, 0, 30, [100]), '0.' + '0'.repeat(29) + '1'],
    [numeric(2, 0, 2, [12, 3456, 7890, 1200]), '1234567890.12'],
    [numeric(0, 0, 6, [1, 5]), '1.000500'],
    [numeric(0, 0xc000, 0, []), 'NaN'],
    [numeric(0, 0xd000, 0, []), 'Infinity'],
    [numeric(0, 0xf000, 0, []), '-Infinity'],
  ];
  for (const [bytes, text] of cases) assert.deepEqual(decimal(bytes), { kind: 'decimal', text }, text);
  assert.throws(() => decimal(numeric(0, 0, 0, [10000])), /digit 10000 outside 0\.\.9999/);
  assert.throws(() => decimal(numeric(0, 0x1234, 0, [1])), /bad numeric header/);
  assert.throws(() => decimal(numeric(0, 0, 0, [1, 2]).subarray(0, 10)), /expected 12 bytes, got 10/);
  assert.throws(() => decodeValue(col('numeric'), txt('1e5')), /not a numeric: "1e5"/);
});

test('timestamps agree with JS Date across the Unix-era range, before and after 2000', () => {
  const pgEpochMs = Date.UTC(2000, 0, 1);
  for (let i = 0; i < 2000; i++) {
    const ms = Math.floor((i / 2000) * 4e12) - 1e12; // 1938 … 2096
    const micros = BigInt(ms - pgEpochMs) * 1000n + BigInt(i % 1000);
    const iso = new Date(ms).toISOString().slice(0, 23) + String(i % 1000).padStart(3, '0');
    assert.equal(formatTimestamp(micros, true), iso + 'Z');
    const bytes = Buffer.alloc(8);
    bytes.writeBigInt64BE(micros);
    assert.equal(decodeValue(col('timestamp'), bin(bytes)), iso);
    const text = iso.replace('T', ' ') + '+00';
    assert.equal(decodeValue(col('timestamptz'), txt(text)), iso + 'Z');
  }
});

test('date and time text: offsets, BC, DateStyle other than ISO is an error', () => {
  const tz = (s: string) => decodeValue(col('timestamptz'), txt(s));
  assert.equal(tz('2024-01-02 03:04:05+05:30'), '2024-01-01T21:34:05.000000Z');
  assert.equal(tz('2024-01-01 23:00:00.25-02'), '2024-01-02T01:00:00.250000Z');
  assert.equal(tz('1899-12-31 20:29:08-03:30:52'), '1900-01-01T00:00:00.000000Z');
  assert.equal(tz('0001-12-31 20:29:08-03:30:52 BC'), '0001-01-01T00:00:00.000000Z');
  assert.equal(decodeValue(col('date'), txt('0001-01-01 BC')), '0000-01-01');
  assert.equal(decodeValue(col('date'), txt('2000-02-29')), '2000-02-29');
  const days = Buffer.alloc(4);
  for (const [n, iso] of [
    [0, '2000-01-01'],
    [-1, '1999-12-31'],
    [59, '2000-02-29'],
    [-730_486, '-0001-12-31'], // 2 BC
    [-730_485, '0000-01-01'], // 1 BC,
  ] as const) {
    days.writeInt32BE(n);
    assert.equal(decodeValue(col('date'), bin(days)), iso, String(n));
  }
  assert.throws(
    () => decodeValue(col('date'), txt('01/02/2024')),
    /column "c" of type date: expected YYYY-MM-DD/,
  );
  assert.throws(() => tz('2024-01-02 03:04:05'), /expected YYYY-MM-DD HH:MM:SS\[\.f\]±HH/);
  assert.throws(() => decodeValue(col('timestamp'), txt('2024-01-02 03:04:05+00')), /of type timestamp/);
  assert.throws(
    () => decodeValue(col('timestamp'), bin(Buffer.alloc(4))),
    /timestamp: expected 8 bytes, got 4/,
  );
});

test('bytea text in hex and escape format; uuid, json, jsonb, integers', () => {
  const bytea = (s: string) => decodeValue(col('bytea'), txt(s));
  assert.deepEqual(bytea('\\x00ff10'), Uint8Array.from([0, 255, 16]));
  assert.deepEqual(bytea('ab\\000\\\\\\377'), Uint8Array.from([97, 98, 0, 92, 255]));
  assert.throws(() => bytea('\\x0'), /bad hex bytea text/);
  assert.throws(() => bytea('a\\9'), /bad escape at offset 1/);
  const raw = Buffer.from([1, 2, 3]);
  const copied = decodeValue(col('bytea'), bin(raw));
  raw[0] = 9;
  assert.deepEqual(copied, Uint8Array.from([1, 2, 3]), 'bytea is copied out of the message buffer');
  assert.throws(() => decodeValue(col('uuid'), txt('not-a-uuid')), /bad uuid/);
  assert.throws(() => decodeValue(col('uuid'), bin(Buffer.alloc(15))), /uuid: expected 16 bytes/);
  assert.throws(() => decodeValue(col('jsonb'), bin(Buffer.from('\x02{}'))), /jsonb version 2/);
  assert.deepEqual(decodeValue(col('jsonb'), bin(Buffer.from('\x01{"a": 1}'))), {
    kind: 'json',
    json: '{"a": 1}',
  });
  for (const bad of ['', ' 1', '1.0', '0x10']) {
    assert.throws(() => decodeValue(col('int8'), txt(bad)), /not an integer/, bad);
  }
  assert.throws(() => decodeValue(col('float8'), txt('')), /not a number/);
  assert.equal(decodeValue(col('float8'), txt('-Infinity')), -Infinity);
  assert.throws(() => decodeValue(col('bool'), bin(Buffer.alloc(2))), /bool: expected 1 bytes, got 2/);
  assert.throws(() => decodeValue(col('bool'), txt('true')), /bad bool "true"/);
});

test('unknown types: text is kept as a string, binary is an UnsupportedTypeError naming the column', () => {
  assert.equal(decodeValue({ name: 'span', typeName: 'interval' }, txt('1 day 02:00:00')), '1 day 02:00:00');
  assert.throws(
    () => decodeValue({ name: 'span', typeName: 'interval' }, bin(Buffer.alloc(16))),
    (err: Error) =>
      err instanceof UnsupportedTypeError &&
      /column "span" of type interval: no binary decoder/.test(err.message),
  );
  assert.throws(() => decodeValue(col('vector'), txt('[1]')), /decode it with decodeVector/);
});

test('decodeRow names schema.table.column in errors and rejects a tuple of the wrong width', () => {
  const cache = new RelationCache();
  const relation = cache.addRelation({
    tag: 'relation',
    oid: 7,
    schema: 'public',
    name: 'items',
    replicaIdentity: 'default',
    columns: [
      { name: 'id', isKey: true, typeOid: 23, typeMod: -1 },
      { name: 'span', isKey: false, typeOid: 1186, typeMod: -1 },
    ],
  });
  const id = bin(Buffer.from([0, 0, 0, 1]));
  assert.throws(
    () => decodeRow(relation, [bin(Buffer.from([0, 0, 1])), { kind: 'null' }]),
    (err: Error) =>
      err instanceof DecodeError &&
      /column "public\.items\.id" of type int4: int4: expected 4 bytes/.test(err.message),
  );
  assert.throws(
    () => decodeRow(relation, [id, bin(Buffer.alloc(16))]),
    (err: Error) =>
      err instanceof UnsupportedTypeError && err.message.includes('"public.items.span" of type interval'),
  );
  assert.throws(() => decodeRow(relation, [id]), /has 1 columns, its Relation message 2/);
  assert.deepEqual(decodeRow(relation, [id, { kind: 'unchanged' }]), {
    values: { id: 1n },
    vectors: {},
    unchanged: ['span'],
  });
});
