// `status` answers within seconds whatever the state of the pipeline: a pipeline never started
// (no slot, no topics) is reported in one line per missing part, systems that do not answer are
// named with their config field, and the exit code says which (0 running, 1 not running or not
// created, 2 a system did not answer). The running case is in ops.test.ts. Each table's snapshot
// as the source records it in the state topic: done with its rows and chunks, running with how
// far it has to go, none yet; the exit code does not depend on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stateTopic } from '../../src/event/names.js';
import { snapshotStateKey, type TableSnapshotState } from '../../src/event/snapshot-state.js';
import { describeSnapshot, tableSnapshot, type TableSnapshot } from '../../src/ops/status-snapshots.js';
import { freePort } from '../helpers/free-port.js';
import { testKafka, withAdmin } from '../helpers/kafka.js';
import { vec, lit, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'status' });

async function neverStarted() {
  const table = uniqueName('status');
  await ctx.createTable(table, 4);
  return ctx.pipeline(table);
}

async function timed(args: string[]) {
  const t0 = Date.now();
  const run = await execVecrelay(args, { timeoutMs: 120_000 });
  return { ...run, seconds: (Date.now() - t0) / 1000 };
}

test('status of a pipeline never started: the missing slot and topic in one line each, exit 1, in seconds', async () => {
  const { p, topic, groupId, config } = await neverStarted();
  const run = await timed(['status', '--config', config]);
  const out = `${run.stdout}${run.stderr}`;
  assert.equal(run.code, 1, `exit 1: not created; output:\n${out}`);
  assert.ok(run.seconds < 30, `answered in ${run.seconds} s`);
  const lines = run.stdout.split('\n');
  const about = (what: RegExp) => lines.filter((l) => what.test(l));
  assert.equal(about(new RegExp(`replication slot ${p.slot} does not exist`)).length, 1, out);
  assert.equal(about(new RegExp(`topic ${topic.replaceAll('.', '\\.')} does not exist`)).length, 1, out);
  assert.equal(about(new RegExp(`sink group ${groupId} has no members`)).length, 1, out);
  assert.doesNotMatch(out, /does not host this topic-partition/i);
  assert.equal(run.stderr, '', 'nothing on stderr: the report says it all');
  assert.ok(lines.length < 20, `a short report (${lines.length} lines):\n${out}`);
  assert.equal(about(/^ {4}no snapshot yet$/).length, 1, out);

  const json = await timed(['status', '--config', config, '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as {
    running: boolean;
    problems: string[];
    tables: Array<{ topicExists: boolean; snapshot: TableSnapshot }>;
  };
  assert.equal(report.running, false);
  assert.equal(report.tables[0]!.topicExists, false);
  assert.deepEqual(report.tables[0]!.snapshot, { status: 'none', reason: null, rows: null, chunks: null });
  assert.ok(report.problems.some((l) => l.includes(p.slot)));
});

test('status with Kafka and Qdrant not answering: names each system and its config field, exit 2, bounded', async () => {
  const { p } = await neverStarted();
  const [kafkaPort, qdrantPort] = [await freePort(), await freePort()];
  const config = writeConfig(p, {
    kafka: {
      brokers: [`127.0.0.1:${kafkaPort}`],
      topicPrefix: p.topicPrefix,
      partitions: 3,
      replicationFactor: 1,
    },
    qdrant: { url: `http://127.0.0.1:${qdrantPort}` },
  });
  const run = await timed(['status', '--config', config]);
  const out = `${run.stdout}${run.stderr}`;
  assert.equal(run.code, 2, `exit 2: a system did not answer; output:\n${out}`);
  assert.ok(run.seconds < 40, `answered in ${run.seconds} s`);
  assert.match(run.stdout, new RegExp(`Kafka at 127\\.0\\.0\\.1:${kafkaPort} \\(kafka\\.brokers\\)`));
  assert.match(run.stdout, new RegExp(`Qdrant at http://127\\.0\\.0\\.1:${qdrantPort} \\(qdrant\\.url\\)`));
  // Postgres did answer: its part of the report is there.
  assert.match(run.stdout, new RegExp(`replication slot ${p.slot} does not exist`));
});

test('status with Postgres not answering: names it and postgres.host/port, and still reports Kafka', async () => {
  const { p } = await neverStarted();
  const pgPort = await freePort();
  const config = writeConfig(p, {
    postgres: { ...stackEnv().pg, port: pgPort, slot: p.slot, publication: p.publication },
    qdrant: { url: stackEnv().qdrantUrl },
  });
  const run = await timed(['status', '--config', config]);
  assert.equal(run.code, 2, `output:\n${run.stdout}${run.stderr}`);
  assert.ok(run.seconds < 40, `answered in ${run.seconds} s`);
  assert.match(
    run.stdout,
    new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${pgPort} \\(postgres\\.host, postgres\\.port\\)`),
  );
  assert.match(run.stdout, /topic .* does not exist/);
});

/** A table of `rows` rows (id, title, n, embedding vector(4)) and a pipeline over it. */
async function withRows(rows: number, options: Parameters<typeof ctx.pipeline>[1] = {}) {
  const table = uniqueName('status');
  await ctx.createTable(table, 4);
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 't' || i, i, $2::vector FROM generate_series(1, $1::int) i`,
    [rows, lit(vec(1, 4))],
  );
  return ctx.pipeline(table, options);
}

type Report = { running: boolean; tables: Array<{ rows: number | null; snapshot: TableSnapshot | null }> };

async function statusJson(config: string) {
  const run = await execVecrelay(['status', '--config', config, '--json'], { timeoutMs: 120_000 });
  return { code: run.code, report: JSON.parse(run.stdout) as Report };
}

test('status of a running pipeline: the snapshot done with the rows and chunks it read, in JSON and text, exit 0', async () => {
  const sp = await withRows(2_500, { snapshot: { mode: 'initial', chunkRows: 1_000, parallelism: 1 } });
  ctx.start(['run', '--config', sp.config]);
  const { code, report } = await waitFor(
    'status: running, snapshot done',
    async () => {
      const s = await statusJson(sp.config);
      return s.report.running && s.report.tables[0]!.snapshot?.status === 'done' ? s : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  assert.equal(code, 0, 'running: exit 0');
  const snap = report.tables[0]!.snapshot!;
  assert.equal(snap.reason, 'initial');
  assert.equal(snap.rows, 2_500, JSON.stringify(snap));
  assert.equal(snap.chunks, 3, 'chunks of at most 1,000 rows');
  assert.equal(snap.estimatedRows, undefined, 'no estimate once done');

  const text = await execVecrelay(['status', '--config', sp.config], { timeoutMs: 120_000 });
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /\n {4}snapshot done \(2,500 rows, 3 chunks\)\n/, text.stdout);
});

test('status of a snapshot record written by hand: running shows how far (of the rows the table holds), a resync its condition; exit code unchanged', async () => {
  const sp = await withRows(12_000);
  const topic = stateTopic(sp.p.topicPrefix, sp.p.name);
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    }),
  );
  const started = Date.parse('2026-01-01T00:00:00Z');
  const write = async (state: Partial<TableSnapshotState>) => {
    const record: TableSnapshotState = {
      table: `public.${sp.table}`,
      status: 'running',
      reason: 'initial',
      after: ['4000'],
      where: null,
      rows: 4_000,
      chunks: 2,
      startedAt: new Date(started).toISOString(),
      updatedAt: new Date(started + 10_000).toISOString(),
      ...state,
    };
    const producer = testKafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key: snapshotStateKey('public', sp.table), value: JSON.stringify(record) }],
      });
    } finally {
      await producer.disconnect();
    }
  };

  await write({});
  const { code, report } = await statusJson(sp.config);
  assert.equal(code, 1, 'never started: exit 1, running snapshot or not');
  assert.equal(report.running, false);
  assert.deepEqual(
    { ...report.tables[0]!.snapshot, startedAt: undefined, updatedAt: undefined },
    {
      status: 'running',
      reason: 'initial',
      rows: 4_000,
      chunks: 2,
      estimatedRows: 12_000,
      rowsPerSecond: 400,
      etaSeconds: 20,
      startedAt: undefined,
      updatedAt: undefined,
    },
  );
  const text = await execVecrelay(['status', '--config', sp.config], { timeoutMs: 120_000 });
  assert.equal(text.code, 1);
  assert.match(
    text.stdout,
    /\n {4}snapshot running: 4,000 of ~12,000 rows, 2 chunks, 400 rows\/s, ~20 s left\n/,
    text.stdout,
  );

  // A later record of the same key replaces it: a resync of a key range.
  await write({ reason: 'resync', where: 'id < 100', rows: 40, chunks: 1 });
  const resync = await execVecrelay(['status', '--config', sp.config], { timeoutMs: 120_000 });
  assert.equal(resync.code, 1);
  assert.match(
    resync.stdout,
    /\n {4}resync running where id < 100: 40 rows, 1 chunk, 4 rows\/s\n/,
    resync.stdout,
  );
});

test('snapshot phrases: done, running with and without an estimate, added, failed resync, legacy, none', () => {
  const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
  const own = (state: Partial<TableSnapshotState>): TableSnapshotState => ({
    table: 'public.t',
    status: 'running',
    reason: 'initial',
    after: null,
    where: null,
    rows: 0,
    chunks: 0,
    startedAt: at(0),
    updatedAt: at(0),
    ...state,
  });
  const say = (state: TableSnapshotState | undefined, rows: number | null, legacy?: { status: string }) =>
    describeSnapshot(tableSnapshot({ own: state, legacy }, rows), 'initial');
  assert.equal(
    say(own({ status: 'done', rows: 12_000, chunks: 3, updatedAt: at(6) }), 12_000),
    'snapshot done (12,000 rows, 3 chunks)',
  );
  assert.equal(
    say(own({ rows: 4_000, chunks: 1, updatedAt: at(2) }), null),
    'snapshot running: 4,000 rows, 1 chunk, 2,000 rows/s',
  );
  assert.equal(say(own({}), 12_000), 'snapshot running: 0 of ~12,000 rows, 0 chunks');
  assert.equal(
    say(own({ reason: 'added', rows: 10, chunks: 1 }), 30),
    'snapshot running (table added): 10 of ~30 rows, 1 chunk',
  );
  assert.equal(
    say(own({ status: 'done', reason: 'resync', where: 'id <', error: 'syntax error at end of input' }), 5),
    'resync failed where id <: syntax error at end of input',
  );
  assert.equal(say(undefined, 5, { status: 'done' }), 'snapshot done');
  assert.equal(say(undefined, 5, { status: 'pending' }), 'no snapshot yet');
  assert.equal(say(undefined, 5), 'no snapshot yet');
  assert.equal(
    describeSnapshot(tableSnapshot({ own: undefined, legacy: undefined }, 5), 'never'),
    'no snapshot (snapshot.mode never)',
  );
  assert.equal(describeSnapshot(null, 'initial'), 'snapshot ?');
  // A value that is not one of our records counts as none.
  assert.equal(
    describeSnapshot(tableSnapshot({ own: 'garbage' as never, legacy: undefined }, 5), 'initial'),
    'no snapshot yet',
  );
});
