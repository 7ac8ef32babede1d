// Topic names cannot collide (issue 10, point 8): a pipeline records its identity (database
// system id, database, pipeline name) with its topics, and a second pipeline with the same
// kafka.topicPrefix and a table of the same name — another pipeline name, or another database —
// is refused at start-up (exit 2, naming the prefix, the owner and the fix) before it writes
// anything. The same pipeline restarting is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { changeTopic, stateTopic, tablesTopic } from '../../src/event/names.js';
import { endOffsets, readTopic, topicsWithPrefix } from '../helpers/kafka.js';
import { waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { stackEnv, uniqueName } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSourcePipelines({ prefix: 'own', defaults: { snapshot: 'initial' } });

async function createTable(sql: pg.Client, table: string) {
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(3))`);
  await sql.query(`INSERT INTO ${table} SELECT i, 't' || i, '[1,2,3]' FROM generate_series(1, 5) i`);
}

/** The first pipeline, streaming, its snapshot and descriptor in Kafka. */
async function startOwner(table: string) {
  await createTable(ctx.sql, table);
  const p = ctx.pipeline(table);
  const source = ctx.startSource(writeConfig(p));
  const topic = changeTopic(p.topicPrefix, 'public', table);
  await waitSlotStreaming(ctx.sql, p.slot); // snapshot done: the topics exist
  await readTopic(topic, (r) => r.length >= 5, { timeoutMs: 60_000 });
  return { p, source, topic };
}

/** `vecrelay source` for `p`, which must stop at once: exit 2 and one `vecrelay: ...` line. */
async function assertRefused(p: TestPipeline, owner: TestPipeline) {
  const run = await execVecrelay(['source', '--config', writeConfig(p)], { timeoutMs: 60_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 2, `exit code 2; output:\n${output}`);
  const line = run.stderr.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line on stderr; output:\n${output}`);
  assert.match(line, new RegExp(`kafka\\.topicPrefix "${p.topicPrefix}"`));
  assert.match(line, new RegExp(`belongs to pipeline "${owner.name}"`));
  assert.match(line, /its own kafka\.topicPrefix/);
  return line;
}

/** Nothing of `p`'s: no slot, no publication (on `sql`), no state or dead-letter topic. */
async function assertNothingCreated(sql: pg.Client, p: TestPipeline) {
  const slots = await sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [p.slot]);
  assert.equal(slots.rowCount, 0, `no slot ${p.slot}`);
  const pubs = await sql.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [p.publication]);
  assert.equal(pubs.rowCount, 0, `no publication ${p.publication}`);
  const topics = await topicsWithPrefix(p.topicPrefix);
  assert.ok(!topics.includes(`${p.topicPrefix}._state.${p.name}`), `no state topic of ${p.name}: ${topics}`);
  assert.ok(
    !topics.includes(`${p.topicPrefix}._dlq.${p.name}`),
    `no dead-letter topic of ${p.name}: ${topics}`,
  );
}

test('another pipeline name with the same prefix and table: exit 2, the first topic untouched; the owner restarts', async () => {
  const table = uniqueName('own');
  const { p, source, topic } = await startOwner(table);
  const before = await endOffsets(topic);
  const tablesBefore = await endOffsets(tablesTopic(p.topicPrefix));

  // Same database, same table, same prefix; its own name, slot and publication.
  const other = ctx.pipeline(table, { topicPrefix: p.topicPrefix });
  const line = await assertRefused(other, p);
  assert.match(line, new RegExp(`this is pipeline "${other.name}"`));
  await assertNothingCreated(ctx.sql, other);
  assert.deepEqual(await endOffsets(topic), before, 'the first pipeline topic is untouched');
  assert.deepEqual(await endOffsets(tablesTopic(p.topicPrefix)), tablesBefore, 'no descriptor written');

  // The owner itself restarting is accepted: it streams again, and new rows reach its topic.
  source.child.kill('SIGTERM');
  await source.exited;
  const again = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (6, 't6', '[1,2,3]')`);
  await readTopic(topic, (r) => r.some((x) => Number(x.event?.values?.id) === 6), { timeoutMs: 60_000 });
  assert.equal(again.child.exitCode, null, 'the restarted owner is still running');
});

test('the same pipeline name on another database with the same prefix and table: exit 2', async () => {
  const table = uniqueName('own');
  const { p, topic } = await startOwner(table);
  const before = await endOffsets(topic);
  const stateBefore = await endOffsets(stateTopic(p.topicPrefix, p.name));

  // A second database on the shared cluster with a table of the same name.
  const database = uniqueName('owndb');
  await ctx.sql.query(`CREATE DATABASE ${database}`);
  ctx.cleanup(() => ctx.sql.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  const env = stackEnv();
  const db2 = new pg.Client({ host: env.pg.host, port: env.pg.port, user: env.pg.user, database });
  await db2.connect();
  ctx.cleanup(() => db2.end());
  await db2.query('CREATE EXTENSION IF NOT EXISTS vector');
  await createTable(db2, table);

  // Same name and prefix (so the state topic too), its own slot and publication (cluster-wide).
  const slot = uniqueName('owndb');
  const other = ctx.pipeline(
    table,
    { name: p.name, topicPrefix: p.topicPrefix, slot, publication: slot, postgres: { database } },
    db2,
  );
  const line = await assertRefused(other, p);
  assert.match(line, new RegExp(`on database "${database}"`));
  assert.match(line, new RegExp(`on database "${env.pg.database}"`));
  const slots = await ctx.sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
  assert.equal(slots.rowCount, 0, `no slot ${slot}`);
  const pubs = await db2.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [slot]);
  assert.equal(pubs.rowCount, 0, `no publication ${slot}`);
  assert.deepEqual(await endOffsets(topic), before, 'the first pipeline topic is untouched');
  assert.deepEqual(await endOffsets(stateTopic(p.topicPrefix, p.name)), stateBefore, 'its state untouched');
});
