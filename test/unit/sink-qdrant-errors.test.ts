// How the sink classifies Qdrant's answers (src/sink/qdrant/errors.ts) and which servers get
// conditional writes (src/sink/qdrant/output.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/shared/errors.js';
import { authError, faultOf, QdrantError } from '../../src/sink/qdrant/errors.js';
import { supportsConditional } from '../../src/sink/qdrant/output.js';

const err = (status: number | null, message = 'x', retriable = status === null || status >= 500) =>
  new QdrantError(`Qdrant PUT /collections/c/points answered ${status}: ${message}`, status, retriable);

test('faults: transient, fatal (401/403), gone (missing collection), else the record', () => {
  assert.equal(faultOf(err(null)), 'transient');
  assert.equal(faultOf(err(503)), 'transient');
  assert.equal(faultOf(new QdrantError('429', 429, true, 1)), 'transient');
  assert.equal(faultOf(err(401, 'Invalid API key or JWT')), 'fatal');
  assert.equal(faultOf(err(403, 'Forbidden: Global manage access is required')), 'fatal');
  assert.equal(faultOf(err(404, "Not found: Collection `c` doesn't exist!")), 'gone');
  assert.equal(faultOf(err(404, 'Not found: No point with id 7 found')), 'record');
  assert.equal(faultOf(err(400, 'Wrong input: Vector dimension error: expected dim: 8, got 3')), 'record');
});

test('a refused key stops with a ConfigError naming qdrant.apiKeyEnv and its variable', () => {
  const e = authError(err(401, 'Invalid API key or JWT'), 'MY_KEY');
  assert.ok(e instanceof ConfigError);
  assert.match(e.message, /qdrant\.apiKeyEnv \(MY_KEY\)/);
  assert.match(authError(err(401, 'Must provide an API key'), undefined).message, /set qdrant\.apiKeyEnv/);
  assert.match(authError(err(403, 'Forbidden'), 'MY_KEY').message, /read-write key/);
});

test('conditional writes from Qdrant 1.16 on', () => {
  assert.equal(supportsConditional('1.15.5'), false);
  assert.equal(supportsConditional('1.16.0'), true);
  assert.equal(supportsConditional('1.19.0'), true);
  assert.equal(supportsConditional('2.0.0'), true);
  assert.equal(supportsConditional(''), false);
});
