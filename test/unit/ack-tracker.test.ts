import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckTracker } from '../../src/source/ack-tracker.js';

test('the position stays at the start until the first transaction is fully acknowledged', () => {
  const t = new AckTracker(100n);
  const tx = t.begin();
  const a = t.event(tx);
  const b = t.event(tx);
  t.commit(tx, 200n);
  a();
  assert.equal(t.confirmed(), 100n);
  b();
  assert.equal(t.confirmed(), 200n);
});

test('a later transaction acknowledged first does not move the position past an earlier one', () => {
  const t = new AckTracker(0n);
  const t1 = t.begin();
  const ack1 = t.event(t1);
  t.commit(t1, 300n);
  const t2 = t.begin();
  const ack2 = t.event(t2);
  t.commit(t2, 400n);
  ack2();
  assert.equal(t.confirmed(), 0n);
  ack1();
  assert.equal(t.confirmed(), 400n);
});

test('an uncommitted transaction holds the position even with all events acknowledged', () => {
  const t = new AckTracker(0n);
  const tx = t.begin();
  t.event(tx)();
  assert.equal(t.confirmed(), 0n);
  assert.equal(t.idle(), false);
  t.commit(tx, 50n);
  assert.equal(t.confirmed(), 50n);
  assert.equal(t.idle(), true);
});

test('acknowledging the same event twice counts once', () => {
  const t = new AckTracker(0n);
  const tx = t.begin();
  const a = t.event(tx);
  t.event(tx);
  t.commit(tx, 10n);
  a();
  a();
  assert.equal(t.confirmed(), 0n);
});

test('keepalive positions advance only when nothing is outstanding', () => {
  const t = new AckTracker(10n);
  const tx = t.begin();
  const a = t.event(tx);
  t.commit(tx, 20n);
  assert.equal(t.advanceIdle(500n), false);
  a();
  assert.equal(t.advanceIdle(500n), true);
  assert.equal(t.confirmed(), 500n);
  assert.equal(t.advanceIdle(400n), false, 'never moves backwards');
});

test('thousands of transactions keep the queue compact and the position exact', () => {
  const t = new AckTracker(0n);
  const acks: Array<() => void> = [];
  for (let i = 1; i <= 5000; i++) {
    const tx = t.begin();
    acks.push(t.event(tx));
    t.commit(tx, BigInt(i * 10));
  }
  for (let i = 0; i < 4999; i++) acks[i]!();
  assert.equal(t.confirmed(), 49_990n);
  acks[4999]!();
  assert.equal(t.confirmed(), 50_000n);
});
