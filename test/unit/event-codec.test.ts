// The event codec both ways (src/kafka/event-codec.ts): what the source writes, the sink reads
// back as the same event; a delete's tombstone as the delete of its key; a truncate on every
// partition; and each kind of record at fault as `bad`, never a throw — except a schema version
// newer than this vecrelay, which must stop the sink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyColumn } from '../../src/event/key.js';
import { SCHEMA_HEADER, SCHEMA_VERSION } from '../../src/event/versions.js';
import { decodeRecord, toMessages, type InRecord } from '../../src/kafka/event-codec.js';
import type { OutMessage } from '../../src/kafka/publisher.js';
import { ConfigError } from '../../src/shared/errors.js';
import { comparable, sampleEvents } from '../fixtures/avro/samples.js';

const KEY: KeyColumn[] = [
  { name: 'tenant', type: 'text' },
  { name: 'id', type: 'int8' },
];
const route = { topic: 'vr.public.items', partitions: 6 };

/** An outgoing message as the consumer receives it (headers by name). */
function received(m: OutMessage): InRecord {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of m.headers ?? []) headers[k.toString()] = Buffer.from(v);
  return {
    key: m.key === null ? null : Buffer.from(m.key),
    value: m.value === null ? null : Buffer.from(m.value),
    headers,
  };
}

test('an insert goes out as one keyed message and comes back as the same event', () => {
  const event = sampleEvents().c;
  const out = toMessages(event, ['tenant', 'id'], route);
  assert.equal(out.length, 1);
  const d = decodeRecord(received(out[0]!), KEY);
  assert.equal(d.kind, 'event');
  assert.deepEqual(d.kind === 'event' && comparable(d.event), comparable(event));
});

test('a delete is followed by a tombstone on the same partition; the tombstone reads as the delete of its key', () => {
  const event = sampleEvents().d;
  const [del, tomb] = toMessages(event, ['tenant', 'id'], route);
  assert.ok(del && tomb);
  assert.equal(tomb.value, null);
  assert.equal(tomb.partition, del.partition);
  assert.deepEqual(tomb.key, del.key);
  const d = decodeRecord(received(tomb), KEY);
  assert.equal(d.kind, 'tombstone');
  assert.deepEqual(d.kind === 'tombstone' && d.key, event.key);
});

test('a truncate goes to every partition with an empty key', () => {
  const out = toMessages(sampleEvents().t, ['tenant', 'id'], route);
  assert.deepEqual(
    out.map((m) => m.partition),
    [0, 1, 2, 3, 4, 5],
  );
  for (const m of out) assert.equal(m.key?.length, 0);
  assert.equal(decodeRecord(received(out[0]!), KEY).kind, 'event');
});

test('records at fault are `bad`, with what and why: undecodable, bad header, tombstone of another key shape', () => {
  const good = received(toMessages(sampleEvents().c, ['tenant', 'id'], route)[0]!);
  const undecodable = decodeRecord({ ...good, value: Buffer.from([1, 2, 3]) }, KEY);
  assert.equal(undecodable.kind, 'bad');
  assert.match(undecodable.kind === 'bad' ? undecodable.reason : '', /^undecodable: /);
  const badHeader = decodeRecord({ ...good, headers: { [SCHEMA_HEADER]: Buffer.from('x') } }, KEY);
  assert.equal(badHeader.kind, 'bad');
  const tomb = decodeRecord({ key: Buffer.from('not a key'), value: null }, KEY);
  assert.equal(tomb.kind, 'bad');
  assert.match(tomb.kind === 'bad' ? tomb.reason : '', /^bad key: /);
});

test('an event of a schema version newer than this vecrelay stops (ConfigError), it is not dead-lettered', () => {
  const good = received(toMessages(sampleEvents().c, ['tenant', 'id'], route)[0]!);
  assert.throws(
    () =>
      decodeRecord({ ...good, headers: { [SCHEMA_HEADER]: Buffer.from(String(SCHEMA_VERSION + 1)) } }, KEY),
    (err: unknown) => err instanceof ConfigError && /upgrade the sink/.test(err.message),
  );
});
