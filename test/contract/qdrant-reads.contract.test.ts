// Contract: retrieve, scroll, count, filters, exact queries, vector storage (docs/qdrant.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertClose,
  assertError,
  collection,
  normalised,
  ok,
  qdrantClient,
  raw,
  scrollAll,
  single,
  type PointIdJson,
} from './qdrant-helpers.js';

const U1 = '00000000-0000-4000-8000-000000000001';
const U2 = 'ffffffff-0000-4000-8000-000000000000';

interface Scored {
  id: PointIdJson;
  score: number;
  version: number;
}

test('retrieve answers in request order and skips missing ids', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  await client.upsert(name, {
    wait: true,
    points: [1, 2, 3].map((id) => ({ id, vector: [id, 0], payload: { id } })),
  });
  const got = await client.retrieve(name, { ids: [3, 99, 1], with_payload: true, with_vector: false });
  assert.deepEqual(
    got.map((p) => [p.id, p.payload]),
    [
      [3, { id: 3 }],
      [1, { id: 1 }],
    ],
  );
  const bare = await ok<Array<Record<string, unknown>>>('POST', `/collections/${name}/points`, {
    ids: [2],
    with_payload: false,
    with_vector: false,
  });
  assert.deepEqual(bare, [{ id: 2 }]);
});

test('GET a point: payload and vector; 404 when missing', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    points: [{ id: 1, vector: [1, 2], payload: { k: 'v' } }],
  });
  const p = await ok<{ id: number; payload: unknown; vector: number[] }>(
    'GET',
    `/collections/${name}/points/1`,
  );
  assert.deepEqual([p.id, p.payload, p.vector], [1, { k: 'v' }, [1, 2]]);
  assertError(await raw('GET', `/collections/${name}/points/2`), 404, 'Not found:');
});

test('scroll: numeric ids first (ascending), then UUIDs; paging with next_page_offset', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  const ids: PointIdJson[] = [U2, 10, 2, U1, 300, 33];
  await client.upsert(name, { wait: true, points: ids.map((id) => ({ id, vector: [1, 1] })) });
  const expected = [2, 10, 33, 300, U1, U2];
  assert.deepEqual(
    (await scrollAll(name)).map((p) => p.id),
    expected,
  );
  const seen: PointIdJson[] = [];
  let offset: PointIdJson | null | undefined;
  let pages = 0;
  do {
    const page: { points: Array<{ id: PointIdJson }>; next_page_offset?: PointIdJson | null } = await ok(
      'POST',
      `/collections/${name}/points/scroll`,
      { limit: 4, offset, with_payload: false },
    );
    seen.push(...page.points.map((p) => p.id));
    offset = page.next_page_offset;
    pages++;
  } while (offset !== null && offset !== undefined && pages < 10);
  assert.equal(pages, 2);
  assert.deepEqual(seen, expected);
  const viaClient = await client.scroll(name, { limit: 2, offset: 33 });
  assert.deepEqual(
    viaClient.points.map((p) => p.id),
    [33, 300],
  );
  assert.equal(viaClient.next_page_offset, U1);
});

test('scroll limit 0 is a validation error', async (t) => {
  const name = await collection(t, single(2));
  assertError(
    await raw('POST', `/collections/${name}/points/scroll`, { limit: 0 }),
    [400, 422],
    ['Validation error in JSON body:', 'Bad request:'],
  );
});

test('count, with and without a filter', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  await client.upsert(name, {
    wait: true,
    points: [1, 2, 3, 4, 5].map((id) => ({ id, vector: [1, 1], payload: { n: id } })),
  });
  assert.deepEqual(await client.count(name, { exact: true }), { count: 5 });
  const res = await ok('POST', `/collections/${name}/points/count`, {
    exact: true,
    filter: { must: [{ key: 'n', range: { gt: 2 } }] },
  });
  assert.deepEqual(res, { count: 3 });
});

test('filters: match value / any, range, must_not, should, has_id, is_empty, is_null, nesting', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2, 'Dot'));
  const payloads: Array<[PointIdJson, Record<string, unknown>]> = [
    [1, { tenant: 'a', n: 1, tags: ['x', 'y'], flag: true, gone: null }],
    [2, { tenant: 'b', n: 2.5, tags: [], flag: false }],
    [3, { tenant: 'a', n: 3, tags: ['y'] }],
    [U1, { tenant: 'c', n: 4, tags: null, flag: true }],
  ];
  await client.upsert(name, {
    wait: true,
    points: payloads.map(([id, payload]) => ({ id, vector: [1, 1], payload })),
  });
  const ids = async (filter: Record<string, unknown>) =>
    (await scrollAll(name, { filter, with_payload: false })).map((p) => p.id);
  assert.deepEqual(await ids({ must: [{ key: 'tenant', match: { value: 'a' } }] }), [1, 3]);
  assert.deepEqual(await ids({ must: [{ key: 'tags', match: { value: 'y' } }] }), [1, 3]);
  assert.deepEqual(await ids({ must: [{ key: 'tenant', match: { any: ['b', 'c'] } }] }), [2, U1]);
  assert.deepEqual(await ids({ must: [{ key: 'n', match: { any: [1, 3] } }] }), [1, 3]);
  assert.deepEqual(await ids({ must: [{ key: 'flag', match: { value: true } }] }), [1, U1]);
  assert.deepEqual(await ids({ must: [{ key: 'n', range: { gte: 2, lt: 4 } }] }), [2, 3]);
  assert.deepEqual(await ids({ must_not: [{ key: 'tenant', match: { value: 'a' } }] }), [2, U1]);
  assert.deepEqual(await ids({ should: [{ key: 'tenant', match: { value: 'b' } }, { has_id: [3, U1] }] }), [
    2,
    3,
    U1,
  ]);
  assert.deepEqual(await ids({ must: [{ is_empty: { key: 'tags' } }] }), [2, U1]);
  assert.deepEqual(await ids({ must: [{ is_null: { key: 'gone' } }] }), [1]);
  assert.deepEqual(
    await ids({
      must: [
        {
          should: [
            { key: 'tenant', match: { value: 'a' } },
            { key: 'tenant', match: { value: 'c' } },
          ],
        },
      ],
      must_not: [{ must: [{ key: 'n', range: { gt: 3.5 } }] }],
    }),
    [1, 3],
  );
});

const QUERY = [0.6, 0.8, 0];
const VECTORS: Array<[number, number[]]> = [
  [1, [1, 0, 0]],
  [2, [0, 1, 0]],
  [3, [0.5, 0.5, 0.5]],
  [4, [2, 2, 0]],
  [5, [-1, 0, 1]],
];

function expectedScores(distance: string): Array<[number, number]> {
  const q = distance === 'Cosine' ? normalised(QUERY) : QUERY;
  const scored = VECTORS.map(([id, raw]): [number, number] => {
    const v = distance === 'Cosine' ? normalised(raw) : raw;
    const diff = v.map((x, i) => x - q[i]!);
    if (distance === 'Euclid') return [id, Math.sqrt(diff.reduce((s, d) => s + d * d, 0))];
    if (distance === 'Manhattan') return [id, diff.reduce((s, d) => s + Math.abs(d), 0)];
    return [id, v.reduce((s, x, i) => s + x * q[i]!, 0)];
  });
  const ascending = distance === 'Euclid' || distance === 'Manhattan';
  return scored.sort((a, b) => (ascending ? a[1] - b[1] : b[1] - a[1]));
}

for (const distance of ['Cosine', 'Dot', 'Euclid', 'Manhattan']) {
  test(`exact query ordering and scores: ${distance}`, async (t) => {
    const client = qdrantClient();
    const name = await collection(t, single(3, distance));
    await client.upsert(name, {
      wait: true,
      points: VECTORS.map(([id, vector]) => ({ id, vector, payload: { id } })),
    });
    const want = expectedScores(distance);
    const res = await client.query(name, {
      query: QUERY,
      params: { exact: true },
      limit: 10,
      with_payload: true,
    });
    assert.deepEqual(
      res.points.map((p) => p.id),
      want.map(([id]) => id),
    );
    res.points.forEach((p, i) => {
      assert.ok(
        Math.abs(p.score - want[i]![1]) < 1e-5,
        `${distance} score of ${p.id}: ${p.score} vs ${want[i]![1]}`,
      );
      assert.deepEqual(p.payload, { id: p.id });
    });
    const top2 = await ok<{ points: Scored[] }>('POST', `/collections/${name}/points/query`, {
      query: { nearest: QUERY },
      params: { exact: true },
      limit: 2,
      with_payload: false,
    });
    assert.deepEqual(
      top2.points.map((p) => p.id),
      want.slice(0, 2).map(([id]) => id),
    );
    assert.equal(typeof top2.points[0]!.version, 'number');
    assert.ok(!('payload' in top2.points[0]!));
  });
}

test('query with a filter and a named vector (`using`)', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, { vectors: { text: { size: 2, distance: 'Dot' } } });
  await client.upsert(name, {
    wait: true,
    points: [1, 2, 3].map((id) => ({ id, vector: { text: [id, 0] }, payload: { keep: id !== 3 } })),
  });
  const res = await client.query(name, {
    query: [1, 0],
    using: 'text',
    filter: { must: [{ key: 'keep', match: { value: true } }] },
    params: { exact: true },
    limit: 5,
  });
  assert.deepEqual(
    res.points.map((p) => [p.id, p.score]),
    [
      [2, 2],
      [1, 1],
    ],
  );
});

test('Cosine vectors are stored normalised; zero vectors stay zero; other distances unchanged', async (t) => {
  const client = qdrantClient();
  const cosine = await collection(t, single(3, 'Cosine'));
  const raw3 = [3, 4, 12];
  await client.upsert(cosine, {
    wait: true,
    points: [
      { id: 1, vector: raw3 },
      { id: 2, vector: [0, 0, 0] },
    ],
  });
  const got = await client.retrieve(cosine, { ids: [1, 2], with_vector: true, with_payload: false });
  assertClose(got[0]!.vector as number[], normalised(raw3), 1e-6, 'cosine');
  assert.deepEqual(got[1]!.vector, [0, 0, 0]);
  const euclid = await collection(t, single(3, 'Euclid'));
  const values = [0.1, -2.5, 1e-3];
  await client.upsert(euclid, { wait: true, points: [{ id: 1, vector: values }] });
  const [e] = await client.retrieve(euclid, { ids: [1], with_vector: true });
  assert.deepEqual(
    (e!.vector as number[]).map((x) => Math.fround(x)),
    values.map((x) => Math.fround(x)),
  );
});

test('with_vector / with_payload as lists select names and keys', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, {
    vectors: { a: { size: 2, distance: 'Dot' }, b: { size: 2, distance: 'Dot' } },
  });
  await client.upsert(name, {
    wait: true,
    points: [{ id: 1, vector: { a: [1, 2], b: [3, 4] }, payload: { x: 1, y: 2, z: 3 } }],
  });
  const [p] = await client.retrieve(name, { ids: [1], with_vector: ['b'], with_payload: ['x', 'z'] });
  assert.deepEqual(p?.vector, { b: [3, 4] });
  assert.deepEqual(p?.payload, { x: 1, z: 3 });
});

test('sparse vectors: round trip, query, and indices/values of different lengths rejected', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, {
    vectors: { dense: { size: 2, distance: 'Dot' } },
    sparse_vectors: { words: {} },
  });
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 1, vector: { dense: [1, 0], words: { indices: [7, 2], values: [0.5, 0.25] } } },
      { id: 2, vector: { dense: [0, 1], words: { indices: [2, 9], values: [1.5, 1] } } },
      { id: 3, vector: { dense: [1, 1] } },
    ],
  });
  const [p] = await client.retrieve(name, { ids: [1], with_vector: true, with_payload: false });
  const words = (p!.vector as Record<string, { indices: number[]; values: number[] }>).words!;
  const pairs = words.indices.map((ix, i) => [ix, words.values[i]]).sort((a, b) => a[0]! - b[0]!);
  assert.deepEqual(pairs, [
    [2, 0.25],
    [7, 0.5],
  ]);
  assertClose((p!.vector as Record<string, number[]>).dense!, [1, 0], 0, 'dense');
  const res = await client.query(name, {
    query: { indices: [2, 7], values: [1, 1] },
    using: 'words',
    limit: 10,
  });
  // Points without an overlapping sparse vector score nothing; whether they are listed is not pinned.
  assert.deepEqual(
    res.points.filter((x) => x.score !== 0).map((x) => [x.id, x.score]),
    [
      [2, 1.5],
      [1, 0.75],
    ],
  );
  const bad = await raw('PUT', `/collections/${name}/points?wait=true`, {
    points: [{ id: 4, vector: { words: { indices: [1, 2], values: [0.5] } } }],
  });
  assertError(
    bad,
    [400, 422],
    ['Validation error in JSON body:', 'Format error in JSON body:', 'Wrong input:', 'Bad request:'],
  );
  assert.equal((await client.count(name)).count, 3);
});
