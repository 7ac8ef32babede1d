// A row the source cannot turn into an event does not stop the stream (guarantee 7): it lands in
// the dead-letter topic with its reason and position, and the rows after it arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKey } from '../../src/event/key.js';
import { changeTopic, deadLetterTopic } from '../../src/kafka/topics.js';
import { readTopic, testKafka } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { waitSlotStreaming } from '../helpers/pg.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines();
const keyOf = (id: number) => canonicalKey(['id'], { id: BigInt(id) });

/** Every message of the dead-letter topic, parsed. */
async function deadLetters(topic: string, atLeast: number) {
  const kafka = testKafka();
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
  const out: Array<Record<string, unknown>> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void out.push(JSON.parse(message.value!.toString())),
    });
    await waitFor(`${atLeast} dead letters`, () => out.length >= atLeast, { timeoutMs: 60_000 });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

test('a row whose configured vector cannot be decoded is dead-lettered, in the snapshot and in the stream', async () => {
  const table = uniqueName('dlq');
  // real[] configured as a vector: a two-dimensional array is not a vector.
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, emb real[])`);
  await ctx.sql.query(
    `INSERT INTO ${table} VALUES (1, 'ok', '{1,2,3}'), (2, 'bad', '{{1,2},{3,4}}'), (3, 'ok', '{4,5,6}')`,
  );
  const p = ctx.pipeline(table, { tables: [{ table: `public.${table}`, vectors: ['emb'] }] });
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (4, 'bad', '{{9}}'), (5, 'ok', '{7,8,9}')`);

  const topic = changeTopic(p.topicPrefix, 'public', table);
  const records = await readTopic(topic, (r) => r.some((x) => x.key === keyOf(5)));
  const keys = new Set(records.map((r) => r.key));
  for (const id of [1, 3, 5]) assert.ok(keys.has(keyOf(id)), `row ${id} arrived`);
  for (const id of [2, 4]) assert.ok(!keys.has(keyOf(id)), `row ${id} is not in the change topic`);

  const dead = await deadLetters(deadLetterTopic(p.topicPrefix, p.name), 2);
  assert.deepEqual(dead.map((d) => d.op).sort(), ['insert', 'snapshot']);
  for (const d of dead) {
    assert.equal(d.table, `public.${table}`);
    assert.match(String(d.error), /emb/);
    assert.match(String(d.lsn), /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.ok(Array.isArray(d.cells) && d.cells.length === 3);
  }
  assert.equal(source.child.exitCode, null, 'the source keeps running');
});
