// A snapshot chunk at its high watermark (src/source/snapshot/chunk-emitter.ts): rows whose key
// changed in the stream while the window was open are left out (the stream's version is newer),
// keys asked for by name with no row become deletes, a row that cannot be decoded is
// dead-lettered, a TRUNCATE inside the window empties the chunk — and the window settles only
// once Kafka acknowledged every event and dead letter of the chunk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TableConfig } from '../../src/config/schema.js';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { canonicalKey } from '../../src/event/key.js';
import { cellDecoders } from '../../src/source/cell-decoders.js';
import { ChangeBuilder, RelationPlan, type TxInfo } from '../../src/source/changes.js';
import type { ResolvedColumn, ResolvedRelation, Tuple } from '../../src/source/pgoutput/index.js';
import type { SnapshotRow } from '../../src/source/postgres/snapshot.js';
import { emitChunk } from '../../src/source/snapshot/chunk-emitter.js';
import type { TakenWindow } from '../../src/source/snapshot/windows.js';

const column = (name: string, typeName: string, isKey = false): ResolvedColumn => ({
  name,
  isKey,
  typeOid: 0,
  typeMod: -1,
  typeName,
  typeSchema: 'pg_catalog',
});
const relation: ResolvedRelation = {
  oid: 1,
  schema: 'public',
  name: 'docs',
  replicaIdentity: 'default',
  columns: [column('id', 'int4', true), column('title', 'text')],
  keyColumns: ['id'],
};
const plan = new RelationPlan(relation, { table: 'public.docs' } as TableConfig);
const builder = new ChangeBuilder(cellDecoders);
const row = (id: string, title = `t${id}`): SnapshotRow => [
  { kind: 'text', text: id },
  { kind: 'text', text: title },
];
const keyOf = (r: Tuple) => canonicalKey(plan.keyNames, builder.key(plan, r));

interface Run {
  published: ChangeEvent[];
  deadLettered: string[];
  /** Kafka's acknowledgements not given yet (give them with ackAll). */
  acks: Array<() => void>;
  settled: number | undefined;
  ackAll(): void;
}

async function run(window: Omit<TakenWindow, 'done' | 'fail'>): Promise<Run> {
  const r: Run = {
    published: [],
    deadLettered: [],
    acks: [],
    settled: undefined,
    ackAll: () => r.acks.splice(0).forEach((ack) => ack()),
  };
  const info: TxInfo = { lsn: 0x100n, xid: 0, commitTimeMicros: 1n, snapshot: true, seq: 0 };
  await emitChunk(
    { ...window, done: (rows) => (r.settled = rows), fail: (err) => assert.fail(err) },
    {
      builder,
      info,
      publish: async (event, also) => {
        r.published.push(event);
        r.acks.push(also());
      },
      deadLetter: async (_columns, cells, err, acked) => {
        r.deadLettered.push(`${cells[0]!.kind === 'text' ? cells[0]!.text : '?'}: ${err.message}`);
        r.acks.push(acked);
      },
    },
  );
  return r;
}

test('keys changed in the stream while the window was open are left out; the rest go out as snapshot reads in order', async () => {
  const rows = ['1', '2', '3', '4'].map((id) => row(id));
  const changed = new Set([keyOf(row('2'))]);
  const r = await run({ chunk: { table: 'public.docs', plan, rows }, changed, truncated: false });
  assert.deepEqual(
    r.published.map((e) => [e.op, e.values?.title]),
    [
      ['r', 't1'],
      ['r', 't3'],
      ['r', 't4'],
    ],
  );
  // Positions grow within the watermark's transaction (a row left out may leave a gap).
  const seqs = r.published.map((e) => e.source.seq);
  assert.ok(
    seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
    `positions grow: ${seqs.join(', ')}`,
  );
  assert.ok(r.published.every((e) => e.source.snapshot && e.source.lsn === 0x100n));
  assert.equal(r.settled, undefined, 'not settled before Kafka acknowledged the events');
  r.acks.pop()!();
  assert.equal(r.settled, undefined, 'not settled with one event still unacknowledged');
  r.ackAll();
  assert.equal(r.settled, 3, 'settled with the rows emitted');
});

test('keys asked for by name without a row become deletes, unless they changed in the stream', async () => {
  const absent = [row('7'), row('8')].map((t): Tuple => [t[0]!, { kind: 'null' }]);
  const changed = new Set([keyOf(row('8'))]);
  const r = await run({
    chunk: { table: 'public.docs', plan, rows: [row('1')], absent },
    changed,
    truncated: false,
  });
  assert.deepEqual(
    r.published.map((e) => [e.op, canonicalKey(plan.keyNames, e.key)]),
    [
      ['r', keyOf(row('1'))],
      ['d', keyOf(row('7'))],
    ],
  );
  r.ackAll();
  assert.equal(r.settled, 1, 'the rows emitted (deletes not counted as rows)');
});

test('a row that cannot be decoded is dead-lettered, the others emitted; settled after the dead letter is stored', async () => {
  const r = await run({
    chunk: { table: 'public.docs', plan, rows: [row('1'), row('not-a-number'), row('3')] },
    changed: new Set(),
    truncated: false,
  });
  assert.deepEqual(
    r.published.map((e) => e.values?.title),
    ['t1', 't3'],
  );
  assert.equal(r.deadLettered.length, 1);
  assert.match(r.deadLettered[0]!, /^not-a-number: /);
  assert.equal(r.acks.length, 3, 'two events and one dead letter to acknowledge');
  r.acks[0]!();
  r.acks[2]!();
  assert.equal(r.settled, undefined, 'the dead letter is not stored yet');
  r.acks[1]!();
  assert.equal(r.settled, 2);
});

test('a TRUNCATE while the window was open: nothing emitted, settled at once', async () => {
  const r = await run({
    chunk: { table: 'public.docs', plan, rows: [row('1'), row('2')] },
    changed: new Set(),
    truncated: true,
  });
  assert.deepEqual(r.published, []);
  assert.equal(r.settled, 0);
});
