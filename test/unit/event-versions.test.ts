// Which decoder a message gets from its `vecrelay.schema` header (src/event/versions.ts), on the
// captured bytes of every released version (test/fixtures/avro/v<N>/).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { encodeEvent } from '../../src/event/avro.js';
import {
  EVENT_HEADERS,
  SCHEMA_HEADER,
  SCHEMA_VERSION,
  decoderFor,
  versionOf,
} from '../../src/event/versions.js';
import { ConfigError } from '../../src/shared/errors.js';
import { OPS, comparable, sampleEvents } from '../fixtures/avro/samples.js';

const fixture = (version: number, op: string) =>
  Buffer.from(
    readFileSync(new URL(`../fixtures/avro/v${version}/${op}.hex`, import.meta.url), 'utf8').trim(),
    'hex',
  );

test('events name the current schema version in their header', () => {
  assert.equal(SCHEMA_VERSION, 2);
  const entries = [...EVENT_HEADERS];
  assert.equal(entries.length, 1);
  const [key, value] = entries[0]!;
  assert.equal(key.toString(), SCHEMA_HEADER);
  assert.equal(versionOf(value), SCHEMA_VERSION);
});

test('a message without the header is version 1, and v1 bytes decode (seq 0)', () => {
  assert.equal(versionOf(undefined), 1);
  const samples = sampleEvents();
  for (const op of OPS) {
    const event = decoderFor(versionOf(undefined))(fixture(1, op));
    assert.deepStrictEqual(comparable(event), comparable(samples[op]));
    assert.equal(event.source.seq, 0);
  }
});

test('the current version decodes its own bytes, seq included', () => {
  const e = sampleEvents().u;
  e.source.seq = 41;
  const decoded = decoderFor(versionOf(Buffer.from(String(SCHEMA_VERSION))))(encodeEvent(e));
  assert.equal(decoded.source.seq, 41);
  assert.deepStrictEqual(comparable(decoded), comparable(e));
  // v1 bytes read as the current version do not parse: the header is what tells them apart.
  assert.throws(() => decoderFor(SCHEMA_VERSION)(fixture(1, 'c')));
});

test('a newer version than this vecrelay knows stops with what to do; a malformed header is an error', () => {
  assert.throws(
    () => decoderFor(SCHEMA_VERSION + 1),
    (err: unknown) =>
      err instanceof ConfigError &&
      /schema version 3, newer than this vecrelay knows \(up to 2\): upgrade the sink/.test(err.message),
  );
  for (const bad of ['', 'two', '-1', '0', '1.5'])
    assert.throws(() => versionOf(Buffer.from(bad)), /is not a schema version/, bad);
});
