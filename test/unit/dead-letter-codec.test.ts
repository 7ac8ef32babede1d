// The one dead-letter format (src/kafka/dead-letter-codec.ts): what each stage writes decodes to
// its reason and origin, a sink dead letter keeps the original record's headers for a replay, and
// dead letters written before the format (both stages) are still read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DLQ,
  decodeDeadLetter,
  deadLetterHeaders,
  fromKafkaHeaders,
  replayMarkerHeaders,
  toKafkaHeaders,
  type Headers,
  type StoredRecord,
} from '../../src/kafka/dead-letter-codec.js';
import type { OutMessage } from '../../src/kafka/publisher.js';
import { rowDeadLetter } from '../../src/kafka/source-dead-letters.js';

const T = '1764530000000';
const stored = (key: Buffer | null, value: Buffer | null, headers: Headers, offset = '5'): StoredRecord => ({
  partition: 0,
  offset,
  timestamp: T,
  key,
  value,
  headers,
});
const fromOut = (m: OutMessage): StoredRecord =>
  stored(
    m.key,
    m.value,
    [...(m.headers ?? new Map<Buffer, Buffer>())].map(([k, v]) => [k.toString(), v]),
  );

test('a sink dead letter: reason, stage and origin in headers, the original bytes and headers kept', () => {
  const value = Buffer.from([1, 2, 3]);
  const original = fromKafkaHeaders({ 'vecrelay.schema': Buffer.from('2') });
  const headers = toKafkaHeaders(
    deadLetterHeaders(
      { stage: 'sink', topic: 'p.public.t', partition: 3, offset: '41' },
      'Vector dimension error',
      original,
    ),
  );
  assert.equal(headers[DLQ.version]!.toString(), '1');
  assert.equal(headers[DLQ.stage]!.toString(), 'sink');
  assert.equal(headers['vecrelay.schema']!.toString(), '2', 'the schema version header kept');

  const d = decodeDeadLetter(stored(Buffer.from('{"id":1}'), value, fromKafkaHeaders(headers)));
  assert.equal(d.kind, 'dead-letter');
  if (d.kind !== 'dead-letter') return;
  assert.equal(d.version, 1);
  assert.equal(d.stage, 'sink');
  assert.equal(d.reason, 'Vector dimension error');
  assert.deepEqual(d.origin, { stage: 'sink', topic: 'p.public.t', partition: 3, offset: '41' });
  assert.deepEqual(d.value, value);
  assert.deepEqual(
    d.original.map(([n, v]) => [n, v.toString()]),
    [['vecrelay.schema', '2']],
    'a replay sends the original headers, none of the dead letter’s own',
  );
  assert.equal(d.time, new Date(Number(T)).toISOString());
});

test('a reason is bounded; a record dead-lettered twice keeps one set of dead-letter headers', () => {
  const first = deadLetterHeaders(
    { stage: 'sink', topic: 't', partition: 0, offset: '1' },
    'x'.repeat(10_000),
    [['vecrelay.schema', Buffer.from('1')]],
  );
  assert.equal(first.find(([n]) => n === DLQ.reason)![1].length, 4000);
  const replayed: Headers = [
    ...first.filter(([n]) => !n.startsWith('vecrelay.dlq.')),
    [DLQ.replayOf, Buffer.from('0:7')],
  ];
  const again = deadLetterHeaders(
    { stage: 'sink', topic: 't', partition: 0, offset: '9' },
    'again',
    replayed,
  );
  assert.equal(again.filter(([n]) => n === DLQ.stage).length, 1);
  assert.equal(again.find(([n]) => n === DLQ.replayOf)![1].toString(), '0:7', 'where it was replayed from');
  const d = decodeDeadLetter(stored(null, Buffer.from('v'), again));
  assert.ok(
    d.kind === 'dead-letter' && d.reason === 'again' && d.origin.stage === 'sink' && d.origin.offset === '9',
  );
});

test('a source dead letter: stage source, table, LSN and xid in headers, the bounded JSON as value', () => {
  const origin = {
    table: 'public.t',
    op: 'insert',
    lsn: 0x1_0000_0010n,
    xid: 7,
    cells: [{ column: 'id', kind: 'binary', bytes: Buffer.from([0, 0, 0, 2]) }],
  };
  const d = decodeDeadLetter(fromOut(rowDeadLetter('dlq', origin, new Error('bad value'), 900_000)));
  assert.ok(d.kind === 'dead-letter');
  assert.equal(d.stage, 'source');
  assert.equal(d.reason, 'bad value');
  assert.deepEqual(d.origin, { stage: 'source', table: 'public.t', op: 'insert', lsn: '1/10', xid: 7 });
  assert.equal(d.body?.table, 'public.t');
});

test('dead letters written before the format are still read: the sink’s and the source’s', () => {
  const sink = decodeDeadLetter(
    stored(Buffer.from('k'), Buffer.from([9]), [
      ['vecrelay.error', Buffer.from('Vector dimension error: expected 8, got 3')],
      ['vecrelay.topic', Buffer.from('p.public.t')],
      ['vecrelay.partition', Buffer.from('1')],
      ['vecrelay.offset', Buffer.from('12')],
    ]),
  );
  assert.ok(sink.kind === 'dead-letter');
  assert.equal(sink.version, 0);
  assert.equal(sink.stage, 'sink');
  assert.equal(sink.reason, 'Vector dimension error: expected 8, got 3');
  assert.deepEqual(sink.origin, { stage: 'sink', topic: 'p.public.t', partition: 1, offset: '12' });

  const oldRow = {
    from: 'source',
    table: 'public.t',
    op: 'update',
    lsn: '0/16B3748',
    xid: 750,
    error: 'invalid vector',
    cells: [],
  };
  const source = decodeDeadLetter(stored(Buffer.from('public.t'), Buffer.from(JSON.stringify(oldRow)), []));
  assert.ok(source.kind === 'dead-letter');
  assert.equal(source.version, 0);
  assert.equal(source.reason, 'invalid vector');
  assert.deepEqual(source.origin, {
    stage: 'source',
    table: 'public.t',
    op: 'update',
    lsn: '0/16B3748',
    xid: 750,
  });

  const oldOversized = {
    ...oldRow,
    reason: 'oversized',
    key: '{"id":1}',
    seq: 2,
    size: 3_000_000,
    error: 'too big',
  };
  const o = decodeDeadLetter(stored(Buffer.from('public.t'), Buffer.from(JSON.stringify(oldOversized)), []));
  assert.ok(o.kind === 'dead-letter' && o.origin.stage === 'source');
  assert.equal(o.reason, 'too big');
  assert.equal(o.origin.seq, 2);
  assert.equal(o.body?.key, '{"id":1}');
});

test('a replay marker names the dead letter it replayed and where it went', () => {
  const m = decodeDeadLetter(
    stored(null, null, replayMarkerHeaders({ partition: 0, offset: '4' }, 'p.public.t[1]@99')),
  );
  assert.deepEqual(m, {
    kind: 'replay',
    partition: 0,
    offset: '5',
    time: new Date(Number(T)).toISOString(),
    replays: '0:4',
    to: 'p.public.t[1]@99',
  });
});

test('a record of no known form, or of a newer format, is refused with a reason', () => {
  assert.throws(() => decodeDeadLetter(stored(null, Buffer.from('garbage'), [])), /not a dead letter/);
  assert.throws(
    () =>
      decodeDeadLetter(
        stored(null, null, [
          [DLQ.version, Buffer.from('2')],
          [DLQ.stage, Buffer.from('sink')],
        ]),
      ),
    /newer than this vecrelay knows/,
  );
});
