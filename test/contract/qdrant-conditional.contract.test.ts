// Contract: the conditional writes the sink fences stale writes with (src/sink/qdrant/fence.ts),
// as Qdrant ≥ 1.16 applies them (lib/shard/src/update, src/common/update.rs): update_filter on
// upsert and update_vectors, delete by filter, set_payload / delete_vectors with points and a
// filter side by side. Runs against the test server and, with QDRANT_URL, a real Qdrant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collection, ok, scrollAll, single, type PointIdJson } from './qdrant-helpers.js';

/** The sink's guard of a change at (lsn, seq): stored position not newer (fence.ts). */
const notNewerThan = (lsn: number, seq: number) => ({
  must_not: [
    { key: 'lsn', range: { gt: lsn } },
    {
      must: [
        { key: 'lsn', match: { value: lsn } },
        { key: 'seq', range: { gt: seq } },
      ],
    },
  ],
});
const guard = (id: number, lsn: number, seq: number) => ({
  must: [{ has_id: [id] }, notNewerThan(lsn, seq)],
});
const point = (id: number, lsn: number, seq: number, v = [1, lsn]) => ({
  id,
  vector: v,
  payload: { lsn, seq },
});

async function payloads(name: string): Promise<Map<PointIdJson, Record<string, unknown>>> {
  return new Map((await scrollAll(name)).map((p) => [p.id, p.payload ?? {}]));
}

test('upsert with update_filter: existing points matching it are replaced, others kept, missing ones inserted', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const put = (points: unknown[], filter?: unknown) =>
    ok('PUT', `/collections/${name}/points?wait=true`, {
      points,
      ...(filter ? { update_filter: filter } : {}),
    });
  await put([point(1, 100, 0), point(2, 100, 5), point(3, 200, 0), { id: 4, vector: [1, 1], payload: {} }]);

  // Each point under its own guard (one `should` of has_id clauses): written at (150, 0).
  const writes = [point(1, 150, 0), point(2, 100, 3), point(3, 150, 0), point(4, 150, 0), point(5, 150, 0)];
  await put(writes, {
    should: [guard(1, 150, 0), guard(2, 100, 3), guard(3, 150, 0), guard(4, 150, 0), guard(5, 150, 0)],
  });
  const after = await payloads(name);
  assert.deepEqual(after.get(1), { lsn: 150, seq: 0 }, 'older stored: replaced');
  assert.deepEqual(after.get(2), { lsn: 100, seq: 5 }, 'same lsn, later seq stored: kept');
  assert.deepEqual(after.get(3), { lsn: 200, seq: 0 }, 'newer stored: kept');
  assert.deepEqual(after.get(4), { lsn: 150, seq: 0 }, 'no position stored: replaced');
  assert.deepEqual(after.get(5), { lsn: 150, seq: 0 }, 'missing: inserted regardless of the filter');

  // A replay of the same (lsn, seq) applies again (idempotent).
  await put([point(3, 200, 0, [7, 7])], { should: [guard(3, 200, 0)] });
  const three = (await scrollAll(name, { with_vector: true })).find((p) => p.id === 3);
  assert.deepEqual(three?.vector, [7, 7]);
});

test('delete by a filter of guarded ids: only points not newer than their delete go', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    points: [point(1, 100, 0), point(2, 300, 0), point(3, 200, 1)],
  });
  await ok('POST', `/collections/${name}/points/delete?wait=true`, {
    filter: { should: [guard(1, 200, 0), guard(2, 200, 0), guard(3, 200, 1), guard(9, 200, 0)] },
  });
  assert.deepEqual([...(await payloads(name)).keys()], [2]);
});

test('set_payload: listed points take precedence over a filter; by filter alone it is conditional', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('PUT', `/collections/${name}/points?wait=true`, { points: [point(1, 300, 0), point(2, 100, 0)] });
  // points + a filter that matches nothing: Qdrant ignores the filter.
  await ok('POST', `/collections/${name}/points/payload?wait=true`, {
    payload: { a: 1 },
    points: [1],
    filter: { must: [{ key: 'lsn', match: { value: 999 } }] },
  });
  assert.equal((await payloads(name)).get(1)?.a, 1);
  // By filter: applies where the guard holds, no 404 for a missing id.
  await ok('POST', `/collections/${name}/points/payload?wait=true`, {
    payload: { b: 2, lsn: 200 },
    filter: { should: [guard(1, 200, 0), guard(2, 200, 0), guard(9, 200, 0)] },
  });
  const after = await payloads(name);
  assert.equal(after.get(1)?.b, undefined, 'newer stored: untouched');
  assert.deepEqual(after.get(2), { lsn: 200, seq: 0, b: 2 });
});

test('update_vectors with update_filter; delete_vectors applies its filter and its points', async (t) => {
  const name = await collection(t, {
    vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 2, distance: 'Dot' } },
  });
  const p = (id: number, lsn: number) => ({ id, vector: { a: [1, 1], b: [2, 2] }, payload: { lsn, seq: 0 } });
  await ok('PUT', `/collections/${name}/points?wait=true`, { points: [p(1, 100), p(2, 300), p(3, 100)] });
  await ok('PUT', `/collections/${name}/points/vectors?wait=true`, {
    points: [
      { id: 1, vector: { a: [5, 5] } },
      { id: 2, vector: { a: [5, 5] } },
    ],
    update_filter: notNewerThan(200, 0),
  });
  const vectors = async () =>
    new Map(
      (await scrollAll(name, { with_vector: true })).map((x) => [x.id, x.vector as Record<string, number[]>]),
    );
  let v = await vectors();
  assert.deepEqual(v.get(1)?.a, [5, 5], 'older stored: updated');
  assert.deepEqual(v.get(2)?.a, [1, 1], 'newer stored: kept');

  await ok('POST', `/collections/${name}/points/vectors/delete?wait=true`, {
    points: [3],
    filter: { should: [guard(1, 200, 0), guard(2, 200, 0)] },
    vector: ['b'],
  });
  v = await vectors();
  assert.equal(v.get(1)?.b, undefined, 'matched by the filter');
  assert.deepEqual(v.get(2)?.b, [2, 2], 'not matched');
  assert.equal(v.get(3)?.b, undefined, 'listed');
});

test('a whole row with a NULL vector: /points/batch upsert (vector left out) then delete_vectors by the guard; "" is the unnamed vector', async (t) => {
  // What the sink sends for `UPDATE … SET embedding = NULL` (writer.ts upsertClearing).
  for (const named of [false, true]) {
    const name = await collection(
      t,
      named
        ? { vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 2, distance: 'Dot' } } }
        : single(2, 'Dot'),
    );
    const full = named ? { a: [1, 1], b: [2, 2] } : [1, 1];
    await ok('PUT', `/collections/${name}/points?wait=true`, {
      points: [
        { id: 1, vector: full, payload: { lsn: 100, seq: 0 } },
        { id: 2, vector: full, payload: { lsn: 300, seq: 0 } },
      ],
    });
    const left = named ? { b: [3, 3] } : {};
    const cleared = named ? ['a'] : [''];
    const ops = (id: number) => [
      {
        upsert: {
          points: [{ id, vector: left, payload: { lsn: 200, seq: 0, title: 'x' } }],
          update_filter: notNewerThan(200, 0),
        },
      },
      { delete_vectors: { filter: guard(id, 200, 0), vector: cleared } },
    ];
    await ok('POST', `/collections/${name}/points/batch?wait=true`, { operations: [...ops(1), ...ops(2)] });
    const points = new Map(
      (await scrollAll(name, { with_vector: true })).map((p) => [p.id, p] as [PointIdJson, typeof p]),
    );
    const what = named ? 'named' : 'unnamed';
    assert.deepEqual(points.get(1)?.vector ?? {}, named ? { b: [3, 3] } : {}, `${what}: vector removed`);
    assert.equal(points.get(1)?.payload?.title, 'x', `${what}: the point stays, with its payload`);
    assert.deepEqual(points.get(2)?.vector, full, `${what}: a newer point is left alone`);
    assert.equal(points.get(2)?.payload?.lsn, 300);
  }
});
