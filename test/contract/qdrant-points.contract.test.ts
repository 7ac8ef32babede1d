// Contract: point ids and writes — upsert, delete, payload and vector updates (docs/qdrant.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/stack.js';
import {
  assertError,
  collection,
  ok,
  qdrantClient,
  raw,
  scrollAll,
  single,
  type PointIdJson,
} from './qdrant-helpers.js';

interface UpdateResult {
  operation_id?: number;
  status: string;
}

const named = { vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 3, distance: 'Dot' } } };

test('bad point ids: 400 "Format error in JSON body:"', async (t) => {
  const name = await collection(t, single(2));
  for (const id of ['-1', '1.5', '"42"', '"not-a-uuid"', 'null', '18446744073709551616']) {
    const body = `{"points":[{"id":${id},"vector":[1,2]}]}`;
    assertError(
      await raw('PUT', `/collections/${name}/points?wait=true`, body),
      400,
      'Format error in JSON body:',
    );
  }
  assertError(
    await raw('POST', `/collections/${name}/points/delete?wait=true`, { points: [-5] }),
    400,
    'Format error in JSON body:',
  );
  assertError(
    await raw('POST', `/collections/${name}/points`, { ids: ['42'] }),
    400,
    'Format error in JSON body:',
  );
  assert.equal((await qdrantClient().count(name)).count, 0);
});

test('UUID ids in every accepted form address one point, returned lowercase hyphenated', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const canonical = '936da01f-9abd-4d9d-80c7-02af85c822a8';
  const forms = [
    '936DA01F-9ABD-4D9D-80C7-02AF85C822A8',
    '936da01f9abd4d9d80c702af85c822a8',
    `urn:uuid:${canonical}`,
    `{${canonical}}`,
  ];
  for (const [i, id] of forms.entries()) {
    await ok('PUT', `/collections/${name}/points?wait=true`, {
      points: [{ id, vector: [i, 1], payload: { form: i } }],
    });
  }
  const points = await scrollAll(name);
  assert.deepEqual(points, [{ id: canonical, payload: { form: 3 } }]);
  const got = await ok<Array<{ id: PointIdJson }>>('POST', `/collections/${name}/points`, {
    ids: [forms[1]],
    with_payload: false,
  });
  assert.deepEqual(got, [{ id: canonical }]);
  const one = await ok<{ id: PointIdJson }>('GET', `/collections/${name}/points/${forms[0]}`);
  assert.equal(one.id, canonical);
});

test('integer ids above 2^53 keep their precision (raw JSON text)', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const big = ['9007199254740993', '18446744073709551615', '12345678901234567891'];
  const body = `{"points":[${big.map((id) => `{"id":${id},"vector":[1,2]}`).join(',')}]}`;
  assert.equal((await raw('PUT', `/collections/${name}/points?wait=true`, body)).status, 200);
  const scroll = await raw('POST', `/collections/${name}/points/scroll`, { limit: 10, with_payload: false });
  const ids = [...scroll.text.matchAll(/"id":\s*(\d+)/g)].map((m) => m[1]);
  assert.deepEqual(ids, ['9007199254740993', '12345678901234567891', '18446744073709551615']);
  const one = await raw('GET', `/collections/${name}/points/9007199254740993`);
  assert.match(one.text, /"id":\s*9007199254740993[,}]/);
  const missing = await raw('GET', `/collections/${name}/points/9007199254740992`);
  assert.equal(missing.status, 404);
  const deleted = await raw(
    'POST',
    `/collections/${name}/points/delete?wait=true`,
    '{"points":[18446744073709551615]}',
  );
  assert.equal(deleted.status, 200);
  assert.equal((await qdrantClient().count(name)).count, 2);
});

test('wait=true answers "completed", wait=false "acknowledged"; operation ids increase', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  const first = await ok<UpdateResult>('PUT', `/collections/${name}/points?wait=true`, {
    points: [{ id: 1, vector: [1, 2] }],
  });
  assert.equal(first.status, 'completed');
  assert.equal(typeof first.operation_id, 'number');
  const second = await ok<UpdateResult>('PUT', `/collections/${name}/points?wait=false`, {
    points: [{ id: 2, vector: [3, 4] }],
  });
  assert.equal(second.status, 'acknowledged');
  assert.ok(second.operation_id! > first.operation_id!);
  await waitFor('the acknowledged upsert', async () => (await qdrantClient().count(name)).count === 2);
  const viaClient = await qdrantClient().upsert(name, { wait: true, points: [{ id: 3, vector: [5, 6] }] });
  assert.equal(viaClient.status, 'completed');
});

test('upsert replaces the whole point: omitted payload → {}, vectors not given are dropped', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, named);
  await client.upsert(name, {
    wait: true,
    points: [{ id: 7, vector: { a: [1, 2], b: [1, 2, 3] }, payload: { x: 1, y: 'two' } }],
  });
  await client.upsert(name, { wait: true, points: [{ id: 7, vector: { a: [3, 4] } }] });
  const [p] = await client.retrieve(name, { ids: [7], with_payload: true, with_vector: true });
  assert.deepEqual(p?.payload, {});
  assert.deepEqual(p?.vector, { a: [3, 4] });
});

test('duplicate ids in one upsert: the last one wins', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 5, vector: [1, 1], payload: { v: 'first' } },
      { id: 6, vector: [2, 2], payload: { v: 'other' } },
      { id: 5, vector: [3, 3], payload: { v: 'last' } },
    ],
  });
  const points = await scrollAll(name, { with_vector: true });
  assert.deepEqual(points, [
    { id: 5, payload: { v: 'last' }, vector: [3, 3] },
    { id: 6, payload: { v: 'other' }, vector: [2, 2] },
  ]);
});

test('the batch form of upsert', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    batch: {
      ids: [1, 2],
      vectors: [
        [1, 0],
        [0, 1],
      ],
      payloads: [{ n: 1 }, { n: 2 }],
    },
  });
  assert.deepEqual(await scrollAll(name, { with_vector: true }), [
    { id: 1, payload: { n: 1 }, vector: [1, 0] },
    { id: 2, payload: { n: 2 }, vector: [0, 1] },
  ]);
});

test('set_payload merges, overwrite replaces, delete and clear remove', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 1, vector: [1, 1], payload: { a: 1, b: { c: 2 } } },
      { id: 2, vector: [1, 1], payload: { a: 9 } },
    ],
  });
  const payload = async (id: number) =>
    (await client.retrieve(name, { ids: [id], with_payload: true }))[0]?.payload;
  assert.equal(
    (await client.setPayload(name, { points: [1], payload: { b: 'new', d: [1, 2] }, wait: true })).status,
    'completed',
  );
  assert.deepEqual(await payload(1), { a: 1, b: 'new', d: [1, 2] });
  await client.overwritePayload(name, { points: [1], payload: { sole: true }, wait: true });
  assert.deepEqual(await payload(1), { sole: true });
  await client.setPayload(name, {
    filter: { must: [{ key: 'a', match: { value: 9 } }] },
    payload: { hit: 1 },
    wait: true,
  });
  assert.deepEqual(await payload(2), { a: 9, hit: 1 });
  await client.deletePayload(name, { points: [2], keys: ['a'], wait: true });
  assert.deepEqual(await payload(2), { hit: 1 });
  await client.clearPayload(name, { points: [2], wait: true });
  assert.deepEqual(await payload(2), {});
});

test('update_vectors keeps the other named vectors', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, named);
  await client.upsert(name, {
    wait: true,
    points: [{ id: 1, vector: { a: [1, 2], b: [1, 2, 3] }, payload: { k: 1 } }],
  });
  const res = await client.updateVectors(name, { wait: true, points: [{ id: 1, vector: { b: [4, 5, 6] } }] });
  assert.equal(res.status, 'completed');
  const [p] = await client.retrieve(name, { ids: [1], with_payload: true, with_vector: true });
  assert.deepEqual(p?.vector, { a: [1, 2], b: [4, 5, 6] });
  assert.deepEqual(p?.payload, { k: 1 });
});

test('set_payload / update_vectors on a missing id: 404 "Not found: No point with id N found"', async (t) => {
  const name = await collection(t, named);
  await ok('PUT', `/collections/${name}/points?wait=true`, { points: [{ id: 1, vector: { a: [1, 2] } }] });
  const missing = 'Not found: No point with id 4242 found';
  assertError(
    await raw('POST', `/collections/${name}/points/payload?wait=true`, { payload: { x: 1 }, points: [4242] }),
    404,
    missing,
  );
  assertError(
    await raw('PUT', `/collections/${name}/points/payload?wait=true`, { payload: { x: 1 }, points: [4242] }),
    404,
    missing,
  );
  assertError(
    await raw('PUT', `/collections/${name}/points/vectors?wait=true`, {
      points: [{ id: 4242, vector: { a: [1, 1] } }],
    }),
    404,
    missing,
  );
  await assert.rejects(
    qdrantClient().setPayload(name, { points: [4242], payload: { x: 1 }, wait: true }),
    (err: { status?: number }) => err.status === 404,
  );
});

test('deleting missing ids is a no-op; delete by ids and by filter', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  await client.upsert(name, {
    wait: true,
    points: [1, 2, 3, 4].map((id) => ({ id, vector: [id, 1], payload: { even: id % 2 === 0 } })),
  });
  const none = await client.delete(name, {
    points: [100, 'c5b5c8b0-1d1e-4a4c-9b8e-2f4f6d5a1b2c'],
    wait: true,
  });
  assert.equal(none.status, 'completed');
  assert.equal((await client.count(name)).count, 4);
  await client.delete(name, { points: [1], wait: true });
  await client.delete(name, { filter: { must: [{ key: 'even', match: { value: true } }] }, wait: true });
  assert.deepEqual(
    (await scrollAll(name)).map((p) => p.id),
    [3],
  );
});

test('wrong vector dimension: 400 "Wrong input: Vector dimension error: expected dim: N, got M"', async (t) => {
  const unnamed = await collection(t, single(4));
  const prefix = 'Wrong input: Vector dimension error: expected dim: 4, got 3';
  assertError(
    await raw('PUT', `/collections/${unnamed}/points?wait=true`, { points: [{ id: 1, vector: [1, 2, 3] }] }),
    400,
    prefix,
  );
  assertError(
    await raw('PUT', `/collections/${unnamed}/points?wait=true`, {
      batch: { ids: [1], vectors: [[1, 2, 3]] },
    }),
    400,
    prefix,
  );
  const withNames = await collection(t, named);
  assertError(
    await raw('PUT', `/collections/${withNames}/points?wait=true`, {
      points: [{ id: 1, vector: { b: [1, 2] } }],
    }),
    400,
    'Wrong input: Vector dimension error: expected dim: 3, got 2',
  );
  await ok('PUT', `/collections/${withNames}/points?wait=true`, {
    points: [{ id: 1, vector: { a: [1, 2] } }],
  });
  assertError(
    await raw('PUT', `/collections/${withNames}/points/vectors?wait=true`, {
      points: [{ id: 1, vector: { a: [1] } }],
    }),
    400,
    'Wrong input: Vector dimension error: expected dim: 2, got 1',
  );
  assert.equal((await qdrantClient().count(unnamed)).count, 0);
});
