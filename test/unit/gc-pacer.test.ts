// The pacer of full collections (src/shared/gc-pacer.ts): when it collects (growth over the step,
// the step scaling with what is live, V8's own collections lowering the floor), and that the
// runtime-exposed V8 gc it relies on really frees dropped buffers on this Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { GcPacer, exposeGc } from '../../src/shared/gc-pacer.js';

const MiB = 2 ** 20;

/** A pacer over a scripted `held` value; collecting sets it to `afterCollect`. */
function scripted(start: number, minStep: number, liveFraction: number) {
  const state = { held: start, afterCollect: start, collections: 0 };
  const pacer = new GcPacer(
    () => {
      state.collections++;
      state.held = state.afterCollect;
    },
    () => state.held,
    { minStep, liveFraction },
  );
  return { state, pacer };
}

test('collects once growth passes the minimum step, then measures from what the collection left', () => {
  const { state, pacer } = scripted(40 * MiB, 48 * MiB, 0.5);
  state.held = 40 * MiB + 48 * MiB; // exactly the step: not yet
  pacer.check();
  assert.equal(state.collections, 0);
  state.held += 1;
  state.afterCollect = 50 * MiB;
  pacer.check();
  assert.equal(state.collections, 1);
  state.held = 50 * MiB + 48 * MiB; // the step from the new floor: not yet
  pacer.check();
  assert.equal(state.collections, 1);
  state.held += MiB;
  pacer.check();
  assert.equal(state.collections, 2);
});

test('the step grows with what is live: a large live set is not collected for every few megabytes', () => {
  const { state, pacer } = scripted(400 * MiB, 48 * MiB, 0.5);
  state.held = 400 * MiB + 100 * MiB; // over the minimum step, under half the live set
  pacer.check();
  assert.equal(state.collections, 0);
  state.held = 400 * MiB + 201 * MiB;
  pacer.check();
  assert.equal(state.collections, 1);
});

test("V8's own collections lower the floor the growth is measured from", () => {
  const { state, pacer } = scripted(100 * MiB, 48 * MiB, 0.5);
  state.held = 60 * MiB; // V8 collected by itself
  pacer.check();
  state.held = 60 * MiB + 49 * MiB; // over the step from 60 MB, not from 100 MB
  pacer.check();
  assert.equal(state.collections, 1);
});

test('the V8 gc exposed at run time frees a dropped buffer', async () => {
  const gc = exposeGc();
  assert.equal(typeof gc, 'function', 'V8 gc could not be exposed at run time on this Node');
  let big: Buffer | undefined = Buffer.alloc(64 * MiB, 1);
  const withIt = v8.getHeapStatistics().external_memory;
  assert.equal(big[big.length - 1], 1);
  big = undefined;
  // V8 may sweep freed ArrayBuffers on a helper thread: the accounting can lag the collection.
  let after = withIt;
  for (let i = 0; i < 100 && withIt - after < 60 * MiB; i++) {
    gc!();
    after = v8.getHeapStatistics().external_memory;
    if (withIt - after < 60 * MiB) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(withIt - after >= 60 * MiB, `external memory went from ${withIt} to ${after} bytes`);
});
