// The source end to end against the real stack: snapshot meets stream, the acknowledged position
// survives SIGKILL with interleaved transactions, a crash mid-stream loses nothing, and an idle
// pipeline still lets the slot advance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKey } from '../../src/event/key.js';
import { changeTopic } from '../../src/kafka/topics.js';
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { finalState, readTopic } from '../helpers/kafka.js';
import { connectPg, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines();
const { pipeline, startSource } = ctx;

const keyOf = (id: number) => canonicalKey(['id'], { id: BigInt(id) });

/** The table as the topic should end up: key → title (and the embedding's text). */
async function tableState(table: string): Promise<Map<string, string>> {
  const { rows } = await ctx.sql.query<{ id: number; title: string; embedding: string | null }>(
    `SELECT id, title, embedding::text AS embedding FROM ${table}`,
  );
  return new Map(rows.map((r) => [keyOf(r.id), `${r.title}|${r.embedding}`]));
}

function topicState(records: Awaited<ReturnType<typeof readTopic>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, e] of finalState(records)) {
    const v = e.vectors.embedding;
    const text = v && v.kind === 'dense' ? `[${Array.from(v.values).join(',')}]` : 'null';
    out.set(key, `${String(e.values?.title)}|${text}`);
  }
  return out;
}

test('snapshot and stream meet: rows before start and rows changed during the snapshot all arrive', async () => {
  const table = uniqueName('snap');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text NOT NULL, embedding vector(3))`);
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 'before-' || i, ARRAY[i, i + 0.5, -i]::real[]::vector FROM generate_series(1, 3000) i`,
  );
  const p = pipeline(table);
  const source = startSource(writeConfig(p));
  // Changes racing the snapshot: updates, deletes and inserts while it starts and reads.
  for (let i = 1; i <= 3000; i += 150) {
    await ctx.sql.query(`UPDATE ${table} SET title = 'during-' || id WHERE id BETWEEN $1 AND $1 + 20`, [i]);
    await ctx.sql.query(`DELETE FROM ${table} WHERE id = $1 + 30`, [i]);
    await ctx.sql.query(`INSERT INTO ${table} VALUES ($1, 'new', '[1,2,3]')`, [10_000 + i]);
  }
  await waitSlotStreaming(ctx.sql, p.slot);
  await ctx.sql.query(`UPDATE ${table} SET title = 'after', embedding = '[9,8,7]' WHERE id % 97 = 0`);
  const want = await tableState(table);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  let got = new Map<string, string>();
  await readTopic(topic, (records) => {
    got = topicState(records);
    return got.size === want.size && [...want].every(([k, v]) => got.get(k) === v);
  }).catch((err: Error) => {
    const diff = [...want].filter(([k, v]) => got.get(k) !== v).slice(0, 5);
    throw new Error(
      `${err.message}; ${want.size} rows vs ${got.size} keys; differences: ${JSON.stringify(diff)}`,
    );
  });
  source.child.kill('SIGTERM');
  const exit = await source.exited;
  assert.equal(exit.code, 0, 'SIGTERM stops the source cleanly');
});

test('interleaved transactions: T2 open across T1 and a SIGKILL still arrives after restart', async () => {
  const table = uniqueName('interleave');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text NOT NULL, embedding vector(3))`);
  const p = pipeline(table, { snapshot: 'never' });
  const config = writeConfig(p);
  const first = startSource(config);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  await waitSlotStreaming(ctx.sql, p.slot);
  const t2 = await connectPg();
  try {
    await t2.query('BEGIN');
    await t2.query(`INSERT INTO ${table} VALUES (2, 't2', '[2,2,2]')`);
    await ctx.sql.query(`INSERT INTO ${table} VALUES (1, 't1', '[1,1,1]')`); // T1 commits
    // T1's commit LSN from its event; once Postgres confirms past it, the source acknowledged T1.
    const [t1] = await readTopic(topic, (r) => r.some((x) => x.key === keyOf(1)));
    const t1Lsn = t1!.event!.source.lsn;
    await waitFor('T1 confirmed to Postgres', async () => {
      const confirmed = (await slotInfo(ctx.sql, p.slot))?.confirmed;
      return confirmed ? parseLsn(confirmed) > t1Lsn : false;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    await t2.query('COMMIT');
  } finally {
    await t2.end();
  }
  const second = startSource(config);
  const records = await readTopic(topic, (r) => r.some((x) => x.key === keyOf(2)));
  assert.ok(
    records.some((x) => x.key === keyOf(1)),
    'T1 is in Kafka',
  );
  assert.ok(
    records.some((x) => x.key === keyOf(2) && x.event?.op === 'c'),
    'T2 arrives after the restart',
  );
  second.child.kill('SIGTERM');
  await second.exited;
});
