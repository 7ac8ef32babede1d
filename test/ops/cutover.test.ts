// `vecrelay cutover`'s conditions against real Postgres, Kafka and the sink: a snapshot that is not
// complete (no record, or one still running) keeps it from saying exact, also on a cold start; a
// dead letter of a change at or below the target makes it fail, naming the row and `vecrelay dlq`,
// until it is replayed or a later change of its key is applied; the target is the WAL insert position, so a commit that returned with
// synchronous_commit = off before the call is in Qdrant when it returns. Exactness under racing
// writes is test/ops/ops.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig } from '../../src/config/load.js';
import { deadLetterHeaders, toKafkaHeaders, type Headers } from '../../src/kafka/dead-letter-codec.js';
import { stateTopic } from '../../src/event/names.js';
import { snapshotStateKey, type TableSnapshotState } from '../../src/event/snapshot-state.js';
import { openOps } from '../../src/ops/connect.js';
import { cutover } from '../../src/ops/cutover.js';
import { createLogger } from '../../src/shared/log.js';
import { connectPg, currentLsn, slotInfo } from '../helpers/pg.js';
import { testKafka } from '../helpers/kafka.js';
import { pointCount, qdrantRequest, scrollAll } from '../helpers/qdrant.js';
import { useSinkPipelines, type SinkPipeline } from '../helpers/sink-pipeline.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay, execVecrelayOk } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'cut' });

/** A table of `rows` rows (id, version 0, embedding) and a pipeline over it. */
async function pipeline(rows: number): Promise<SinkPipeline> {
  const table = uniqueName('cut');
  await ctx.sql.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(8))`,
  );
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[8])::vector FROM generate_series(1, $1::int) i`,
    [rows],
  );
  return ctx.pipeline(table);
}

/** Waits until the collection holds `rows` points. */
async function waitPoints(sp: SinkPipeline, rows: number) {
  await waitFor(
    `${rows} points in ${sp.collection}`,
    async () => (await pointCount(sp.collection)) === rows,
    {
      timeoutMs: 120_000,
      intervalMs: 250,
    },
  );
}

/** Sends records to a topic of the pipeline (the state or the dead-letter topic). */
async function produce(
  topic: string,
  messages: Array<{ key: Buffer | string | null; value: Buffer | string | null; headers?: Headers }>,
) {
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        partition: 0,
        ...(m.headers ? { headers: toKafkaHeaders(m.headers) } : {}),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** The table's own snapshot record, as the source's chunked snapshots write it. */
function snapshotRecord(table: string, status: 'running' | 'done', rows: number, chunks: number) {
  const state: TableSnapshotState = {
    table: `public.${table}`,
    status,
    reason: 'resync',
    after: status === 'done' ? null : [String(rows)],
    where: null,
    rows,
    chunks,
    startedAt: new Date().toISOString(),
    updatedAt: new Date().toISOString(),
  };
  return { key: snapshotStateKey('public', table), value: JSON.stringify(state) };
}

/** The first record of `topic` whose key is row `id`'s (the raw message). */
async function rawRecord(topic: string, id: number): Promise<{ partition: number; message: KafkaMessage }> {
  const consumer = testKafka().consumer({ groupId: `test-raw-${randomUUID()}` });
  const ofRow = new RegExp(`(^|\\D)${id}(\\D|$)`);
  await consumer.connect();
  try {
    let found: { partition: number; message: KafkaMessage } | undefined;
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (!found && ofRow.test(message.key?.toString('utf8') ?? '')) found = { partition, message };
      },
    });
    return await waitFor(`the record of row ${id} in ${topic}`, () => found, { timeoutMs: 60_000 });
  } finally {
    await consumer.disconnect();
  }
}

/** Row `id`'s record as the sink dead-letters one Qdrant refused: its original bytes and headers. */
async function sinkDeadLetter(sp: SinkPipeline, id: number) {
  const { partition, message } = await rawRecord(sp.topic, id);
  const original: Headers = Object.entries(message.headers ?? {}).map(([n, v]) => [
    n,
    Buffer.from(v as Buffer),
  ]);
  return {
    key: message.key,
    value: message.value,
    headers: deadLetterHeaders(
      { stage: 'sink', topic: sp.topic, partition, offset: message.offset },
      'Wrong input: Vector dimension error: expected dim: 3, got 8',
      original,
    ),
  };
}

/** Seconds the command says it took ("(4.21 s)"). */
const printed = (stdout: string) => Number(/\((?:[^()]*: )?([\d.]+) s\)/.exec(stdout)?.[1] ?? NaN);

test('cold start: not exact before the snapshot is recorded; when it returns 0 every row committed before it is in Qdrant', async () => {
  const rows = 100_000;
  const sp = await pipeline(rows);
  // Nothing started: no snapshot record at all.
  const early = await execVecrelay(['cutover', '--config', sp.config, '--timeout', '2']);
  assert.equal(early.code, 1, early.stdout + early.stderr);
  assert.match(early.stdout, new RegExp(`snapshot of public\\.${sp.table} not complete: no snapshot record`));
  assert.match(
    early.stderr,
    new RegExp(`waiting for the snapshot of 1 table:\\n  snapshot of public\\.${sp.table}`),
  );

  // `run` started and cutover called as soon as the slot exists, on a quiet database: the new
  // slot's confirmed position is the target's neighbour while the snapshot is still being read.
  ctx.start(['run', '--config', sp.config]);
  await waitFor('the slot', () => slotInfo(ctx.sql, sp.p.slot), { intervalMs: 20, timeoutMs: 60_000 });
  const t0 = performance.now();
  const run = await execVecrelay(['cutover', '--config', sp.config, '--timeout', '240'], {
    timeoutMs: 300_000,
  });
  const wall = (performance.now() - t0) / 1000;
  const points = await pointCount(sp.collection); // the moment it returns
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /cutover: exact/);
  assert.equal(points, rows, 'every row of the snapshot is in Qdrant');
  // The time printed is the time the command took (from its start, connecting included).
  const said = printed(run.stdout);
  assert.ok(said <= wall && said >= wall * 0.5, `printed ${said} s, took ${wall.toFixed(2)} s`);
});

test("a table's snapshot record still running keeps cutover from saying exact; once done it is exact", async () => {
  const sp = await pipeline(50);
  ctx.start(['run', '--config', sp.config]);
  await waitPoints(sp, 50);
  const state = stateTopic(sp.p.topicPrefix, sp.p.name);
  // The table's own record overrides the pipeline-wide one (done, written by the source).
  await produce(state, [snapshotRecord(sp.table, 'running', 40, 2)]);
  const running = await execVecrelay(['cutover', '--config', sp.config, '--timeout', '3']);
  assert.equal(running.code, 1, running.stdout + running.stderr);
  assert.match(
    running.stdout,
    new RegExp(
      `NOT exact[\\s\\S]*snapshot of public\\.${sp.table} not complete: running \\(resync\\): 40 rows in 2 chunks so far`,
    ),
  );
  assert.doesNotMatch(running.stderr, /waiting for the source/, 'the snapshot is waited for first');

  await produce(state, [snapshotRecord(sp.table, 'done', 50, 3)]);
  const done = await execVecrelayOk(['cutover', '--config', sp.config, '--timeout', '120']);
  assert.match(done.stdout, /cutover: exact/);
  // Each condition it waited on, once, in order.
  const phases = done.stderr.split('\n').filter((l) => l.startsWith('cutover: '));
  assert.deepEqual(
    phases.map((l) => l.replace(/ (WAL position|group) .*/, '')),
    [
      'cutover: waiting for the source to confirm',
      'cutover: waiting for the sink',
      'cutover: checking the dead letters',
    ],
    done.stderr,
  );
});

test('a dead letter at or below the target fails cutover, naming the row and `vecrelay dlq`; replayed or superseded, it no longer does', async () => {
  const sp = await pipeline(20);
  ctx.start(['run', '--config', sp.config]);
  await waitPoints(sp, 20);

  const letter = await sinkDeadLetter(sp, 5);
  await produce(sp.deadLetterTopic, [letter]);
  const failed = await execVecrelay(['cutover', '--config', sp.config, '--timeout', '120']);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  const key = letter.key!.toString('utf8');
  assert.match(failed.stdout, /NOT exact .*1 dead letter of changes at or below the target/);
  assert.ok(failed.stdout.includes(`public.${sp.table} key ${key} at LSN `), failed.stdout);
  assert.match(failed.stdout, /\(snapshot row\) — sink dead letter 0:0: Wrong input: Vector dimension error/);
  assert.match(failed.stdout, /vecrelay dlq --config /);

  // Replayed (`vecrelay dlq --replay`): once the sink applied the copy, it no longer blocks. A
  // dead letter of a change after the target does not block either.
  await execVecrelayOk(['dlq', '--config', sp.config, '--replay', '0:0', '--yes'], { timeoutMs: 120_000 });
  const later = (BigInt(`0x${(await currentLsn(ctx.sql)).split('/')[0]}`) + 1n).toString(16).toUpperCase();
  const sourceLetter = (lsn: string, id: number) => ({
    key: `public.${sp.table}`,
    value: JSON.stringify({
      from: 'source',
      reason: 'oversized',
      table: `public.${sp.table}`,
      op: 'update',
      key: `{"id":${id}}`,
      lsn,
      xid: 1,
    }),
    headers: deadLetterHeaders(
      { stage: 'source', table: `public.${sp.table}`, op: 'update', lsn, xid: 1 },
      `the row's event is over source.batchMaxBytes (row ${id})`,
    ),
  });
  await produce(sp.deadLetterTopic, [sourceLetter(`${later}/0`, 7)]);
  // Nor does one settled by a later change of its key that the sink applied (`dlq --replay`
  // skips it as superseded).
  await produce(sp.deadLetterTopic, [await sinkDeadLetter(sp, 6)]);
  await ctx.sql.query(`UPDATE ${sp.table} SET version = 1 WHERE id = 6`);
  const exact = await execVecrelayOk(['cutover', '--config', sp.config, '--timeout', '120'], {
    timeoutMs: 180_000,
  });
  assert.match(exact.stdout, /cutover: exact/);

  // A source dead letter (a row that never became an event) below the target.
  await produce(sp.deadLetterTopic, [sourceLetter(await currentLsn(ctx.sql), 9)]);
  const again = await execVecrelay(['cutover', '--config', sp.config, '--timeout', '120']);
  assert.equal(again.code, 1, again.stdout + again.stderr);
  assert.match(
    again.stdout,
    new RegExp(`public\\.${sp.table} key \\{"id":9\\} at LSN .* source dead letter 0:\\d+: .*row 9`),
  );
  assert.doesNotMatch(again.stdout, /"id":7/, 'the one after the target is not named');
  assert.match(again.stdout, /vecrelay dlq/);
});

test('the target is the WAL insert position: a commit that returned (synchronous_commit = off) before the call is in Qdrant when it returns', async () => {
  const sp = await pipeline(10);
  ctx.start(['run', '--config', sp.config]);
  await waitPoints(sp, 10);
  if (!stackEnv().qdrantIsReal)
    // The next write to this collection (the update's) takes seconds: a cutover aiming short of
    // the commit returns before it is applied. A count, not a cleanup (the server is shared): the
    // rule is used up by that write.
    await qdrantRequest('POST', '/__test/faults', {
      delay_ms: 3000,
      count: 1,
      paths: `^/collections/${sp.collection}/points(/batch|/delete)?$`,
    });
  const config = loadConfig(sp.config);
  const ops = await openOps(config, createLogger({ level: 'silent' }));
  const writer = await connectPg();
  try {
    await writer.query(`SET synchronous_commit = off`);
    await writer.query(`UPDATE ${sp.table} SET version = 1 WHERE id = 1`);
    const returned = await currentLsn(writer); // at or past the commit that just returned
    const result = await cutover(config, ops, { timeoutMs: 120_000 });
    assert.equal(result.ok, true, result.behind.join('\n'));
    const point = (await scrollAll(sp.collection)).find((p) => Number(p.id) === 1);
    assert.equal(point?.payload.version, 1, 'the update committed before the call is in Qdrant');
    const { rows } = await ctx.sql.query<{ ok: boolean }>(`SELECT $1::pg_lsn >= $2::pg_lsn AS ok`, [
      result.targetLsn,
      returned,
    ]);
    assert.ok(rows[0]!.ok, `target ${result.targetLsn} is short of the returned commit (${returned})`);
  } finally {
    await writer.end();
    await ops.close();
  }
});
