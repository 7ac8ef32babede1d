// Contract: envelope, service root, collections and their error statuses (docs/qdrant.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../helpers/stack.js';
import {
  assertError,
  collection,
  dropCollection,
  env,
  ok,
  qdrantClient,
  raw,
  single,
} from './qdrant-helpers.js';

test('GET / answers title and version without the envelope', async () => {
  const res = await fetch(`${env.qdrantUrl}/`, {
    headers: env.qdrantApiKey ? { 'api-key': env.qdrantApiKey } : {},
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.title, 'qdrant - vector search engine');
  assert.match(String(body.version), /^\d+\.\d+\.\d+/);
  assert.ok(!('result' in body) && !('status' in body));
  const info = await qdrantClient().versionInfo();
  assert.equal(info.version, body.version);
});

test('success envelope: result, status "ok", time in seconds', async (t) => {
  const name = uniqueName('contract');
  t.after(() => dropCollection(name));
  const res = await raw<boolean>('PUT', `/collections/${name}`, single(4));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.result, true);
  assert.equal(res.body.status, 'ok');
  assert.equal(typeof res.body.time, 'number');
  assert.ok(res.body.time >= 0 && res.body.time < 60);
});

test('unknown collection: 404 "Not found: Collection `NAME` doesn\'t exist!"', async () => {
  const name = uniqueName('contract_missing');
  for (const [method, path, body] of [
    ['GET', `/collections/${name}`, undefined],
    ['PUT', `/collections/${name}/points?wait=true`, { points: [{ id: 1, vector: [1, 2, 3, 4] }] }],
    ['POST', `/collections/${name}/points/scroll`, { limit: 1 }],
    ['POST', `/collections/${name}/points/query`, { query: [1, 2, 3, 4], limit: 1 }],
  ] as const) {
    assertError(await raw(method, path, body), 404, `Not found: Collection \`${name}\` doesn't exist!`);
  }
  await assert.rejects(qdrantClient().getCollection(name), (err: { status?: number }) => err.status === 404);
});

test('creating an existing collection: 409 "Wrong input: Collection `NAME` already exists!"', async (t) => {
  const name = await collection(t, single(4));
  const res = await raw('PUT', `/collections/${name}`, single(4));
  assertError(res, 409, `Wrong input: Collection \`${name}\` already exists!`);
});

test('exists, list and delete', async (t) => {
  const client = qdrantClient();
  const name = uniqueName('contract');
  t.after(() => dropCollection(name));
  assert.deepEqual(await client.collectionExists(name), { exists: false });
  assert.equal(await client.createCollection(name, { vectors: { size: 3, distance: 'Dot' } }), true);
  assert.deepEqual(await client.collectionExists(name), { exists: true });
  assert.deepEqual(await ok('GET', `/collections/${name}/exists`), { exists: true });
  const { collections } = await client.getCollections();
  assert.ok(collections.some((c) => c.name === name));
  assert.equal(await client.deleteCollection(name), true);
  assert.deepEqual(await client.collectionExists(name), { exists: false });
});

test('collection info echoes the vector config and counts points', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, {
    vectors: { size: 4, distance: 'Cosine', on_disk: false },
    hnsw_config: { m: 8, ef_construct: 64 },
    optimizers_config: { indexing_threshold: 20000 },
  });
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 1, vector: [1, 0, 0, 0] },
      { id: 2, vector: [0, 1, 0, 0] },
    ],
  });
  const info = await client.getCollection(name);
  assert.equal(info.status, 'green');
  assert.equal(info.points_count, 2);
  assert.equal(typeof info.indexed_vectors_count, 'number');
  const vectors = info.config.params.vectors as { size: number; distance: string };
  assert.equal(vectors.size, 4);
  assert.equal(vectors.distance, 'Cosine');
  assert.equal(info.config.hnsw_config.m, 8);
  assert.equal(info.config.hnsw_config.ef_construct, 64);
  assert.deepEqual(info.payload_schema, {});
});

test('named vectors and sparse vectors in the collection config', async (t) => {
  const name = await collection(t, {
    vectors: { text: { size: 3, distance: 'Dot' }, image: { size: 2, distance: 'Euclid' } },
    sparse_vectors: { keywords: {} },
  });
  const info = await qdrantClient().getCollection(name);
  const vectors = info.config.params.vectors as Record<string, { size: number; distance: string }>;
  assert.equal(vectors.text?.size, 3);
  assert.equal(vectors.text?.distance, 'Dot');
  assert.equal(vectors.image?.size, 2);
  assert.equal(vectors.image?.distance, 'Euclid');
  assert.ok(info.config.params.sparse_vectors && 'keywords' in info.config.params.sparse_vectors);
});

test('a payload index shows in payload_schema', async (t) => {
  const client = qdrantClient();
  const name = await collection(t, single(2));
  const res = await client.createPayloadIndex(name, {
    field_name: 'tenant',
    field_schema: 'keyword',
    wait: true,
  });
  assert.equal(res.status, 'completed');
  const info = await client.getCollection(name);
  assert.equal(info.payload_schema.tenant?.data_type, 'keyword');
});

test('vector size 0 or above 65536 is rejected as invalid input', async (t) => {
  for (const size of [0, 65537]) {
    const name = uniqueName('contract');
    t.after(() => dropCollection(name));
    const res = await raw('PUT', `/collections/${name}`, single(size));
    assertError(
      res,
      [400, 422],
      ['Validation error in JSON body:', 'Bad request:', 'Format error in JSON body:', 'Wrong input:'],
    );
    assert.deepEqual(await ok('GET', `/collections/${name}/exists`), { exists: false });
  }
});

test('malformed JSON: 400 "Format error in JSON body:"', async (t) => {
  const name = await collection(t, single(2));
  assertError(
    await raw('PUT', `/collections/${name}/points`, '{"points": [{"id": 1,'),
    400,
    'Format error in JSON body:',
  );
  assertError(
    await raw('POST', `/collections/${name}/points/scroll`, '{limit: 1}'),
    400,
    'Format error in JSON body:',
  );
});

test('a request above the 32 MB limit is refused with an error envelope', async (t) => {
  const name = await collection(t, single(2));
  const blob = 'x'.repeat(33 * 1024 * 1024);
  const body = `{"points":[{"id":1,"vector":[1,2],"payload":{"blob":"${blob}"}}]}`;
  const res = await raw('PUT', `/collections/${name}/points?wait=true`, body);
  assert.ok([400, 413].includes(res.status), `status ${res.status}`);
  const status = res.body.status;
  assert.ok(typeof status === 'object' && /payload/i.test(status.error), res.text.slice(0, 300));
  assert.equal((await qdrantClient().count(name)).count, 0);
});
