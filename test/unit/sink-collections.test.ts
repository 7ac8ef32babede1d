// The sink's check of a collection that exists already (src/sink/qdrant/collections.ts): each
// mismatch named in plan's words, the named/unnamed layout mix-up included (it used to read "has
// its vector as size undefined, undefined").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import { createLogger } from '../../src/shared/log.js';
import {
  denseSpecs,
  existingCollectionProblem,
  type ExistingParams,
} from '../../src/sink/qdrant/collections.js';

const log = createLogger({ level: 'silent' });

function descriptor(
  ...vectors: Array<[name: string, kind: 'vector' | 'sparsevec', dimension: number | null]>
) {
  const d: TableDescriptor = {
    schema: 'public',
    table: 'docs',
    topic: 'vr.public.docs',
    key: [{ name: 'id', type: 'int4' }],
    vectors: vectors.map(([name, kind, dimension]) => ({
      name,
      kind,
      dimension,
      distance: 'Cosine',
      hnsw: null,
    })),
    payload: [],
  };
  return d;
}

function problem(d: TableDescriptor, params: ExistingParams) {
  const p = existingCollectionProblem('docs', d, denseSpecs(d, undefined, log), params);
  return p && `${p.message}: ${p.fix}`;
}

test('one vector column against a collection with named vectors: says so, no "undefined"', () => {
  const message = problem(descriptor(['embedding', 'vector', 3]), {
    vectors: { embedding: { size: 3, distance: 'Cosine' } },
  });
  assert.equal(
    message,
    'Qdrant collection docs has named vectors (embedding) instead of one unnamed vector, but ' +
      'public.docs.embedding needs one unnamed vector of size 3, Cosine: drop or rename the collection, ' +
      'or set tables[].collection (another collection) / tables[].distance',
  );
});

test('several vector columns against a collection with one unnamed vector', () => {
  const message = problem(descriptor(['a', 'vector', 3], ['b', 'vector', 5]), {
    vectors: { size: 3, distance: 'Cosine' },
  });
  assert.match(
    message!,
    /^Qdrant collection docs has one unnamed vector \(size 3, Cosine\) instead of named vectors, but public\.docs\.a needs vector "a" of size 3, Cosine: drop or rename/,
  );
  assert.doesNotMatch(message!, /undefined/);
});

test('a named vector missing or of another size or distance is named with both sides', () => {
  const d = descriptor(['a', 'vector', 3], ['b', 'vector', 5]);
  assert.match(
    problem(d, { vectors: { a: { size: 3, distance: 'Cosine' } } })!,
    /has vector "b" as missing, but public\.docs\.b needs vector "b" of size 5, Cosine/,
  );
  assert.match(
    problem(d, { vectors: { a: { size: 3, distance: 'Dot' }, b: { size: 5, distance: 'Cosine' } } })!,
    /has vector "a" as size 3, Dot, but public\.docs\.a needs vector "a" of size 3, Cosine/,
  );
  assert.match(
    problem(descriptor(['embedding', 'vector', 3]), { vectors: { size: 4, distance: 'Cosine' } })!,
    /has its vector as size 4, Cosine, but public\.docs\.embedding needs one unnamed vector of size 3, Cosine/,
  );
});

test('a missing sparse vector is named; a collection that fits has no problem', () => {
  const d = descriptor(['dense', 'vector', 3], ['terms', 'sparsevec', null]);
  assert.match(
    problem(d, { vectors: { dense: { size: 3, distance: 'Cosine' } }, sparse_vectors: {} })!,
    /has no sparse vector terms, which public\.docs needs/,
  );
  assert.equal(
    problem(d, { vectors: { dense: { size: 3, distance: 'Cosine' } }, sparse_vectors: { terms: {} } }),
    undefined,
  );
  assert.equal(
    problem(descriptor(['embedding', 'vector', 3]), { vectors: { size: 3, distance: 'Cosine' } }),
    undefined,
  );
});
