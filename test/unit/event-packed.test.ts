import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packLE, unpackFloat32LE, unpackInt32LE } from '../../src/event/packed.js';

test('packing is little-endian and covers only the array view', () => {
  const backing = new Float32Array([9, 1, -2, 9]);
  const bytes = packLE(backing.subarray(1, 3));
  const expected = Buffer.alloc(8);
  expected.writeFloatLE(1, 0);
  expected.writeFloatLE(-2, 4);
  assert.ok(bytes.equals(expected));
  assert.ok(packLE(new Int32Array([-1, 256])).equals(Buffer.from([255, 255, 255, 255, 0, 1, 0, 0])));
});

test('unpacking works at every byte offset, copying only when unaligned', () => {
  const le = packLE(new Float32Array([1.5, -0, 3]));
  for (let offset = 0; offset < 4; offset++) {
    const host = new Uint8Array(le.length + 4);
    host.set(le, offset);
    const f = unpackFloat32LE(host.subarray(offset, offset + le.length), 'v');
    assert.deepStrictEqual([...f], [1.5, -0, 3]);
    assert.equal(f.buffer === host.buffer, offset === 0, `offset ${offset}: a view only when aligned`);
  }
  const i = unpackInt32LE(packLE(new Int32Array([0, 2 ** 31 - 1, -(2 ** 31)])).subarray(0), 'i');
  assert.deepStrictEqual([...i], [0, 2 ** 31 - 1, -(2 ** 31)]);
});

test('a length that is not a multiple of 4 is refused', () => {
  assert.throws(() => unpackFloat32LE(new Uint8Array(6), 'vector v'), /vector v: 6 bytes/);
  assert.throws(() => unpackInt32LE(new Uint8Array(1), 'idx'), /idx: 1 bytes/);
});
