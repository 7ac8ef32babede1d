// `status` answers within seconds whatever the state of the pipeline: a pipeline never started
// (no slot, no topics) is reported in one line per missing part, systems that do not answer are
// named with their config field, and the exit code says which (0 running, 1 not running or not
// created, 2 a system did not answer). The running case is in ops.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/free-port.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { stackEnv, uniqueName } from '../helpers/stack.js';
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

  const json = await timed(['status', '--config', config, '--json']);
  assert.equal(json.code, 1);
  const report = JSON.parse(json.stdout) as {
    running: boolean;
    problems: string[];
    tables: Array<{ topicExists: boolean }>;
  };
  assert.equal(report.running, false);
  assert.equal(report.tables[0]!.topicExists, false);
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
