import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatLsn, parseLsn } from '../../src/event/lsn.js';

test('parseLsn accepts both the short and the zero-padded form', () => {
  assert.equal(parseLsn('0/1639370'), 0x1639370n);
  assert.equal(parseLsn('00000000/0163AF60'), 0x163af60n);
  assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xb374d848n);
  assert.equal(parseLsn('ffffffff/ffffffff'), 0xffff_ffff_ffff_ffffn);
  assert.equal(parseLsn('0/0'), 0n);
});

test('formatLsn prints as PostgreSQL does: upper-case hex halves, no padding', () => {
  assert.equal(formatLsn(0x1639370n), '0/1639370');
  assert.equal(formatLsn((0x16n << 32n) | 0xb374d848n), '16/B374D848');
  assert.equal(formatLsn(0n), '0/0');
  assert.equal(formatLsn(0x1_0000_0000n), '1/0');
  for (const lsn of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 0xffff_ffff_ffff_ffffn]) {
    assert.equal(parseLsn(formatLsn(lsn)), lsn);
  }
});

test('bad LSNs are errors, never NaN or a wrong number', () => {
  for (const bad of ['', '0', '0/', '/1', '0/1/2', 'g/1', '0/123456789', ' 0/1', '0x0/1']) {
    assert.throws(() => parseLsn(bad), /not an LSN/, bad);
  }
  assert.throws(() => formatLsn(-1n), RangeError);
  assert.throws(() => formatLsn(1n << 64n), RangeError);
});
