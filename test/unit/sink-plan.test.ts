// planBatch: a partition's events reduced to one net change per point between truncates, with the
// same end state as applying every event in turn, and every record kept for dead-lettering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent, ColumnValue, Op, VectorValue } from '../../src/event/change-event.js';
import { canonicalKey } from '../../src/event/key.js';
import { planBatch, type DecodedRecord, type PointChange, type Step } from '../../src/sink/plan.js';

const keyOf = (e: ChangeEvent) => canonicalKey(['id'], e.key);

const dense = (...values: number[]): VectorValue => ({
  kind: 'dense',
  values: Float32Array.from(values),
  half: false,
});

interface EventSpec {
  op: Op;
  id?: number;
  lsn: number;
  values?: Record<string, ColumnValue>;
  vectors?: Record<string, VectorValue | null>;
  unchanged?: string[];
}

function event({ op, id = 0, lsn, values = {}, vectors = {}, unchanged = [] }: EventSpec): ChangeEvent {
  const deleteOrTruncate = op === 'd' || op === 't';
  return {
    op,
    source: {
      lsn: BigInt(lsn),
      xid: lsn,
      commitTimeMicros: 0n,
      schema: 'public',
      table: 'items',
      snapshot: op === 'r',
      seq: 0,
    },
    key: op === 't' ? {} : { id: BigInt(id) },
    values: deleteOrTruncate ? null : values,
    vectors: deleteOrTruncate ? {} : vectors,
    unchanged,
  };
}

/** Builds a batch: each item is an event, or `tombstone(id)`; offsets count from 0. */
function batch(items: Array<ChangeEvent | { tombstone: number }>): DecodedRecord[] {
  return items.map((item, offset) => {
    const tomb = 'tombstone' in item;
    // Keys as the source writes them; a truncate's is empty (it goes to every partition).
    const key = tomb ? `[${item.tombstone}]` : item.op === 't' ? '' : keyOf(item);
    return {
      record: {
        topic: 't',
        partition: 0,
        offset: String(offset),
        key: Buffer.from(key),
        value: tomb ? null : Buffer.from('x'),
      },
      event: tomb ? null : (item as ChangeEvent),
      ...(tomb ? { tombstoneKey: { id: BigInt(item.tombstone) } } : {}),
    };
  });
}

const offsets = (c: { records: Array<{ offset: string }> }) => c.records.map((r) => Number(r.offset));
const only = (steps: Step[]): PointChange => {
  assert.equal(steps.length, 1);
  const step = steps[0]!;
  assert.equal(step.kind, 'points');
  assert.equal(step.changes.size, 1);
  return [...step.changes.values()][0]!;
};

test('one event per key: each op maps to its change kind', () => {
  const steps = planBatch(
    batch([
      event({ op: 'c', id: 1, lsn: 10, values: { a: 1n }, vectors: { v: dense(1) } }),
      event({ op: 'r', id: 2, lsn: 10, values: { a: 2n }, vectors: { v: dense(2) } }),
      event({ op: 'u', id: 3, lsn: 11, values: { a: 3n }, vectors: { v: dense(3) } }),
      event({ op: 'u', id: 4, lsn: 11, values: { a: 4n }, unchanged: ['v'] }),
      event({ op: 'd', id: 5, lsn: 12 }),
    ]),
    keyOf,
  );
  assert.equal(steps.length, 1);
  const changes = (steps[0] as Extract<Step, { kind: 'points' }>).changes;
  assert.deepStrictEqual(
    [...changes].map(([k, c]) => [k, c.kind, c.lsn, offsets(c)]),
    [
      ['[1]', 'upsert', 10n, [0]],
      ['[2]', 'upsert', 10n, [1]],
      ['[3]', 'upsert', 11n, [2]],
      ['[4]', 'partial', 11n, [3]],
      ['[5]', 'delete', 12n, [4]],
    ],
  );
});

test('upsert then partial → one upsert with merged values and vectors, the later LSN', () => {
  const c = only(
    planBatch(
      batch([
        event({ op: 'c', id: 1, lsn: 10, values: { a: 1n, b: 'x' }, vectors: { v: dense(1), w: dense(2) } }),
        event({
          op: 'u',
          id: 1,
          lsn: 11,
          values: { b: 'y', c: true },
          vectors: { w: null },
          unchanged: ['a', 'v'],
        }),
      ]),
      keyOf,
    ),
  );
  assert.equal(c.kind, 'upsert');
  assert.equal(c.lsn, 11n);
  assert.deepStrictEqual(c.values, { a: 1n, b: 'y', c: true });
  assert.deepStrictEqual(c.vectors, { v: dense(1), w: null });
  assert.deepStrictEqual(offsets(c), [0, 1]);
});

test('partial then partial → one partial with merged values and vectors', () => {
  const c = only(
    planBatch(
      batch([
        event({
          op: 'u',
          id: 1,
          lsn: 10,
          values: { a: 1n },
          vectors: { v: dense(1) },
          unchanged: ['b', 'w'],
        }),
        event({
          op: 'u',
          id: 1,
          lsn: 11,
          values: { b: 2n },
          vectors: { w: dense(2) },
          unchanged: ['a', 'v'],
        }),
        event({ op: 'u', id: 1, lsn: 12, values: { a: 3n }, unchanged: ['b', 'v', 'w'] }),
      ]),
      keyOf,
    ),
  );
  assert.equal(c.kind, 'partial');
  assert.equal(c.lsn, 12n);
  assert.deepStrictEqual(c.values, { a: 3n, b: 2n });
  assert.deepStrictEqual(c.vectors, { v: dense(1), w: dense(2) });
  assert.deepStrictEqual(offsets(c), [0, 1, 2]);
});

test('anything then delete → delete, keeping every record', () => {
  for (const first of [
    event({ op: 'c', id: 1, lsn: 10, values: { a: 1n } }),
    event({ op: 'u', id: 1, lsn: 10, values: { a: 1n }, unchanged: ['v'] }),
    event({ op: 'd', id: 1, lsn: 10 }),
  ]) {
    const c = only(planBatch(batch([first, event({ op: 'd', id: 1, lsn: 11 })]), keyOf));
    assert.equal(c.kind, 'delete', `${first.op} then delete`);
    assert.equal(c.lsn, 11n);
    assert.deepStrictEqual(offsets(c), [0, 1]);
  }
});

test('delete then upsert → the upsert, not merged with anything before the delete', () => {
  const c = only(
    planBatch(
      batch([
        event({ op: 'c', id: 1, lsn: 9, values: { old: 1n }, vectors: { v: dense(9) } }),
        event({ op: 'd', id: 1, lsn: 10 }),
        { tombstone: 1 },
        event({ op: 'c', id: 1, lsn: 11, values: { a: 1n }, vectors: { v: dense(1) } }),
      ]),
      keyOf,
    ),
  );
  assert.equal(c.kind, 'upsert');
  assert.deepStrictEqual(c.values, { a: 1n });
  assert.deepStrictEqual(c.vectors, { v: dense(1) });
  assert.deepStrictEqual(offsets(c), [0, 1, 2, 3]);
});

test('delete then partial → the delete, then the partial in a step of its own', () => {
  // e.g. row 2 deleted, then row 1's key changed to 2 with an unchanged TOAST column. Folded into
  // one partial, the delete would be lost and the old point 2 would stay; applied in turn, the
  // partial finds no point and is dead-lettered.
  const steps = planBatch(
    batch([
      event({ op: 'c', id: 3, lsn: 9, values: { a: 3n } }),
      event({ op: 'd', id: 2, lsn: 10 }),
      { tombstone: 2 },
      event({ op: 'u', id: 2, lsn: 11, values: { a: 1n }, unchanged: ['v'] }),
      event({ op: 'u', id: 2, lsn: 12, values: { b: 1n }, unchanged: ['v'] }),
    ]),
    keyOf,
  );
  assert.deepStrictEqual(
    steps.map((s) =>
      s.kind === 'points' ? [...s.changes].map(([k, c]) => [k, c.kind, offsets(c)]) : s.kind,
    ),
    [
      [
        ['[3]', 'upsert', [0]],
        ['[2]', 'delete', [1, 2]],
      ],
      [['[2]', 'partial', [3, 4]]],
    ],
  );
});

test('a tombstone alone deletes its key, unguarded (its delete event was compacted away)', () => {
  const steps = planBatch(batch([{ tombstone: 1 }, { tombstone: 2 }]), keyOf);
  assert.equal(steps.length, 1);
  const step = steps[0]!;
  assert.equal(step.kind, 'points');
  assert.deepStrictEqual(
    [...step.changes].map(([k, c]) => [k, c.kind, c.tombstone, c.event.key, offsets(c)]),
    [
      ['[1]', 'delete', true, { id: 1n }, [0]],
      ['[2]', 'delete', true, { id: 2n }, [1]],
    ],
  );
});

test('a tombstone after its delete event folds into it: the delete keeps its own guard', () => {
  const c = only(planBatch(batch([event({ op: 'd', id: 1, lsn: 10 }), { tombstone: 1 }]), keyOf));
  assert.equal(c.kind, 'delete');
  assert.equal(c.tombstone, undefined);
  assert.equal(c.lsn, 10n);
  assert.deepStrictEqual(offsets(c), [0, 1]);
});

test('a tombstone after an upsert of its key → delete; an insert after the tombstone → upsert', () => {
  // The key's delete event dead-lettered or compacted away: the tombstone still deletes.
  const c = only(
    planBatch(batch([event({ op: 'c', id: 1, lsn: 9, values: { a: 1n } }), { tombstone: 1 }]), keyOf),
  );
  assert.equal(c.kind, 'delete');
  assert.equal(c.tombstone, true);
  assert.deepStrictEqual(offsets(c), [0, 1]);
  const again = only(
    planBatch(batch([{ tombstone: 1 }, event({ op: 'c', id: 1, lsn: 12, values: { a: 2n } })]), keyOf),
  );
  assert.equal(again.kind, 'upsert');
  assert.equal(again.tombstone, undefined);
  assert.deepStrictEqual(offsets(again), [0, 1]);
});

test('a truncate splits the batch into steps, in order', () => {
  const steps = planBatch(
    batch([
      event({ op: 'c', id: 1, lsn: 10 }),
      event({ op: 'c', id: 2, lsn: 10 }),
      event({ op: 't', lsn: 11 }),
      event({ op: 'c', id: 1, lsn: 12 }),
      event({ op: 't', lsn: 13 }),
      event({ op: 't', lsn: 14 }),
      event({ op: 'd', id: 2, lsn: 15 }),
    ]),
    keyOf,
  );
  const shape = steps.map((s) =>
    s.kind === 'truncate'
      ? ['truncate', s.lsn, offsets(s)]
      : ['points', [...s.changes].map(([k, c]) => [k, c.kind, offsets(c)])],
  );
  assert.deepStrictEqual(shape, [
    [
      'points',
      [
        ['[1]', 'upsert', [0]],
        ['[2]', 'upsert', [1]],
      ],
    ],
    ['truncate', 11n, [2]],
    ['points', [['[1]', 'upsert', [3]]]],
    ['truncate', 13n, [4]],
    ['truncate', 14n, [5]],
    ['points', [['[2]', 'delete', [6]]]],
  ]);
});

// --- property: planned steps ≡ events one by one -------------------------------------------------

/** A point as the sink leaves it in Qdrant: payload (with the LSN field) and non-null vectors. */
interface ModelPoint {
  payload: Record<string, ColumnValue>;
  lsn: bigint;
  vectors: Record<string, VectorValue>;
}
type Model = Map<string, ModelPoint>;

const nonNull = (vectors: Record<string, VectorValue | null>) =>
  Object.fromEntries(Object.entries(vectors).filter(([, v]) => v !== null)) as Record<string, VectorValue>;

/** What the writer makes Qdrant do for one change (upsert replaces; partial on a missing point fails). */
function applyChange(model: Model, key: string, c: Pick<PointChange, 'kind' | 'values' | 'vectors' | 'lsn'>) {
  if (c.kind === 'delete') {
    model.delete(key);
    return;
  }
  if (c.kind === 'upsert') {
    model.set(key, { payload: { ...c.values }, lsn: c.lsn, vectors: nonNull(c.vectors) });
    return;
  }
  const p = model.get(key);
  if (!p) return; // Qdrant: "No point with id … found" → dead-lettered, the point stays absent
  const vectors = { ...p.vectors };
  for (const [name, v] of Object.entries(c.vectors)) {
    if (v) vectors[name] = v;
    else delete vectors[name];
  }
  model.set(key, { payload: { ...p.payload, ...c.values }, lsn: c.lsn, vectors });
}

/** A truncate deletes every point whose last change is older than it (writer.ts). */
function applyTruncate(model: Model, lsn: bigint) {
  for (const [k, p] of model) if (p.lsn < lsn) model.delete(k);
}

function applyEvents(model: Model, items: DecodedRecord[]) {
  for (const { event: e, tombstoneKey } of items) {
    if (e === null) {
      model.delete(canonicalKey(['id'], tombstoneKey!));
      continue;
    }
    if (e.op === 't') applyTruncate(model, e.source.lsn);
    else
      applyChange(model, keyOf(e), {
        kind: e.op === 'd' ? 'delete' : e.op === 'u' && e.unchanged.length ? 'partial' : 'upsert',
        values: e.values ?? {},
        vectors: e.vectors,
        lsn: e.source.lsn,
      });
  }
}

function applySteps(model: Model, steps: Step[], shuffle: (n: number) => number) {
  for (const step of steps) {
    if (step.kind === 'truncate') {
      applyTruncate(model, step.lsn);
      continue;
    }
    // The writer sends a step's deletes, upserts and partials as separate requests: the order of
    // the points inside a step must not matter.
    const changes = [...step.changes];
    for (let i = changes.length - 1; i > 0; i--) {
      const j = shuffle(i + 1);
      [changes[i], changes[j]] = [changes[j]!, changes[i]!];
    }
    for (const [key, c] of changes) applyChange(model, key, c);
  }
}

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COLUMNS = ['a', 'b', 'c'];
const VECTORS = ['v', 'w'];

function randomBatch(rand: () => number, length: number): DecodedRecord[] {
  const int = (n: number) => Math.floor(rand() * n);
  const items: Array<ChangeEvent | { tombstone: number }> = [];
  let lsn = 100;
  for (let i = 0; i < length; i++) {
    // Several events of one transaction share its commit LSN; a truncate is a transaction of its own.
    if (rand() < 0.5) lsn += 1 + int(3);
    const id = int(3);
    const r = rand();
    const value = () => BigInt(int(1000));
    if (r < 0.05) {
      lsn += 1;
      items.push(event({ op: 't', lsn }));
      lsn += 1;
    } else if (r < 0.15) items.push({ tombstone: id });
    else if (r < 0.3) items.push(event({ op: 'd', id, lsn }));
    else if (r < 0.6) {
      // Full row: every column and vector (a vector may be NULL).
      const values = Object.fromEntries(COLUMNS.map((c) => [c, value()]));
      const vectors = Object.fromEntries(VECTORS.map((v) => [v, rand() < 0.2 ? null : dense(int(100))]));
      items.push(event({ op: rand() < 0.5 ? 'c' : rand() < 0.5 ? 'u' : 'r', id, lsn, values, vectors }));
    } else {
      // Partial update: a random non-empty set of columns and vectors left unsent.
      const all = [...COLUMNS, ...VECTORS];
      let unchanged = all.filter(() => rand() < 0.5);
      if (unchanged.length === 0) unchanged = [all[int(all.length)]!];
      const values: Record<string, ColumnValue> = {};
      const vectors: Record<string, VectorValue | null> = {};
      for (const c of COLUMNS) if (!unchanged.includes(c)) values[c] = value();
      for (const v of VECTORS) if (!unchanged.includes(v)) vectors[v] = rand() < 0.2 ? null : dense(int(100));
      items.push(event({ op: 'u', id, lsn, values, vectors, unchanged }));
    }
  }
  return batch(items);
}

function randomModel(rand: () => number): Model {
  const model: Model = new Map();
  for (let id = 0; id < 3; id++)
    if (rand() < 0.6)
      model.set(`[${id}]`, {
        payload: { a: BigInt(id), stale: true },
        lsn: BigInt(Math.floor(rand() * 100)),
        vectors: rand() < 0.5 ? { v: dense(-1) } : { v: dense(-1), w: dense(-2) },
      });
  return model;
}

const cloneModel = (m: Model): Model =>
  new Map([...m].map(([k, p]) => [k, { payload: { ...p.payload }, lsn: p.lsn, vectors: { ...p.vectors } }]));

test('property: applying the planned steps ≡ applying every event in turn', () => {
  const runs = 3000;
  for (let seed = 1; seed <= runs; seed++) {
    const rand = prng(seed);
    const items = randomBatch(rand, 1 + Math.floor(rand() * 25));
    const before = randomModel(rand);

    const expected = cloneModel(before);
    applyEvents(expected, items);
    const steps = planBatch(items, keyOf);
    const actual = cloneModel(before);
    applySteps(actual, steps, (n) => Math.floor(rand() * n));

    const sorted = (m: Model) => [...m].sort(([a], [b]) => a.localeCompare(b));
    assert.deepStrictEqual(sorted(actual), sorted(expected), `seed ${seed}`);

    // Every record (row change, tombstone or truncate) is in exactly one change or truncate step, and a
    // point's records keep their order.
    const planned = steps.flatMap((s) =>
      s.kind === 'truncate' ? [offsets(s)] : [...s.changes.values()].map(offsets),
    );
    for (const list of planned)
      assert.deepStrictEqual(
        list,
        [...list].sort((a, b) => a - b),
        `seed ${seed}: records in order`,
      );
    const wanted = items.map((i) => Number(i.record.offset));
    assert.deepStrictEqual(
      planned.flat().sort((a, b) => a - b),
      wanted,
      `seed ${seed}: every record kept once`,
    );
  }
});
