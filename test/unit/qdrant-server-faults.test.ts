// The Qdrant test server's fault rules (test/qdrant-server/faults.ts): REST rules by HTTP status,
// gRPC rules by status name or code, each consulted only for its own transport, in order, for
// `count` requests whose path matches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../qdrant-server/errors.js';
import { Faults, GRPC_CODES } from '../qdrant-server/faults.js';
import { parseJson } from '../qdrant-server/json.js';

const add = (f: Faults, json: string) => f.add(parseJson(json));

test('a gRPC rule by name or number fails only matching gRPC calls, count times', () => {
  const f = new Faults();
  add(f, '{"grpc_code": "UNAVAILABLE", "count": 2, "paths": "^/qdrant.Points/Upsert$"}');
  add(f, '{"grpc_code": 8, "retry_after": 3}');
  assert.equal(f.take('/qdrant.Points/Upsert', 'rest'), undefined, 'a REST request never takes a gRPC rule');
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc')?.status, GRPC_CODES.UNAVAILABLE);
  const other = f.take('/qdrant.Points/Count', 'grpc');
  assert.deepEqual([other?.status, other?.retryAfter], [GRPC_CODES.RESOURCE_EXHAUSTED, 3]);
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc')?.status, 14, 'second of count 2');
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc'), undefined, 'spent');
  assert.deepEqual(f.list(), []);
});

test('REST rules stay REST; a delay-only rule is REST unless transport says grpc', () => {
  const f = new Faults();
  add(f, '{"status": 503}');
  add(f, '{"delay_ms": 100}');
  add(f, '{"transport": "grpc", "delay_ms": 200}');
  assert.deepEqual(
    (f.list() as Array<{ transport: string; status: number; delay_ms: number }>).map((r) => [
      r.transport,
      r.status,
      r.delay_ms,
    ]),
    [
      ['rest', 503, 0],
      ['rest', 0, 100],
      ['grpc', 0, 200],
    ],
  );
  const g = f.take('/qdrant.Points/Get', 'grpc');
  assert.deepEqual([g?.status, g?.delayMs], [0, 200]);
  assert.equal(f.take('/qdrant.Points/Get', 'grpc'), undefined);
  assert.equal(f.take('/collections', 'rest')?.status, 503);
  assert.equal(f.take('/collections')?.delayMs, 100);
});

test('malformed rules are refused with a format error naming the field', () => {
  const f = new Faults();
  for (const [json, field] of [
    ['{"grpc_code": "NOPE"}', 'grpc_code'],
    ['{"grpc_code": 0}', 'grpc_code'],
    ['{"grpc_code": 17}', 'grpc_code'],
    ['{"grpc_code": "INTERNAL", "status": 500}', 'grpc_code'],
    ['{"transport": "grpc"}', 'grpc_code'],
    ['{"transport": "udp", "delay_ms": 1}', 'transport'],
    ['{"status": 200}', 'status'],
    ['{"status": 503, "point_id": 1}', 'point_id'],
    ['{"grpc_code": 3, "point_id": 1.5}', 'point_id'],
  ] as const) {
    assert.throws(
      () => add(f, json),
      (err: unknown) => err instanceof ApiError && err.status === 400 && err.message.includes(field),
      json,
    );
  }
  assert.deepEqual(f.list(), []);
});

test('a point_id rule matches only requests that name the point (UUIDs in any form)', () => {
  const f = new Faults();
  add(f, '{"grpc_code": 3, "count": 5, "point_id": "936DA01F9ABD4D9D80C702AF85C822A8"}');
  const naming = (id: string) => (key: string) => key === id;
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc'), undefined, 'no way to tell: no match');
  assert.equal(f.take('/qdrant.Points/Upsert', 'grpc', naming('7')), undefined);
  const hit = f.take('/qdrant.Points/Upsert', 'grpc', naming('936da01f-9abd-4d9d-80c7-02af85c822a8'));
  assert.equal(hit?.status, 3);
});
