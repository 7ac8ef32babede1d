// Contract, over REST and gRPC alike (transports.ts): the point writes and reads the sink relies
// on (docs/qdrant.md) — upsert / get, delete by ids and by filter, payload set / overwrite /
// delete, vector update / delete, conditional upsert (update_filter), ordered batches, count and
// scroll. Runs against the test server and, with QDRANT_URL / QDRANT_GRPC_URL, a real Qdrant.
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/stack.js';
import { collection, single } from './qdrant-helpers.js';
import { overBoth, type Retrieved } from './transports.js';

const uuid = '936da01f-9abd-4d9d-80c7-02af85c822a8';
const named = { vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 3, distance: 'Dot' } } };
const byId = (rs: Retrieved[]) => new Map(rs.map((r) => [r.id, r]));

overBoth(
  'upsert then get: ids (number, UUID), payload values and vectors read back as written',
  async (t, tr) => {
    const name = await collection(t, single(3, 'Dot'));
    const payload = { s: 'x', i: 7, f: 1.5, b: true, n: null, list: [1, 'a'], obj: { deep: { k: -2 } } };
    const status = await tr.upsert(name, [
      { id: 1, vector: [1, 2, 3], payload },
      { id: uuid, vector: [0.5, 0.25, -1] },
    ]);
    assert.equal(status, 'completed');
    const got = byId(await tr.get(name, [1, uuid, 99], { vector: true }));
    assert.equal(got.size, 2, 'a missing id is left out');
    assert.deepEqual(got.get(1), { id: 1, payload, vector: [1, 2, 3] });
    assert.deepEqual(got.get(uuid), { id: uuid, vector: [0.5, 0.25, -1] });
    const bare = await tr.get(name, [1], { payload: false });
    assert.deepEqual(bare, [{ id: 1 }]);
  },
);

overBoth('an upsert replaces the whole point; wait=false is acknowledged', async (t, tr) => {
  const name = await collection(t, single(2, 'Dot'));
  await tr.upsert(name, [{ id: 1, vector: [1, 1], payload: { a: 1, b: 2 } }]);
  const status = await tr.upsert(name, [{ id: 1, vector: [2, 2], payload: { c: 3 } }], { wait: false });
  assert.ok(['acknowledged', 'completed'].includes(status), status);
  // Not waited for: a real Qdrant may apply it a moment later.
  const p = await waitFor('the unwaited upsert applied', async () => {
    const [got] = await tr.get(name, [1], { vector: true });
    return got?.payload?.c === 3 ? got : undefined;
  });
  assert.deepEqual(p, { id: 1, payload: { c: 3 }, vector: [2, 2] });
});

overBoth('delete by ids and by filter', async (t, tr) => {
  const name = await collection(t, single(2, 'Dot'));
  await tr.upsert(
    name,
    [1, 2, 3, 4].map((id) => ({ id, vector: [id, 1], payload: { group: id % 2 ? 'odd' : 'even' } })),
  );
  assert.equal(await tr.delete(name, { points: [1, 42] }), 'completed', 'a missing id is no error');
  await tr.delete(name, { filter: { must: [{ key: 'group', match: { value: 'even' } }] } });
  assert.deepEqual(
    (await tr.scroll(name)).points.map((p) => p.id),
    [3],
  );
});

overBoth(
  'set_payload merges (also under a key), overwrite_payload replaces, delete_payload drops keys',
  async (t, tr) => {
    const name = await collection(t, single(2, 'Dot'));
    await tr.upsert(name, [
      { id: 1, vector: [1, 1], payload: { a: 1, b: { x: 1 } } },
      { id: 2, vector: [1, 1], payload: { a: 2 } },
    ]);
    await tr.setPayload(name, { c: 'new', a: 10 }, { points: [1] });
    await tr.setPayload(name, { y: 2 }, { points: [1] }, 'b');
    assert.deepEqual((await tr.get(name, [1]))[0]!.payload, { a: 10, b: { x: 1, y: 2 }, c: 'new' });
    await tr.overwritePayload(name, { replaced: true }, { filter: { must: [{ has_id: [2] }] } });
    assert.deepEqual((await tr.get(name, [2]))[0]!.payload, { replaced: true });
    await tr.deletePayload(name, ['a', 'b.x'], { points: [1] });
    assert.deepEqual((await tr.get(name, [1]))[0]!.payload, { b: { y: 2 }, c: 'new' });
  },
);

overBoth(
  'named vectors: update_vectors changes only the named one, delete_vectors removes it',
  async (t, tr) => {
    const name = await collection(t, named);
    await tr.upsert(name, [{ id: 1, vector: { a: [1, 2], b: [1, 2, 3] }, payload: { k: 1 } }]);
    await tr.updateVectors(name, [{ id: 1, vector: { b: [4, 5, 6] } }]);
    assert.deepEqual((await tr.get(name, [1], { vector: true }))[0]!.vector, { a: [1, 2], b: [4, 5, 6] });
    await tr.deleteVectors(name, ['a'], { points: [1] });
    const [p] = await tr.get(name, [1], { vector: true });
    assert.deepEqual(p, { id: 1, payload: { k: 1 }, vector: { b: [4, 5, 6] } });
  },
);

overBoth(
  'upsert with update_filter replaces only the points it matches, inserts missing ones',
  async (t, tr) => {
    const name = await collection(t, single(2, 'Dot'));
    await tr.upsert(name, [
      { id: 1, vector: [1, 1], payload: { lsn: 100 } },
      { id: 2, vector: [1, 1], payload: { lsn: 300 } },
    ]);
    const notNewer = { must_not: [{ key: 'lsn', range: { gt: 200 } }] };
    await tr.upsert(
      name,
      [1, 2, 3].map((id) => ({ id, vector: [2, 2], payload: { lsn: 200 } })),
      { update_filter: notNewer },
    );
    const got = byId(await tr.get(name, [1, 2, 3]));
    assert.deepEqual(got.get(1)?.payload, { lsn: 200 }, 'older stored: replaced');
    assert.deepEqual(got.get(2)?.payload, { lsn: 300 }, 'newer stored: kept');
    assert.deepEqual(got.get(3)?.payload, { lsn: 200 }, 'missing: inserted');
    await tr.updateVectors(name, [{ id: 2, vector: [9, 9] }], notNewer);
    assert.deepEqual(
      (await tr.get(name, [2], { vector: true }))[0]!.vector,
      [1, 1],
      'update_vectors fenced too',
    );
  },
);

overBoth('a batch applies its operations in order, one result each', async (t, tr) => {
  const name = await collection(t, named);
  const v = { a: [1, 1], b: [1, 1, 1] };
  const statuses = await tr.batch(name, [
    {
      upsert: {
        points: [
          { id: 1, vector: v, payload: { step: 1 } },
          { id: 2, vector: v },
        ],
      },
    },
    { set_payload: { payload: { step: 2, extra: 'x' }, points: [1] } },
    { delete_payload: { keys: ['extra'], points: [1] } },
    { delete: { points: [2] } },
    { upsert: { points: [{ id: 2, vector: v, payload: { again: true } }] } },
    { overwrite_payload: { payload: { step: 3 }, points: [1] } },
    { update_vectors: { points: [{ id: 1, vector: { a: [5, 5] } }] } },
    { delete_vectors: { vector: ['b'], points: [2] } },
  ]);
  assert.deepEqual(statuses, Array(8).fill('completed'));
  const got = byId(await tr.get(name, [1, 2], { vector: true }));
  assert.deepEqual(got.get(1), { id: 1, payload: { step: 3 }, vector: { a: [5, 5], b: [1, 1, 1] } });
  assert.deepEqual(got.get(2), { id: 2, payload: { again: true }, vector: { a: [1, 1] } });
});

overBoth('count with and without a filter; scroll pages by next offset in id order', async (t, tr) => {
  const name = await collection(t, single(2, 'Dot'));
  await tr.upsert(
    name,
    [5, 1, 4, 2, 3].map((id) => ({ id, vector: [id, 0], payload: { big: id > 2 } })),
  );
  assert.equal(await tr.count(name), 5);
  assert.equal(await tr.count(name, { must: [{ key: 'big', match: { value: true } }] }), 3);
  const first = await tr.scroll(name, { limit: 2 });
  assert.deepEqual(
    first.points.map((p) => p.id),
    [1, 2],
  );
  assert.equal(first.next, 3);
  const rest = await tr.scroll(name, { limit: 10, offset: first.next });
  assert.deepEqual(
    rest.points.map((p) => p.id),
    [3, 4, 5],
  );
  assert.equal(rest.next, undefined);
  const filtered = await tr.scroll(name, { filter: { must: [{ key: 'big', match: { value: false } }] } });
  assert.deepEqual(filtered.points, [
    { id: 1, payload: { big: false } },
    { id: 2, payload: { big: false } },
  ]);
});

overBoth('query nearest (exact): Dot scores in order, by vector and by a stored point id', async (t, tr) => {
  const name = await collection(t, named);
  await tr.upsert(name, [
    { id: 1, vector: { a: [1, 0], b: [1, 0, 0] }, payload: { k: 'x' } },
    { id: 2, vector: { a: [0.5, 0.25], b: [0, 1, 0] }, payload: { k: 'y' } },
    { id: 3, vector: { a: [0, 2], b: [0, 0, 1] }, payload: { k: 'x' } },
  ]);
  const hits = await tr.query(name, [1, 1], { using: 'a' });
  assert.deepEqual(
    hits.map((h) => [h.id, h.score]),
    [
      [3, 2],
      [1, 1],
      [2, 0.75],
    ],
  );
  const filtered = await tr.query(name, [1, 1], {
    using: 'a',
    filter: { must: [{ key: 'k', match: { value: 'x' } }] },
    limit: 1,
  });
  assert.deepEqual(
    filtered.map((h) => h.id),
    [3],
  );
  const byId = await tr.query(name, 1, { using: 'b' });
  assert.ok(!byId.some((h) => h.id === 1), 'the point queried by is left out');
  assert.equal(byId.length, 2);
});

overBoth(
  'payload indexes: created ones show in the info with their type, a deleted one is gone',
  async (t, tr) => {
    const name = await collection(t, single(2, 'Dot'));
    assert.equal(await tr.createIndex(name, 'lsn', 'integer'), 'completed');
    await tr.createIndex(name, 'tenant', 'keyword');
    assert.deepEqual((await tr.info(name)).payloadSchema, { lsn: 'integer', tenant: 'keyword' });
    await tr.deleteIndex(name, 'tenant');
    assert.deepEqual((await tr.info(name)).payloadSchema, { lsn: 'integer' });
  },
);
