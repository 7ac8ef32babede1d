// Table names escape reversibly into topic names (src/event/names.ts): `x$y` and `x_y` used to
// share a topic; now each has its own. A table whose topic was renamed by this while its events
// are still in the old topic is refused at start-up (the sink would skip them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeTopic, legacyChangeTopic, tablesTopic } from '../../src/event/names.js';
import { readTopic, topicsWithPrefix, withAdmin, testKafka } from '../helpers/kafka.js';
import { waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSourcePipelines({ prefix: 'names', defaults: { snapshot: 'initial' } });

test('x$y and x_y in one pipeline: two topics, each with its own rows', async () => {
  const base = uniqueName('nm');
  const dollar = `${base}$y`;
  const underscore = `${base}_y`;
  for (const [t, n] of [
    [dollar, 3],
    [underscore, 2],
  ] as const) {
    await ctx.sql.query(`CREATE TABLE ${t} (id int PRIMARY KEY, embedding vector(3))`);
    await ctx.sql.query(`INSERT INTO ${t} SELECT i, '[1,2,3]' FROM generate_series(1, ${n}) i`);
  }
  const p = ctx.pipeline(dollar);
  p.tables.push({ table: `public.${underscore}` });
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${underscore}`));
  ctx.startSource(writeConfig(p));
  await waitSlotStreaming(ctx.sql, p.slot);
  const dollarTopic = changeTopic(p.topicPrefix, 'public', dollar);
  const underscoreTopic = changeTopic(p.topicPrefix, 'public', underscore);
  assert.equal(dollarTopic, `${p.topicPrefix}.public.${base}-24y`);
  assert.equal(underscoreTopic, `${p.topicPrefix}.public.${underscore}`);

  await ctx.sql.query(`INSERT INTO ${dollar} VALUES (100, '[1,2,3]')`);
  // The keys in each topic. Row 100 may come twice: inserted while the snapshot runs beside the
  // stream, it is read by its chunk too when that comes later (the same row, in order).
  const ids = (records: Awaited<ReturnType<typeof readTopic>>) =>
    [...new Set(records.map((r) => Number(r.event?.values?.id)))].sort((a, b) => a - b);
  const d = await readTopic(dollarTopic, (r) => ids(r).length >= 4, { timeoutMs: 60_000 });
  assert.deepEqual(ids(d), [1, 2, 3, 100]);
  const u = await readTopic(underscoreTopic, (r) => ids(r).length >= 2, { timeoutMs: 60_000 });
  assert.deepEqual(ids(u), [1, 2]);
});

test('a table whose events are in its old-style topic is refused: exit 2 naming both topics', async () => {
  const base = uniqueName('nm');
  const table = `${base}$y`;
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3))`);
  const p = ctx.pipeline(table);
  const legacy = legacyChangeTopic(p.topicPrefix, 'public', table);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  assert.equal(legacy, `${p.topicPrefix}.public.${base}_y`);
  // What an earlier vecrelay left: the table's events in the old-style topic, and its descriptor.
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: legacy },
        { topic: tablesTopic(p.topicPrefix), configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
      ],
    }),
  );
  const producer = testKafka().producer();
  await producer.connect();
  try {
    const descriptor = {
      schema: 'public',
      table,
      topic: legacy,
      key: [{ name: 'id', type: 'int4' }],
      vectors: [],
      payload: [],
    };
    await producer.send({
      topic: tablesTopic(p.topicPrefix),
      messages: [{ key: `public.${table}`, value: JSON.stringify(descriptor) }],
    });
  } finally {
    await producer.disconnect();
  }

  const run = await execVecrelay(['source', '--config', writeConfig(p)], { timeoutMs: 60_000 });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, 2, `exit code 2; output:\n${output}`);
  const line = run.stderr.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line on stderr; output:\n${output}`);
  assert.ok(line.includes(`table public.${table}`), line);
  assert.ok(line.includes(`is now ${topic}`), line);
  assert.ok(line.includes(`in ${legacy}`), line);
  const slots = await ctx.sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [p.slot]);
  assert.equal(slots.rowCount, 0, 'no slot');
  assert.ok(!(await topicsWithPrefix(p.topicPrefix)).includes(topic), 'no new topic');
});
