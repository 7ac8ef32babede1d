import assert from 'node:assert/strict';
import test from 'node:test';
import { Arena, releaseView } from '../../src/shared/arena.js';

test('arena views are 8-byte aligned, disjoint, and share a slab until it is full', () => {
  const arena = new Arena(1024);
  const a = arena.alloc(13);
  const b = arena.alloc(100);
  assert.equal(a.length, 13);
  assert.equal(b.length, 100);
  assert.equal(a.buffer, b.buffer);
  assert.equal(a.byteOffset % 8, 0);
  assert.equal(b.byteOffset % 8, 0);
  assert.ok(b.byteOffset >= a.byteOffset + a.length);
  a.fill(1);
  b.fill(2);
  assert.ok(a.every((x) => x === 1));
  // 16 + 104 bytes used (aligned); three quarter-slab requests fit, a fourth does not: a new slab.
  const more = [arena.alloc(256), arena.alloc(256), arena.alloc(256)];
  assert.ok(more.every((x) => x.buffer === a.buffer));
  assert.notEqual(arena.alloc(256).buffer, a.buffer);
});

test('arena: a request over a quarter slab gets its own allocation; copy() copies', () => {
  const arena = new Arena(1024);
  const small = arena.alloc(8);
  const big = arena.alloc(300);
  assert.notEqual(big.buffer, small.buffer);
  assert.equal(arena.alloc(8).buffer, small.buffer);
  const src = Buffer.from('hello');
  const copied = arena.copy(src);
  src.fill(0);
  assert.equal(copied.toString(), 'hello');
});

test('arena.write: a writer that runs out of room is called again with a slab big enough', () => {
  const arena = new Arena(64);
  arena.alloc(10);
  const payload = Buffer.alloc(200, 7);
  const calls: number[] = [];
  const out = arena.write((into, offset) => {
    calls.push(into.length - offset);
    if (into.length - offset < payload.length) return into.length - offset - payload.length;
    payload.copy(into, offset);
    return offset + payload.length;
  });
  assert.deepEqual(out, payload);
  assert.equal(calls.length, 2);
  assert.ok(calls[1]! >= payload.length);
  // The next write lands after it, in the same (new) slab when it fits.
  const next = arena.write((into, offset) => {
    if (offset >= into.length) return into.length - offset - 1;
    into[offset] = 9;
    return offset + 1;
  });
  assert.equal(next[0], 9);
  assert.ok(next.buffer !== out.buffer || next.byteOffset >= out.byteOffset + out.length);
});

test('arena: a slab whose every allocation came back is reused instead of a new one', () => {
  const arena = new Arena(1024);
  const first = [arena.alloc(256), arena.alloc(256), arena.alloc(256), arena.copy(Buffer.alloc(256, 1))];
  const slab = first[0]!.buffer;
  assert.ok(first.every((v) => v.buffer === slab));
  // Full: a new slab, the first one retired with four allocations out.
  const second = arena.alloc(256);
  assert.notEqual(second.buffer, slab);
  for (const v of first) releaseView(v.subarray(1)); // any view of the allocation will do
  // The second slab fills up; the next one is the first slab again, from its start.
  arena.alloc(256);
  arena.alloc(256);
  arena.alloc(256);
  const again = arena.alloc(100);
  assert.equal(again.buffer, slab);
  assert.equal(again.byteOffset, 0);
});

test('arena: a slab with an allocation not given back is never reused; a typed array view releases too', () => {
  const arena = new Arena(1024);
  const kept = arena.alloc(256);
  const given = arena.alloc(256);
  const words = new Float32Array(given.buffer, given.byteOffset, 64);
  arena.alloc(256);
  arena.alloc(256); // slab full
  arena.alloc(8); // a new slab
  releaseView(words);
  for (let i = 0; i < 20; i++) assert.notEqual(arena.alloc(200).buffer, kept.buffer);
  kept.fill(7);
  assert.ok(kept.every((x) => x === 7));
});

test('arena: the current slab is reused from its start once everything in it came back', () => {
  const arena = new Arena(1024);
  const views = Array.from({ length: 4 }, () =>
    arena.write((into, at) => (into.fill(3, at, at + 256), at + 256)),
  );
  const slab = views[0]!.buffer;
  for (const v of views) releaseView(v);
  const next = arena.alloc(16);
  assert.equal(next.buffer, slab);
  assert.equal(next.byteOffset, 0);
});

test('arena: giving an allocation back twice throws; views of other memory are ignored', () => {
  const arena = new Arena(1024);
  const v = arena.alloc(8);
  releaseView(v);
  assert.throws(() => releaseView(v), /more often than it was handed out/);
  releaseView(Buffer.alloc(8));
  releaseView(arena.alloc(600)); // over a quarter slab: an allocation of its own
});
