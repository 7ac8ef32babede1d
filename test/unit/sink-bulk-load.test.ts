// The bulk load's pieces that need no server (src/sink/qdrant/bulk-load.ts): the deferred HNSW
// config, the mark a collection carries, and the request that restores its index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BULK_LOAD_KEY,
  bulkLoadMark,
  deferredHnsw,
  markOf,
  restoreRequest,
  type CollectionInfoPart,
} from '../../src/sink/qdrant/bulk-load.js';
import { supportsMetadata } from '../../src/sink/qdrant/output.js';

const info = (metadata?: Record<string, unknown> | null): CollectionInfoPart => ({
  config: { hnsw_config: { m: 16, ef_construct: 100 }, metadata },
});

test('while loading, a vector has m 0 and keeps the ef_construct it will be built with', () => {
  assert.deepEqual(deferredHnsw({ m: 24, ef_construct: 80 }), { m: 0, ef_construct: 80 });
  assert.deepEqual(deferredHnsw(undefined), { m: 0 });
});

test('the mark names each dense vector; null: the collection’s own hnsw_config', () => {
  const mark = bulkLoadMark([
    { key: 'embedding', hnsw: { m: 24, ef_construct: 80 } },
    { key: 'image', hnsw: undefined },
  ]);
  assert.deepEqual(mark, { restore: { embedding: { m: 24, ef_construct: 80 }, image: null } });
  assert.deepEqual(bulkLoadMark([{ key: '', hnsw: undefined }]), { restore: { '': null } });
});

test('a collection is marked only by an object with `restore` under vecrelay_bulk_load', () => {
  const mark = { restore: { '': null } };
  assert.deepEqual(markOf(info({ [BULK_LOAD_KEY]: mark, other: 1 })), mark);
  assert.equal(markOf(info()), undefined);
  assert.equal(markOf(info(null)), undefined);
  assert.equal(markOf(info({ other: 1 })), undefined);
  assert.equal(markOf(info({ [BULK_LOAD_KEY]: true })), undefined, 'not ours: left alone');
  assert.equal(markOf(info({ [BULK_LOAD_KEY]: { restore: 'x' } })), undefined);
});

test('the restore sets every vector’s m and ef_construct and removes the mark, in one request', () => {
  const mark = bulkLoadMark([
    { key: 'embedding', hnsw: { m: 24, ef_construct: 80 } },
    { key: 'image', hnsw: undefined },
  ]);
  assert.deepEqual(restoreRequest(info({ [BULK_LOAD_KEY]: mark }), mark), {
    vectors: {
      embedding: { hnsw_config: { m: 24, ef_construct: 80 } },
      image: { hnsw_config: { m: 16, ef_construct: 100 } },
    },
    metadata: { [BULK_LOAD_KEY]: null },
  });
});

test('bulk loads need collection metadata: Qdrant 1.16 on', () => {
  assert.equal(supportsMetadata('1.15.9'), false);
  assert.equal(supportsMetadata('1.16.0'), true);
  assert.equal(supportsMetadata('1.19.0'), true);
});
