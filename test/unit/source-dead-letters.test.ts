// Dead letters of the source always fit in a batch: publishing one must never fail the way the
// row did (that restarted the session on the same row forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { messageSize, OversizedMessageError, Publisher } from '../../src/kafka/publisher.js';
import { oversizedDeadLetter, oversizedMessage, rowDeadLetter } from '../../src/kafka/source-dead-letters.js';

const LIMIT = 900_000;
const big = Buffer.alloc(2_000_000, 0xab);

test('a failed row too large to quote keeps its cells out of the dead letter, and their sizes in it', () => {
  const origin = {
    table: 'public.t',
    op: 'insert',
    lsn: 0x1_0000_0010n,
    xid: 7,
    cells: [
      { column: 'id', kind: 'binary', bytes: Buffer.from([0, 0, 0, 2]) },
      { column: 'body', kind: 'binary', bytes: big },
      { column: 'note', kind: 'text', text: 'ü' },
    ],
  };
  const dead = rowDeadLetter('dlq', origin, new Error('bad value'), LIMIT);
  assert.ok(messageSize(dead) <= LIMIT);
  const record = JSON.parse(dead.value!.toString());
  assert.match(record.cellsOmitted, /source\.batchMaxBytes = 900000/);
  assert.deepEqual(record.cells, [
    { column: 'id', kind: 'binary', bytes: 4 },
    { column: 'body', kind: 'binary', bytes: 2_000_000 },
    { column: 'note', kind: 'text', bytes: 2 },
  ]);
  assert.equal(record.error, 'bad value');

  // A small row is quoted whole, as before.
  const small = rowDeadLetter('dlq', { ...origin, cells: [origin.cells[0]!] }, new Error('x'), LIMIT);
  assert.deepEqual(JSON.parse(small.value!.toString()).cells, [
    { column: 'id', kind: 'binary', hex: '00000002' },
  ]);
});

test('an oversized event becomes a bounded dead letter: table, key (cut), position, size, reason', () => {
  const event: ChangeEvent = {
    op: 'u',
    source: {
      lsn: 0x2_0000_00a0n,
      xid: 9,
      commitTimeMicros: 0n,
      snapshot: false,
      schema: 'public',
      table: 't',
      seq: 3,
    },
    key: { id: 'k'.repeat(5000) },
    values: {},
    vectors: {},
    unchanged: [],
  };
  const message = {
    topic: 'p.public.t',
    key: Buffer.from(JSON.stringify(['k'.repeat(5000)])),
    value: big,
    partition: 1,
  };
  assert.equal(oversizedMessage([message], LIMIT), message);
  assert.equal(oversizedMessage([{ ...message, value: Buffer.alloc(10) }], LIMIT), undefined);
  const dead = oversizedDeadLetter('dlq', event, message, LIMIT);
  assert.ok(dead.value!.length < 4096, `${dead.value!.length} bytes`);
  const record = JSON.parse(dead.value!.toString());
  assert.equal(record.reason, 'oversized');
  assert.equal(record.table, 'public.t');
  assert.equal(record.op, 'update');
  assert.equal(record.lsn, '2/A0');
  assert.equal(record.seq, 3);
  assert.equal(record.size, messageSize(message));
  assert.equal(record.limit, LIMIT);
  assert.ok(record.key.startsWith('["kkk') && record.key.endsWith('…') && record.key.length === 1025);
});

test('the publisher refuses an oversized message with an OversizedMessageError', async () => {
  const publisher = new Publisher(
    [{ send: async () => {} } as never],
    { batchMaxBytes: LIMIT, requestMaxBytes: 2 * LIMIT, maxInFlightBytes: 4 * LIMIT, lingerMs: 5 },
    () => {},
  );
  await assert.rejects(
    publisher.publish({ topic: 't', key: Buffer.from('[1]'), value: big, partition: 0 }, () => {}),
    (err: unknown) => err instanceof OversizedMessageError && err.size > LIMIT && err.limit === LIMIT,
  );
});
