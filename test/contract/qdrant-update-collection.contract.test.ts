// Contract: PATCH /collections/{name} (Qdrant's UpdateCollection), as the sink's bulk load uses it
// (src/sink/qdrant/bulk-load.ts): a collection created with HNSW construction deferred (m: 0 on
// a vector, or on the collection) and a mark in its metadata gets its index back and loses the
// mark in one request; GET /collections/{name} shows the settings as they are now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../helpers/stack.js';
import { assertError, collection, ok, qdrantClient, raw } from './qdrant-helpers.js';

interface Hnsw {
  m: number;
  ef_construct: number;
}

interface Info {
  config: {
    params: { vectors: Record<string, unknown> };
    hnsw_config: Hnsw;
    optimizer_config: { indexing_threshold: number | null };
    metadata?: Record<string, unknown>;
  };
}

const info = (name: string) => ok<Info>('GET', `/collections/${name}`);

test('the unnamed vector\'s hnsw_config ("") is merged, a metadata key set to null removed, the rest kept; the answer is true', async (t) => {
  const name = await collection(t, {
    vectors: { size: 4, distance: 'Cosine', hnsw_config: { m: 0, ef_construct: 64 } },
    metadata: { vecrelay_bulk_load: { restore: { '': { m: 24, ef_construct: 64 } } }, owner: 'x' },
  });
  const before = await info(name);
  assert.equal((before.config.params.vectors.hnsw_config as Hnsw).m, 0);
  assert.deepEqual(before.config.metadata, {
    vecrelay_bulk_load: { restore: { '': { m: 24, ef_construct: 64 } } },
    owner: 'x',
  });

  const res = await raw<boolean>('PATCH', `/collections/${name}`, {
    vectors: { '': { hnsw_config: { m: 24 } } },
    metadata: { vecrelay_bulk_load: null },
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.result, true);
  assert.equal(res.body.status, 'ok');

  const after = await info(name);
  const vector = after.config.params.vectors as { size: number; distance: string; hnsw_config: Hnsw };
  assert.equal(vector.hnsw_config.m, 24, 'm as patched');
  assert.equal(vector.hnsw_config.ef_construct, 64, 'ef_construct kept: a diff');
  assert.equal(vector.size, 4);
  assert.equal(vector.distance, 'Cosine');
  assert.deepEqual(after.config.metadata, { owner: 'x' }, 'the key set to null is gone, the other kept');
  assert.deepEqual(after.config.hnsw_config, before.config.hnsw_config, "the collection's own is untouched");
});

test("the collection's hnsw_config is merged (m: 0 → 16, ef_construct kept); through the JS client too", async (t) => {
  const name = await collection(t, {
    vectors: { size: 4, distance: 'Dot' },
    hnsw_config: { m: 0, ef_construct: 80 },
  });
  assert.equal((await info(name)).config.hnsw_config.m, 0);
  assert.equal(await qdrantClient().updateCollection(name, { hnsw_config: { m: 16 } }), true);
  const { hnsw_config } = (await info(name)).config;
  assert.equal(hnsw_config.m, 16);
  assert.equal(hnsw_config.ef_construct, 80);
});

test('named vectors: only the vector named changes', async (t) => {
  const name = await collection(t, {
    vectors: {
      text: { size: 3, distance: 'Dot', hnsw_config: { m: 0 } },
      image: { size: 2, distance: 'Euclid', hnsw_config: { m: 0, ef_construct: 50 } },
    },
  });
  await ok('PATCH', `/collections/${name}`, {
    vectors: { text: { hnsw_config: { m: 12, ef_construct: 40 } } },
  });
  const vectors = (await info(name)).config.params.vectors as Record<string, { hnsw_config: Hnsw }>;
  assert.deepEqual(vectors.text?.hnsw_config, { m: 12, ef_construct: 40 });
  assert.deepEqual(vectors.image?.hnsw_config, { m: 0, ef_construct: 50 });
});

test('metadata on a collection created without any is taken as given', async (t) => {
  const name = await collection(t, { vectors: { size: 2, distance: 'Cosine' } });
  await ok('PATCH', `/collections/${name}`, { metadata: { a: 1, b: { c: 'd' } } });
  assert.deepEqual((await info(name)).config.metadata, { a: 1, b: { c: 'd' } });
});

test('a vector name the collection lacks: 400 "Wrong input:" naming it, and nothing changes', async (t) => {
  const name = await collection(t, {
    vectors: { text: { size: 3, distance: 'Dot', hnsw_config: { m: 0 } } },
  });
  for (const missing of ['image', '']) {
    const res = await raw('PATCH', `/collections/${name}`, {
      vectors: { [missing]: { hnsw_config: { m: 16 } } },
    });
    const message = assertError(res, 400, 'Wrong input:');
    assert.match(message, /Not existing vector name/);
  }
  const vectors = (await info(name)).config.params.vectors as Record<string, { hnsw_config: Hnsw }>;
  assert.equal(vectors.text?.hnsw_config.m, 0);
});

test('ef_construct below 4 is refused as invalid input', async (t) => {
  const name = await collection(t, { vectors: { size: 2, distance: 'Cosine' } });
  const res = await raw('PATCH', `/collections/${name}`, { hnsw_config: { ef_construct: 2 } });
  assertError(res, [400, 422], ['Validation error in JSON body:', 'Bad request:', 'Wrong input:']);
  assert.notEqual((await info(name)).config.hnsw_config.ef_construct, 2);
});

test('unknown collection: 404', async () => {
  const name = uniqueName('contract_missing');
  assertError(
    await raw('PATCH', `/collections/${name}`, { hnsw_config: { m: 16 } }),
    404,
    `Not found: Collection \`${name}\` doesn't exist!`,
  );
});
