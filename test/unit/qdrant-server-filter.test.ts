// The Qdrant test server's filter evaluation (test/qdrant-server/filter.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../qdrant-server/errors.js';
import { compileFilter, type FilterTarget } from '../qdrant-server/filter.js';
import { parseJson, type JsonObject } from '../qdrant-server/json.js';

const points: FilterTarget[] = [
  [1n, '{"tenant":"a","n":1,"tags":["x","y"],"flag":true,"gone":null,"meta":{"lang":"en"}}'],
  [2n, '{"tenant":"b","n":2.5,"tags":[],"flag":false,"items":[{"k":1},{"k":2}]}'],
  [3n, '{"tenant":"a","n":3,"tags":["y"],"meta":{"lang":"de"}}'],
  ['00000000-0000-4000-8000-000000000001', '{"tenant":"c","n":4,"tags":null,"when":"2024-05-01T00:00:00Z"}'],
].map(([id, payload]) => ({
  id: id as bigint | string,
  payload: parseJson(payload as string) as JsonObject,
}));

function ids(filter: string): Array<bigint | string> {
  const f = compileFilter(parseJson(filter));
  return points.filter((p) => f(p)).map((p) => p.id);
}

test('match value, any, except, text; arrays match on any element', () => {
  assert.deepEqual(ids('{"must":[{"key":"tenant","match":{"value":"a"}}]}'), [1n, 3n]);
  assert.deepEqual(ids('{"must":{"key":"tags","match":{"value":"y"}}}'), [1n, 3n]);
  assert.deepEqual(ids('{"must":[{"key":"n","match":{"any":[1,3]}}]}'), [1n, 3n]);
  assert.deepEqual(ids('{"must":[{"key":"tenant","match":{"except":["a","b"]}}]}'), [
    '00000000-0000-4000-8000-000000000001',
  ]);
  assert.deepEqual(ids('{"must":[{"key":"flag","match":{"value":false}}]}'), [2n]);
  assert.deepEqual(ids('{"must":[{"key":"meta.lang","match":{"text":"d"}}]}'), [3n]);
});

test('range on numbers and datetimes, values_count', () => {
  assert.deepEqual(ids('{"must":[{"key":"n","range":{"gte":2,"lt":4}}]}'), [2n, 3n]);
  assert.deepEqual(ids('{"must":[{"key":"when","range":{"gt":"2024-01-01T00:00:00Z"}}]}'), [
    '00000000-0000-4000-8000-000000000001',
  ]);
  assert.deepEqual(ids('{"must":[{"key":"tags","values_count":{"gte":2}}]}'), [1n]);
});

test('is_empty, is_null, has_id, nested, must_not, should, min_should', () => {
  assert.deepEqual(ids('{"must":[{"is_empty":{"key":"tags"}}]}'), [
    2n,
    '00000000-0000-4000-8000-000000000001',
  ]);
  assert.deepEqual(ids('{"must":[{"is_null":{"key":"gone"}}]}'), [1n]);
  assert.deepEqual(ids('{"must":[{"has_id":[3, "00000000000040008000000000000001"]}]}'), [
    3n,
    '00000000-0000-4000-8000-000000000001',
  ]);
  assert.deepEqual(
    ids('{"must":[{"nested":{"key":"items","filter":{"must":[{"key":"k","match":{"value":2}}]}}}]}'),
    [2n],
  );
  assert.deepEqual(ids('{"must_not":[{"key":"tenant","match":{"value":"a"}}],"should":[{"has_id":[2]}]}'), [
    2n,
  ]);
  assert.deepEqual(
    ids(
      '{"min_should":{"conditions":[{"has_id":[1]},{"key":"tenant","match":{"value":"a"}},{"key":"n","range":{"lt":2}}],"min_count":2}}',
    ),
    [1n],
  );
  assert.deepEqual(
    ids('{"must":[{"should":[{"has_id":[1]},{"has_id":[2]}]}],"must_not":[{"must":[{"has_id":[2]}]}]}'),
    [1n],
  );
  assert.deepEqual(
    ids('{}'),
    points.map((p) => p.id),
  );
});

test('malformed filters are format errors', () => {
  for (const f of [
    '{"must":[{"key":"a"}]}',
    '{"must":[{"key":"a","match":{"value":1.5}}]}',
    '{"must":[42]}',
    '[1]',
  ]) {
    assert.throws(
      () => compileFilter(parseJson(f)),
      (err: unknown) => err instanceof ApiError && err.status === 400,
      f,
    );
  }
});
