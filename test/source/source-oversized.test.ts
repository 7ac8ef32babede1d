// A row larger than source.batchMaxBytes cannot be a Kafka message: it goes to the dead-letter
// topic as a small record (table, key, position, size, reason — not the row), one warning is
// logged, and the stream and the snapshot go on; the slot advances past it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonicalKey } from '../../src/event/key.js';
import { changeTopic, deadLetterTopic } from '../../src/kafka/topics.js';
import { readTopic, testKafka } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { currentLsn, lsnAtLeast, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'big' });
const keyOf = (id: number) => canonicalKey(['id'], { id: BigInt(id) });

/** ~2 MB of text: over the default source.batchMaxBytes (900 000) however it is encoded. */
const BIG = `repeat('0123456789abcdef', 131072)`;
const WARNING = 'row larger than source.batchMaxBytes dead-lettered';

/** The dead-letter topic's records, parsed, once `done` holds; with each record's size. */
async function deadLetters(topic: string, done: (records: Array<Record<string, unknown>>) => boolean) {
  const consumer = testKafka().consumer({ groupId: uniqueName('dlq-reader') });
  const out: Array<Record<string, unknown>> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void out.push({ ...JSON.parse(message.value!.toString()), recordBytes: message.value!.length }),
    });
    await waitFor(`dead letters on ${topic}`, () => done(out), { timeoutMs: 90_000 });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

/** The oversized row's dead letter says which row, where and how large — and holds no row. */
function assertBounded(dead: Record<string, unknown>, table: string, op: string) {
  assert.equal(dead.reason, 'oversized');
  assert.equal(dead.table, `public.${table}`);
  assert.equal(dead.op, op);
  assert.equal(dead.key, keyOf(2));
  assert.match(String(dead.lsn), /^[0-9A-F]+\/[0-9A-F]+$/);
  assert.equal(typeof dead.seq, 'number');
  assert.ok(Number(dead.size) > 2_000_000, `size ${String(dead.size)} is the event's`);
  assert.equal(dead.limit, 900_000);
  assert.match(String(dead.error), /source\.batchMaxBytes/);
  assert.ok(Number(dead.recordBytes) < 2048, `the dead letter is small (${String(dead.recordBytes)} bytes)`);
  assert.ok(!JSON.stringify(dead).includes('0123456789abcdef'), 'the row is not in it');
}

/** Exactly one warning for the row, naming the table and key, and the row nowhere in the log. */
function assertOneWarning(logFile: string, table: string) {
  const log = readFileSync(logFile, 'utf8');
  const warnings = log.split('\n').filter((l) => l.includes(WARNING));
  assert.equal(warnings.length, 1, `one warning; log:\n${log.slice(-4000)}`);
  assert.ok(warnings[0]!.includes(`public.${table}`), 'it names the table');
  assert.ok(warnings[0]!.includes('[2]'), 'it names the key');
  assert.ok(!log.includes('0123456789abcdef0123456789abcdef'), 'the row is not logged');
}

test('a 2 MB row while streaming: dead-lettered as a small record, the rows around it arrive, the slot passes it', async () => {
  const table = uniqueName('big');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3), body text)`);
  const p = ctx.pipeline(table);
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  // The (empty) table's snapshot done first: a row committed before its chunk is read comes
  // from the chunk as well as from the stream — and so would its dead letter and warning.
  await waitFor('the snapshot of the empty table', () =>
    readFileSync(source.logFile, 'utf8').includes('snapshot of table done'),
  );

  await ctx.sql.query(`INSERT INTO ${table} VALUES (1, '[1,2,3]', 'small')`);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (2, '[4,5,6]', ${BIG})`);
  const afterBig = await currentLsn(ctx.sql);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (3, '[7,8,9]', 'small')`);

  const records = await readTopic(changeTopic(p.topicPrefix, 'public', table), (r) =>
    r.some((x) => x.key === keyOf(3)),
  );
  const keys = new Set(records.map((r) => r.key));
  assert.ok(keys.has(keyOf(1)), 'row 1 arrived');
  assert.ok(!keys.has(keyOf(2)), 'the big row is not in the change topic');

  const dead = await deadLetters(deadLetterTopic(p.topicPrefix, p.name), (d) =>
    d.some((x) => x.reason === 'oversized'),
  );
  assertBounded(
    dead.find((x) => x.reason === 'oversized')!,
    table,
    'insert',
  );

  await waitFor('the slot to confirm past the big row', async () =>
    lsnAtLeast(ctx.sql, (await slotInfo(ctx.sql, p.slot))?.confirmed, afterBig),
  );
  assert.equal(source.child.exitCode, null, 'the source keeps running');
  source.child.kill('SIGTERM');
  assert.equal((await source.exited).code, 0, 'and stops cleanly');
  assertOneWarning(source.logFile, table);
});

test('a 2 MB row in the snapshot: dead-lettered as a small record, the snapshot completes and streaming follows', async () => {
  const table = uniqueName('big');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3), body text)`);
  await ctx.sql.query(
    `INSERT INTO ${table} VALUES (1, '[1,2,3]', 'small'), (2, '[4,5,6]', ${BIG}), (3, '[7,8,9]', 'small')`,
  );
  const p = ctx.pipeline(table);
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (4, '[1,1,1]', 'after the snapshot')`);

  // The chunk may be emitted before or after row 4 (streaming runs beside the snapshot).
  const records = await readTopic(changeTopic(p.topicPrefix, 'public', table), (r) =>
    [1, 3, 4].every((id) => r.some((x) => x.key === keyOf(id))),
  );
  const ops = new Map(records.map((r) => [r.key, r.event?.op]));
  assert.equal(ops.get(keyOf(1)), 'r', 'row 1 came with the snapshot');
  assert.equal(ops.get(keyOf(3)), 'r', 'row 3 came with the snapshot');
  assert.ok(!ops.has(keyOf(2)), 'the big row is not in the change topic');

  const dead = await deadLetters(deadLetterTopic(p.topicPrefix, p.name), (d) =>
    d.some((x) => x.reason === 'oversized'),
  );
  assertBounded(
    dead.find((x) => x.reason === 'oversized')!,
    table,
    'snapshot',
  );
  assert.equal(source.child.exitCode, null, 'the source keeps running');
  source.child.kill('SIGTERM');
  assert.equal((await source.exited).code, 0, 'and stops cleanly');
  assertOneWarning(source.logFile, table);
});
