// What the source snapshots at start (src/source/snapshot/jobs.ts), from the state topic's records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedConfig } from '../../src/config/load.js';
import type { TableSnapshotState } from '../../src/event/snapshot-state.js';
import type { TableInfo } from '../../src/source/postgres/catalog.js';
import { planSnapshots } from '../../src/source/snapshot/jobs.js';

const config = (mode: 'initial' | 'never' = 'initial') =>
  ({ postgres: { slot: 'slot_a' }, snapshot: { mode } }) as unknown as LoadedConfig;
const table = (name: string) => ({ schema: 'public', table: name }) as TableInfo;
const tables = [table('a'), table('b')];

function record(name: string, status: 'running' | 'done', extra: Partial<TableSnapshotState> = {}) {
  const state: TableSnapshotState = {
    table: `public.${name}`,
    status,
    reason: 'initial',
    after: status === 'running' ? ['42'] : null,
    where: null,
    rows: 42,
    chunks: 1,
    startedAt: '',
    updatedAt: '',
    ...extra,
  };
  return [`snapshot:public.${name}`, state] as const;
}

const summary = (jobs: ReturnType<typeof planSnapshots>['jobs']) =>
  jobs.map((j) => `${j.table}:${j.reason}${j.resume ? `@${j.resume.after?.join(',') ?? '-'}` : ''}`);

test('a new slot, or one found with no record (a crash right after creating it): every table, initial', () => {
  assert.deepEqual(summary(planSnapshots(config(), tables, new Map(), false).jobs), [
    'public.a:initial',
    'public.b:initial',
  ]);
  assert.deepEqual(summary(planSnapshots(config(), tables, new Map(), true).jobs), [
    'public.a:initial',
    'public.b:initial',
  ]);
});

test('done is skipped, running resumes after its key, a table with no record beside recorded ones is added', () => {
  const records = new Map<string, unknown>([record('a', 'running')]);
  assert.deepEqual(summary(planSnapshots(config(), tables, records, true).jobs), [
    'public.a:initial@42',
    'public.b:added',
  ]);
  const done = new Map<string, unknown>([record('a', 'done'), record('b', 'done')]);
  assert.deepEqual(planSnapshots(config(), tables, done, true).jobs, []);
});

test('the slot gone while records say done: every table again (the changes since are lost)', () => {
  const done = new Map<string, unknown>([record('a', 'done'), record('b', 'done')]);
  assert.deepEqual(summary(planSnapshots(config(), tables, done, false).jobs), [
    'public.a:initial',
    'public.b:initial',
  ]);
});

test('the legacy pipeline-wide record: done covers tables without their own, pending does not', () => {
  const done = new Map<string, unknown>([['snapshot', { slot: 'slot_a', status: 'done' }]]);
  assert.deepEqual(planSnapshots(config(), tables, done, true).jobs, []);
  const otherSlot = new Map<string, unknown>([['snapshot', { slot: 'slot_b', status: 'done' }]]);
  assert.equal(planSnapshots(config(), tables, otherSlot, true).jobs.length, 2);
  const pending = new Map<string, unknown>([['snapshot', { slot: 'slot_a', status: 'pending' }]]);
  assert.deepEqual(summary(planSnapshots(config(), tables, pending, true).jobs), [
    'public.a:initial',
    'public.b:initial',
  ]);
});

test('snapshot.mode never: no table without a record; a resync request left running resumes', () => {
  const resync: TableSnapshotState = {
    table: 'public.b',
    status: 'running',
    reason: 'resync',
    after: ['7'],
    where: 'id < 10',
    rows: 7,
    chunks: 1,
    startedAt: '',
    updatedAt: '',
    request: 'r1',
  };
  const records = new Map<string, unknown>([['resync:r1', resync]]);
  const { jobs } = planSnapshots(config('never'), tables, records, true);
  assert.deepEqual(summary(jobs), ['public.b:resync@7']);
  assert.equal(jobs[0]!.where, 'id < 10');
  assert.equal(jobs[0]!.request, 'r1');
});
