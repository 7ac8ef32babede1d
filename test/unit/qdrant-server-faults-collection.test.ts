// The Qdrant test server's collection-scoped fault rules (test/qdrant-server/faults.ts,
// "collection"): the stack's server is shared by the test files running at once, so a rule a test
// scopes to its own collection must never touch a request to another one, on either transport.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../qdrant-server/errors.js';
import { Faults, restCollection } from '../qdrant-server/faults.js';
import { parseJson } from '../qdrant-server/json.js';

const add = (f: Faults, json: string) => f.add(parseJson(json));

test('REST: a collection rule matches only paths to that collection (the name URL-decoded)', () => {
  const f = new Faults();
  add(f, '{"delay_ms": 100, "count": 2, "collection": "mine a"}');
  assert.equal(f.take('/collections/other/points'), undefined, "another test's collection");
  assert.equal(f.take('/collections/mine'), undefined, 'a name that only starts the same');
  assert.equal(f.take('/collections'), undefined, 'no collection in the path');
  assert.equal(f.take('/collections/mine%20a/points')?.delayMs, 100);
  assert.equal(f.take('/collections/mine%20a')?.delayMs, 100, 'the collection itself too');
  assert.deepEqual(f.list(), [], 'spent by the two matching requests only');
});

test('gRPC: a collection rule matches only requests whose collection_name is that collection', () => {
  const f = new Faults();
  add(
    f,
    '{"transport": "grpc", "delay_ms": 300, "count": 5, "paths": "^/qdrant.Points/Upsert$", "collection": "c1"}',
  );
  const upsert = (collection?: string) => f.take('/qdrant.Points/Upsert', 'grpc', undefined, collection);
  assert.equal(upsert('c2'), undefined, 'another collection');
  assert.equal(upsert(), undefined, 'a request naming no collection');
  assert.equal(f.take('/qdrant.Points/Delete', 'grpc', undefined, 'c1'), undefined, 'paths still apply');
  assert.equal(f.take('/collections/c1/points', 'rest'), undefined, 'a REST request never takes a gRPC rule');
  assert.equal(upsert('c1')?.delayMs, 300);
  assert.equal((f.list() as Array<{ remaining: number }>)[0]?.remaining, 4, 'only the match counted');
});

test('collection combines with point_id: both must match', () => {
  const f = new Faults();
  add(f, '{"grpc_code": "INVALID_ARGUMENT", "count": 3, "point_id": 7, "collection": "c1"}');
  const names7 = (id: string) => id === '7';
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc', names7, 'c2'), undefined);
  assert.equal(
    f.take('/qdrant.Points/Upsert', 'grpc', () => false, 'c1'),
    undefined,
  );
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc', names7, 'c1')?.status, 3);
});

test('the rule lists its collection; a non-string or empty one is refused', () => {
  const f = new Faults();
  add(f, '{"status": 503, "collection": "c1"}');
  assert.equal((f.list() as Array<{ collection?: string }>)[0]?.collection, 'c1');
  for (const json of ['{"status": 503, "collection": ""}', '{"status": 503, "collection": 5}']) {
    assert.throws(
      () => add(f, json),
      (err: unknown) => err instanceof ApiError && err.status === 400 && err.message.includes('collection'),
      json,
    );
  }
  assert.equal((f.list() as unknown[]).length, 1);
});

test('restCollection reads the collection from a REST path', () => {
  assert.equal(restCollection('/collections/a/points/delete'), 'a');
  assert.equal(restCollection('/collections/a%2Fb'), 'a/b');
  assert.equal(restCollection('/collections/%zz/points'), '%zz', 'a malformed escape is taken as it is');
  assert.equal(restCollection('/aliases'), undefined);
});
