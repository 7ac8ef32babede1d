// Contract: what `vecrelay verify` relies on (src/ops/verify/). Must hold for the test server and a
// real Qdrant (QDRANT_URL):
//   - a Cosine vector reads back as exactly fround(x / L) per element, for one float32 L within a
//     few units in the last place of the norm (Qdrant's cosine_preprocess, SIMD sum or not) — or
//     unchanged when Σx² is within 1e-6 of 1;
//   - a query without `params.exact` (the HNSW path) on a collection below the indexing threshold
//     answers the same points as the exact one;
//   - `/points/query/batch` answers each of its `searches` as `/points/query` answers it alone, in
//     the order asked (named vectors, exact or not, payload keys as a list); one bad request fails
//     the whole batch;
//   - scroll and retrieve with `with_payload` as a list return only those payload keys ({} when
//     the point has none of them), and a point whose unnamed vector was deleted reads back with no
//     vector under with_vector: true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineStored } from '../../src/ops/verify/compare.js';
import { assertError, collection, ok, raw, single, type PointIdJson } from './qdrant-helpers.js';

/** A deterministic pseudo-random float32 vector (no Math.random: reproducible failures). */
function vector(seed: number, dim: number): number[] {
  let s = seed * 2654435761;
  return Array.from({ length: dim }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.fround((s / 2 ** 32) * 4 - 2);
  });
}

interface Point {
  id: PointIdJson;
  payload?: Record<string, unknown>;
  vector?: unknown;
}

test('Cosine vectors read back as the source divided by one float32 norm, element for element', async (t) => {
  for (const dim of [8, 31, 1536]) {
    const name = await collection(t, single(dim, 'Cosine'));
    const sources = Array.from({ length: 20 }, (_, i) => vector(dim * 100 + i, dim));
    // Already of length 1 (within 1e-6): kept as it is.
    const unit = vector(7, dim).map((x, _, v) => Math.fround(x / Math.hypot(...v)));
    sources.push(unit);
    await ok('PUT', `/collections/${name}/points?wait=true`, {
      points: sources.map((v, i) => ({ id: i + 1, vector: v })),
    });
    const got = await ok<Point[]>('POST', `/collections/${name}/points`, {
      ids: sources.map((_, i) => i + 1),
      with_vector: true,
      with_payload: false,
    });
    assert.equal(got.length, sources.length);
    for (const p of got) {
      const source = Float32Array.from(sources[Number(p.id) - 1]!);
      assert.ok(cosineStored(source, p.vector as number[]), `dim ${dim}, point ${p.id}`);
      // One element off by one unit in the last place is a different vector.
      const other = Float32Array.from(source);
      other[3] = Math.fround(other[3]! * (1 + 2 ** -22));
      assert.ok(!cosineStored(other, p.vector as number[]), `dim ${dim}, point ${p.id}: a changed element`);
    }
  }
});

test('a query without params.exact answers as the exact one on a small collection', async (t) => {
  const dim = 16;
  const name = await collection(t, single(dim, 'Euclid'));
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    points: Array.from({ length: 200 }, (_, i) => ({ id: i + 1, vector: vector(i, dim) })),
  });
  for (const seed of [1000, 1001, 1002]) {
    const q = vector(seed, dim);
    const ask = (params: object) =>
      ok<{ points: Point[] }>('POST', `/collections/${name}/points/query`, {
        query: q,
        limit: 10,
        with_payload: false,
        ...params,
      });
    const exact = await ask({ params: { exact: true } });
    const plain = await ask({});
    assert.equal(exact.points.length, 10);
    assert.deepEqual(
      plain.points.map((p) => p.id),
      exact.points.map((p) => p.id),
    );
  }
});

test('payload keys as a list on scroll and retrieve; a deleted unnamed vector reads back absent', async (t) => {
  const name = await collection(t, single(2, 'Dot'));
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    points: [
      { id: 1, vector: [1, 2], payload: { _vecrelay_key: '["a"]', title: 'x', _vecrelay_lsn: 5 } },
      { id: 2, vector: [3, 4], payload: { title: 'y' } },
    ],
  });
  const page = await ok<{ points: Point[]; next_page_offset: unknown }>(
    'POST',
    `/collections/${name}/points/scroll`,
    {
      limit: 10,
      with_payload: ['_vecrelay_key'],
      with_vector: false,
    },
  );
  assert.deepEqual(
    page.points.map((p) => [p.id, p.payload]),
    [
      [1, { _vecrelay_key: '["a"]' }],
      [2, {}],
    ],
  );
  assert.equal(page.next_page_offset, null);
  await ok('POST', `/collections/${name}/points/vectors/delete?wait=true`, { points: [2], vector: [''] });
  const [p] = await ok<Point[]>('POST', `/collections/${name}/points`, {
    ids: [2],
    with_vector: true,
    with_payload: ['_vecrelay_lsn'],
  });
  assert.deepEqual(p!.payload, {});
  const v = p!.vector;
  assert.ok(
    v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v) && !('' in v)),
    JSON.stringify(v),
  );
});

test('a batch of queries answers each as the query alone, in order; one bad query fails it', async (t) => {
  const dim = 12;
  const name = await collection(t, {
    vectors: { a: { size: dim, distance: 'Cosine' }, b: { size: dim, distance: 'Dot' } },
  });
  await ok('PUT', `/collections/${name}/points?wait=true`, {
    points: Array.from({ length: 120 }, (_, i) => ({
      id: i + 1,
      vector: { a: vector(i, dim), b: vector(500 + i, dim) },
      payload: { _vecrelay_lsn: 1000 + i, title: `t${i}` },
    })),
  });
  const searches = [1000, 1001, 1002].flatMap((seed, i) => [
    {
      query: vector(seed, dim),
      using: 'a',
      limit: 5,
      with_payload: ['_vecrelay_lsn'],
      params: { exact: true },
    },
    {
      query: vector(seed, dim),
      using: i % 2 ? 'a' : 'b',
      limit: 3 + i,
      with_payload: [],
      with_vector: false,
    },
  ]);
  const batch = await ok<Array<{ points: Point[] }>>('POST', `/collections/${name}/points/query/batch`, {
    searches,
  });
  assert.equal(batch.length, searches.length);
  for (const [i, search] of searches.entries()) {
    const alone = await ok<{ points: Point[] }>('POST', `/collections/${name}/points/query`, search);
    assert.equal(batch[i]!.points.length, search.limit, `search ${i}`);
    assert.deepEqual(
      batch[i]!.points.map((p) => [p.id, p.payload]),
      alone.points.map((p) => [p.id, p.payload]),
      `search ${i}`,
    );
  }
  // A query of the wrong dimension: the batch is refused as that query alone would be.
  const bad = await raw('POST', `/collections/${name}/points/query/batch`, {
    searches: [searches[0], { query: vector(1, dim + 1), using: 'a', limit: 3 }],
  });
  assertError(bad, 400, 'Wrong input: Vector dimension error');
  assertError(
    await raw('POST', `/collections/${name}/points/query/batch`, {}),
    [400, 422],
    ['Format error in JSON body', 'Json deserialize error'],
  );
});
