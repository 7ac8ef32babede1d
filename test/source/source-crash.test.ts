// Guarantee 1 across crashes, and the slot's movement: a SIGKILL mid-stream loses nothing (a
// replayed suffix is allowed, per-key order is kept), and an idle pipeline lets the slot advance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalKey } from '../../src/event/key.js';
import { changeTopic } from '../../src/kafka/topics.js';
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { readTopic, type TopicRecord } from '../helpers/kafka.js';
import { slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'crash' });
const { pipeline, startSource } = ctx;

const keyOf = (id: number) => canonicalKey(['id'], { id: BigInt(id) });

test('SIGKILL during a 10k-row stream: after restart every change is in Kafka, per-key order kept', async () => {
  const { sql } = ctx;
  const table = uniqueName('crash');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(16))`);
  const p = pipeline(table, { snapshot: 'never' });
  const config = writeConfig(p);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const first = startSource(config);
  await waitSlotStreaming(sql, p.slot);

  // 10k rows in 100 transactions, then every row updated once: version 1 must end last per key.
  const rows = 10_000;
  for (let t = 0; t < 100; t++) {
    await sql.query(
      `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[16])::vector FROM generate_series($1::int, $1::int + 99) i`,
      [t * 100 + 1],
    );
    if (t === 30) {
      // Kill while the stream is busy: some of the backlog is in Kafka, some is not.
      await readTopic(topic, (r) => r.length > 500, { timeoutMs: 60_000 });
      first.child.kill('SIGKILL');
      await first.exited;
    }
  }
  await sql.query(`UPDATE ${table} SET version = 1`);
  startSource(config);

  let records: TopicRecord[] = [];
  await readTopic(
    topic,
    (r) => {
      records = r;
      const seen = new Set(r.filter((x) => x.event?.values?.version === 1n).map((x) => x.key));
      return seen.size === rows;
    },
    { timeoutMs: 180_000 },
  );
  // Per key: the insert (version 0) comes before the update (version 1) — comparing the last
  // occurrence of each, since a replay after the crash may repeat a suffix.
  const lastIndex = new Map<string, { v0: number; v1: number }>();
  records.forEach((r, i) => {
    const e = lastIndex.get(r.key) ?? { v0: -1, v1: -1 };
    if (r.event?.values?.version === 0n) e.v0 = i;
    if (r.event?.values?.version === 1n) e.v1 = i;
    lastIndex.set(r.key, e);
  });
  for (let id = 1; id <= rows; id++) {
    const e = lastIndex.get(keyOf(id));
    assert.ok(e && e.v0 >= 0, `insert of ${id} present`);
    assert.ok(e.v1 > e.v0, `update of ${id} after its insert`);
  }
});

test('idle pipeline: with no table changes but other WAL traffic, confirmed_flush_lsn advances', async () => {
  const { sql } = ctx;
  const table = uniqueName('idle');
  const other = uniqueName('other');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3))`);
  await sql.query(`CREATE TABLE ${other} (id int)`);
  ctx.cleanup(() => sql.query(`DROP TABLE IF EXISTS ${other}`));
  const p = pipeline(table, { snapshot: 'never' });
  startSource(writeConfig(p));
  await waitSlotStreaming(sql, p.slot);
  const start = (await slotInfo(sql, p.slot))!.confirmed!;
  // Traffic on a table the pipeline does not capture.
  for (let i = 0; i < 20; i++) await sql.query(`INSERT INTO ${other} SELECT generate_series(1, 100)`);
  // The insert position: with synchronous_commit = off (the stack's), pg_current_wal_lsn() is the
  // WAL writer's position and may not have moved yet, which would make the wait below vacuous.
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  const target = parseLsn(rows[0]!.lsn);
  assert.ok(target > parseLsn(start), 'the other traffic wrote WAL');
  await waitFor(
    'the slot to confirm past the other traffic',
    async () => parseLsn((await slotInfo(sql, p.slot))!.confirmed!) >= target,
    { timeoutMs: 30_000 },
  );
  assert.ok(parseLsn((await slotInfo(sql, p.slot))!.confirmed!) > parseLsn(start));
});
