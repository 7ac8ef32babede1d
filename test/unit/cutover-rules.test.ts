// Cutover's rules as pure functions: which dead letters are of a change at or below the target,
// and what the command reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atOrBelow, type Ends } from '../../src/ops/cutover-dead-letters.js';
import { renderCutover } from '../../src/ops/cutover.js';
import type { DlqEntry } from '../../src/ops/dlq.js';

const entry = (over: Partial<DlqEntry>): DlqEntry => ({
  id: '0:0',
  partition: 0,
  offset: '0',
  time: '2026-11-30T00:00:00.000Z',
  stage: 'sink',
  version: 1,
  table: 'public.items',
  key: '[5]',
  reason: 'Wrong input: Vector dimension error',
  origin: 'vr.public.items[1]@10',
  lsn: '0/100',
  snapshot: false,
  replayable: true,
  ...over,
});

const ends: Ends = new Map([['vr.public.items', new Map([[1, 20n]])]]);
const target = 0x100n;

test('a change at or below the target counts, one after it does not', () => {
  assert.equal(atOrBelow(entry({ lsn: '0/100' }), target, ends), true);
  assert.equal(atOrBelow(entry({ lsn: '0/FF' }), target, ends), true);
  assert.equal(atOrBelow(entry({ lsn: '0/101' }), target, ends), false);
  assert.equal(atOrBelow(entry({ stage: 'source', lsn: '1/0' }), target, ends), false);
});

test('a snapshot row counts whatever its position: it holds rows committed before it was read', () => {
  assert.equal(atOrBelow(entry({ lsn: '5/0', snapshot: true }), target, ends), true);
  assert.equal(atOrBelow(entry({ stage: 'source', lsn: '5/0', snapshot: true }), target, ends), true);
});

test('an unknown position counts, unless a sink record lies past the end cutover waited for', () => {
  assert.equal(atOrBelow(entry({ lsn: null, origin: 'vr.public.items[1]@19' }), target, ends), true);
  assert.equal(atOrBelow(entry({ lsn: null, origin: 'vr.public.items[1]@20' }), target, ends), false);
  assert.equal(atOrBelow(entry({ lsn: null, origin: 'vr.public.other[0]@99' }), target, ends), true);
  assert.equal(atOrBelow(entry({ stage: 'source', lsn: null }), target, ends), true);
});

test('the report names each dead letter (table, key, position, reason) and `vecrelay dlq`', () => {
  const text = renderCutover(
    {
      ok: false,
      targetLsn: '0/100',
      elapsedMs: 3150,
      behind: [],
      deadLetters: [entry({ snapshot: true }), entry({ id: '0:3', stage: 'source', key: null, lsn: '0/80' })],
    },
    'connectors/items.yaml',
  );
  assert.match(
    text,
    /^cutover: NOT exact \(3\.15 s\): 2 dead letters of changes at or below the target 0\/100/,
  );
  assert.match(
    text,
    /public\.items key \[5\] at LSN 0\/100 \(snapshot row\) — sink dead letter 0:0: Wrong input/,
  );
  assert.match(text, /public\.items key \? at LSN 0\/80 — source dead letter 0:3/);
  assert.match(text, /vecrelay dlq --config connectors\/items\.yaml/);
});

test('the report of an exact cutover gives the time the command took', () => {
  const text = renderCutover(
    { ok: true, targetLsn: '0/100', elapsedMs: 3150, behind: [], deadLetters: [] },
    'f',
  );
  assert.equal(text, 'cutover: exact — every change committed before 0/100 is in Qdrant (3.15 s)');
});
