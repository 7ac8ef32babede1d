// The Qdrant test server's point-id parsing and ordering (test/qdrant-server/ids.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../qdrant-server/errors.js';
import { compareIds, idKey, parsePathPointId, parsePointId, parseUuid } from '../qdrant-server/ids.js';
import { parseJson } from '../qdrant-server/json.js';

const UUID = '936da01f-9abd-4d9d-80c7-02af85c822a8';

test('UUID forms normalise to lowercase hyphenated', () => {
  for (const form of [
    UUID,
    UUID.toUpperCase(),
    UUID.replaceAll('-', ''),
    `urn:uuid:${UUID}`,
    `{${UUID.toUpperCase()}}`,
  ]) {
    assert.equal(parseUuid(form), UUID, form);
  }
  for (const bad of ['', '42', 'not-a-uuid', `${UUID}0`, `{${UUID}`, `URN:UUID:${UUID}`, 'g'.repeat(32)]) {
    assert.equal(parseUuid(bad), undefined, bad);
  }
});

test('body ids: u64 integers and UUID strings only', () => {
  assert.equal(parsePointId(parseJson('18446744073709551615')), 18446744073709551615n);
  assert.equal(parsePointId(parseJson('0')), 0n);
  assert.equal(parsePointId(`urn:uuid:${UUID}`), UUID);
  for (const text of ['-1', '1.5', '1.0', '1e3', '"42"', 'null', 'true', '[1]', '18446744073709551616']) {
    assert.throws(
      () => parsePointId(parseJson(text)),
      (err: unknown) =>
        err instanceof ApiError && err.status === 400 && err.message.startsWith('Format error in JSON body:'),
      text,
    );
  }
});

test('path ids: decimal u64 or UUID, else 400 Wrong input', () => {
  assert.equal(parsePathPointId('9007199254740993'), 9007199254740993n);
  assert.equal(parsePathPointId(UUID.toUpperCase()), UUID);
  assert.throws(
    () => parsePathPointId('abc'),
    (err: unknown) => err instanceof ApiError && err.status === 400 && err.message.startsWith('Wrong input:'),
  );
});

test('ordering: numbers ascending, then UUIDs; keys never collide', () => {
  const ids = [
    UUID,
    10n,
    'ffffffff-0000-4000-8000-000000000000',
    2n,
    '00000000-0000-4000-8000-000000000000',
    1n << 60n,
  ];
  assert.deepEqual([...ids].sort(compareIds), [
    2n,
    10n,
    1n << 60n,
    '00000000-0000-4000-8000-000000000000',
    UUID,
    'ffffffff-0000-4000-8000-000000000000',
  ]);
  assert.notEqual(idKey(42n), idKey('42'.padStart(32, '0')));
});
