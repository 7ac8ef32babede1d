import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapConfluent, unwrapConfluent } from '../../src/event/confluent.js';
import { decodeEvent, encodeEvent } from '../../src/event/avro.js';
import { comparable, sampleEvents } from '../fixtures/avro/samples.js';

test('the Confluent frame is magic byte 0, the schema id big-endian, then the Avro bytes', () => {
  const framed = wrapConfluent(0x01020304, Buffer.from([0xaa, 0xbb]));
  assert.deepStrictEqual([...framed], [0, 1, 2, 3, 4, 0xaa, 0xbb]);
  assert.deepStrictEqual(unwrapConfluent(framed), { schemaId: 0x01020304, avro: Buffer.from([0xaa, 0xbb]) });
});

test('an event survives framing and unframing', () => {
  const e = sampleEvents().c;
  const { schemaId, avro } = unwrapConfluent(wrapConfluent(2 ** 31 - 1, encodeEvent(e)));
  assert.equal(schemaId, 2 ** 31 - 1);
  assert.deepStrictEqual(comparable(decodeEvent(avro)), comparable(e));
});

test('bad frames and ids are refused', () => {
  assert.throws(() => unwrapConfluent(Buffer.from([0, 0, 0, 1])), /shorter than its header/);
  assert.throws(() => unwrapConfluent(Buffer.from([1, 0, 0, 0, 1, 2])), /magic byte 1/);
  assert.throws(() => wrapConfluent(-1, Buffer.alloc(0)), /schema id -1/);
  assert.throws(() => wrapConfluent(2 ** 31, Buffer.alloc(0)), /schema id/);
  assert.throws(() => wrapConfluent(1.5, Buffer.alloc(0)), /schema id/);
});
