// `vecrelay plan` as a real process against real PostgreSQL: each blocker is reported (in the JSON
// checks and as a BLOCKER line with its fix) with a non-zero exit; a good database passes, the
// report shows what was found, and the generated config validates and runs with `vecrelay source`.
// Each test gets its own database (or scratch cluster), so discovery sees only its own tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.js';
import type { PlanReport } from '../../src/plan/types.js';
import { readTopic, testKafka, withAdmin } from '../helpers/kafka.js';
import { createLoginRole } from '../helpers/pg.js';
import { scratchClusterWithVector } from '../helpers/scratch-cluster.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import { useTestHooks } from '../helpers/test-hooks.js';
import { execVecrelay, type VecrelayRun } from '../helpers/vecrelay-exec.js';

const ctx = useTestHooks();

/** Runs `vecrelay plan ...args` to completion; PGPASSWORD is empty unless `env` sets one (not ours). */
function plan(args: string[], env: Record<string, string> = {}): Promise<VecrelayRun> {
  return execVecrelay(['plan', ...args], { env: { PGPASSWORD: '', ...env }, timeoutMs: 120_000 });
}

function planJson(run: VecrelayRun): PlanReport {
  try {
    return JSON.parse(run.stdout) as PlanReport;
  } catch (err) {
    throw new Error(`plan --json printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`, {
      cause: err,
    });
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The human report has `LEVEL  object  message...` followed, when there is a fix, by `fix: ...`. */
function assertLine(run: VecrelayRun, level: string, object: string, message: RegExp, fix?: RegExp) {
  const lines = run.stdout.split('\n');
  const i = lines.findIndex(
    (l) => new RegExp(`^\\s+${level}\\s+${escape(object)}\\s+`).test(l) && message.test(l),
  );
  assert.ok(i >= 0, `a ${level} line for ${object} matching ${message}; output:\n${run.stdout}`);
  if (fix) assert.match(lines[i + 1] ?? '', new RegExp(`^\\s+fix: .*${fix.source}`));
  assert.ok(!run.stdout.includes('\x1b['), 'no colour when stdout is not a terminal');
}

/** A new database on the stack's cluster with pgvector; dropped (with its slots) afterwards. */
async function createDatabase() {
  const { sql } = ctx;
  const name = uniqueName('plan');
  await sql.query(`CREATE DATABASE ${name}`);
  const { host, port, user } = stackEnv().pg;
  const client = new pg.Client({ host, port, user, database: name });
  await client.connect();
  ctx.cleanup(async () => {
    await client.end().catch(() => {});
    await waitFor(`slots of ${name} released`, async () => {
      const { rows } = await sql.query<{ slot_name: string; active: boolean }>(
        `SELECT slot_name, active FROM pg_replication_slots WHERE database = $1`,
        [name],
      );
      for (const r of rows)
        if (!r.active) await sql.query(`SELECT pg_drop_replication_slot($1)`, [r.slot_name]);
      return rows.every((r) => !r.active);
    });
    await sql.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
  await client.query('CREATE EXTENSION vector');
  const url = (u = user) => `postgresql://${u}@${host}:${port}/${name}`;
  return { name, client, url };
}

async function createGoodTable(db: pg.Client, table: string, rows = 50) {
  await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, title text, embedding vector(8))`);
  await db.query(`CREATE INDEX ${table}_embedding ON ${table} USING hnsw (embedding vector_cosine_ops)`);
  await db.query(
    `INSERT INTO ${table} SELECT i, 'row ' || i, array_fill(i::real, ARRAY[8])::vector FROM generate_series(1, $1) i`,
    [rows],
  );
}

test('wal_level = replica (a second cluster): BLOCKER wal_level with the fix, exit 1', async () => {
  const { cluster, client } = await scratchClusterWithVector({ wal_level: 'replica' }, ctx);
  await createGoodTable(client, 'items');
  const url = `postgresql://${cluster.user}@${cluster.host}:${cluster.port}/${cluster.database}`;

  const json = await plan(['--url', url, '--json']);
  assert.equal(json.code, 1, `exit 1 on a blocker; stderr: ${json.stderr}`);
  const report = planJson(json);
  assert.equal(report.server.walLevel, 'replica');
  const check = report.checks.find((c) => c.object === 'wal_level');
  assert.equal(check?.level, 'blocker');
  assert.match(
    check.message,
    new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${cluster.port} has wal_level = replica`),
  );
  assert.match(check.fix, /ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL/);
  assert.ok(report.summary.blockers >= 1);

  const human = await plan(['--url', url]);
  assert.equal(human.code, 1);
  assertLine(
    human,
    'BLOCKER',
    'wal_level',
    /has wal_level = replica/,
    /ALTER SYSTEM SET wal_level = logical/,
  );
  assert.match(human.stdout, /^\d+ blockers?, \d+ warnings?: fix the blockers/m);
});

test('a table without a key and one with REPLICA IDENTITY NOTHING: BLOCKER each, exit 1', async () => {
  const db = await createDatabase();
  const nokey = uniqueName('nokey');
  const nothing = uniqueName('nothing');
  await db.client.query(`CREATE TABLE ${nokey} (id int, embedding vector(3))`);
  await db.client.query(`CREATE TABLE ${nothing} (id int PRIMARY KEY, embedding vector(3))`);
  await db.client.query(`ALTER TABLE ${nothing} REPLICA IDENTITY NOTHING`);

  const json = await plan(['--url', db.url(), '--json']);
  assert.equal(json.code, 1, `exit 1 on a blocker; stderr: ${json.stderr}`);
  const report = planJson(json);
  const keyCheck = report.checks.find((c) => c.object === `public.${nokey}` && c.level === 'blocker');
  assert.ok(keyCheck, `a blocker for public.${nokey}: ${JSON.stringify(report.checks, null, 1)}`);
  assert.match(keyCheck.message, new RegExp(`table public\\.${nokey} has no primary key`));
  assert.match(keyCheck.fix, new RegExp(`ALTER TABLE public\\.${nokey} ADD PRIMARY KEY`));
  assert.match(keyCheck.fix, new RegExp(`ALTER TABLE public\\.${nokey} REPLICA IDENTITY FULL`));
  const identity = report.checks.find((c) => c.object === `public.${nothing}` && c.level === 'blocker');
  assert.match(identity?.message ?? '', /has REPLICA IDENTITY NOTHING/);
  assert.match(identity?.fix ?? '', new RegExp(`ALTER TABLE public\\.${nothing} REPLICA IDENTITY DEFAULT`));
  // Both tables are still in the generated config, their blockers written beside them.
  assert.match(
    report.config,
    new RegExp(`# BLOCKER public\\.${nokey}: table public\\.${nokey} has no primary key`),
  );
  assert.match(report.config, new RegExp(`- table: public\\.${nothing}`));

  const human = await plan(['--url', db.url()]);
  assert.equal(human.code, 1);
  assertLine(human, 'BLOCKER', `public.${nokey}`, /has no primary key/, /ADD PRIMARY KEY/);
  assertLine(human, 'BLOCKER', `public.${nothing}`, /REPLICA IDENTITY NOTHING/, /REPLICA IDENTITY DEFAULT/);
});

test('a replica identity index that is not the key: BLOCKER naming the index and the fix; one on a table without primary key keys it', async () => {
  const db = await createDatabase();
  const wrong = uniqueName('wrongidx');
  const nopk = uniqueName('identkey');
  await db.client.query(
    `CREATE TABLE ${wrong} (id int PRIMARY KEY, ext text NOT NULL UNIQUE, embedding vector(3))`,
  );
  await db.client.query(`ALTER TABLE ${wrong} REPLICA IDENTITY USING INDEX ${wrong}_ext_key`);
  await db.client.query(`CREATE TABLE ${nopk} (ext text NOT NULL UNIQUE, embedding vector(3))`);
  await db.client.query(`ALTER TABLE ${nopk} REPLICA IDENTITY USING INDEX ${nopk}_ext_key`);

  const json = await plan(['--url', db.url(), '--json']);
  assert.equal(json.code, 1, `exit 1 on a blocker; stderr: ${json.stderr}`);
  const report = planJson(json);
  const blockers = (table: string) =>
    report.checks.filter((c) => c.object === `public.${table}` && c.level === 'blocker');
  const [check] = blockers(wrong);
  assert.match(
    check?.message ?? '',
    new RegExp(`REPLICA IDENTITY USING INDEX ${wrong}_ext_key \\(ext\\), which lacks id`),
  );
  assert.match(check?.fix ?? '', new RegExp(`ALTER TABLE public\\.${wrong} REPLICA IDENTITY DEFAULT`));
  assert.deepEqual(blockers(nopk), [], 'the table keyed by its identity index has no blocker');
  assert.deepEqual(report.tables.find((t) => t.table === `public.${nopk}`)?.key, ['ext']);
});

test('a role without REPLICATION: BLOCKER naming the role and ALTER ROLE, no password shown, exit 1', async () => {
  const { role, password } = await createLoginRole(ctx, 'NOREPLICATION', 'norepl');
  const db = await createDatabase(); // dropped before the role (cleanups run in reverse)
  const table = uniqueName('items');
  await createGoodTable(db.client, table);
  await db.client.query(`GRANT SELECT ON ${table} TO ${role}`);

  const json = await plan(['--url', db.url(role), '--json'], { PGPASSWORD: password });
  assert.equal(json.code, 1, `exit 1 on a blocker; stderr: ${json.stderr}`);
  const report = planJson(json);
  assert.equal(report.server.user, role);
  const check = report.checks.find((c) => c.object === `role ${role}`);
  assert.equal(check?.level, 'blocker');
  assert.match(check.message, new RegExp(`role ${role} may not stream changes`));
  assert.match(check.fix, new RegExp(`ALTER ROLE ${role} REPLICATION`));
  // It owns no table either: the publication has to be created by the owner.
  const publication = report.checks.find((c) => c.object.startsWith('publication '));
  assert.equal(publication?.level, 'blocker');
  assert.match(
    publication.message,
    new RegExp(`role ${role} may not create publication .*not the owner of public\\.${table}`),
  );
  assert.match(publication.fix, /CREATE PUBLICATION/);
  // SELECT was granted: that line is OK.
  assert.ok(
    report.checks.some((c) => c.object === `public.${table}` && c.level === 'ok' && /SELECT/.test(c.message)),
  );

  const human = await plan(['--url', db.url(role)], { PGPASSWORD: password });
  assert.equal(human.code, 1);
  assertLine(
    human,
    'BLOCKER',
    `role ${role}`,
    /may not stream changes/,
    new RegExp(`ALTER ROLE ${role} REPLICATION`),
  );
  for (const run of [json, human])
    assert.ok(!`${run.stdout}${run.stderr}`.includes(password), 'the password never appears in the output');
});

test('a good database: exit 0, the table reported, and the generated config validates and runs', async () => {
  const db = await createDatabase();
  const table = uniqueName('items');
  await createGoodTable(db.client, table);
  await db.client.query(`UPDATE ${table} SET embedding = NULL WHERE id <= 3`);
  await db.client.query(`ANALYZE ${table}`);
  const env = stackEnv();
  const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-plan-'));
  const file = path.join(dir, 'generated.yaml');
  const flags = ['--brokers', env.kafkaBrokers.join(','), '--qdrant-url', env.qdrantUrl];
  // The sink writes points over gRPC by default: the generated config names the server's port.
  if (env.qdrantGrpcUrl) flags.push('--qdrant-grpc-url', env.qdrantGrpcUrl);

  const json = await plan(['--url', db.url(), '--json', '--write', file, ...flags]);
  assert.equal(json.code, 0, `exit 0 without blockers; stdout:\n${json.stdout}\nstderr:\n${json.stderr}`);
  const report = planJson(json);
  assert.equal(report.summary.blockers, 0, JSON.stringify(report.checks, null, 1));
  assert.equal(report.server.walLevel, 'logical');
  assert.match(report.server.pgvector ?? '', /^\d+\.\d+/);
  assert.equal(report.tables.length, 1);
  const t = report.tables[0]!;
  assert.equal(t.table, `public.${table}`);
  assert.equal(t.rowEstimate, 50);
  assert.deepEqual(t.primaryKey, ['id']);
  assert.equal(t.replicaIdentity, 'default');
  assert.ok((t.sizeBytes ?? 0) > 0);
  assert.deepEqual(
    t.indexes.map((i) => [i.name, i.method, i.opclass, i.distance]),
    [[`${table}_embedding`, 'hnsw', 'vector_cosine_ops', 'Cosine']],
  );
  const v = t.vectors[0]!;
  assert.deepEqual(
    [v.column, v.type, v.dimension, v.distance, v.distanceFrom, v.nulls],
    ['embedding', 'vector(8)', 8, 'Cosine', 'index', 3],
  );
  const nulls = report.checks.find((c) => c.object === `public.${table}.embedding` && c.level === 'warn');
  assert.match(nulls?.message ?? '', /3 rows have NULL embedding: they become points without that vector/);
  assert.equal(readFileSync(file, 'utf8'), report.config, '--write wrote the generated config');

  // The human report: the table's row with its row estimate, dimension and distance.
  const human = await plan(['--url', db.url(), ...flags]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^No blockers, \d+ warnings?: ready to run\.$/m);
  assert.match(
    human.stdout,
    new RegExp(
      `^\\s+public\\.${table}\\s+50\\s+\\S+ \\S+\\s+id\\s+default\\s+embedding\\s+vector\\(8\\)\\s+8\\s+3\\s+${table}_embedding \\(hnsw vector_cosine_ops\\)\\s+Cosine$`,
      'm',
    ),
  );
  assertLine(human, 'OK', `public.${table}.embedding`, /vector\(8\): Qdrant distance Cosine, from index/);
  assertLine(human, 'OK', 'wal_level', /logical/);
  assert.match(human.stdout, /^# ---- generated config/m, 'the config follows the report');

  // The generated config is valid...
  const config = parseConfig(report.config, file, { PGPASSWORD: 'unused' });
  assert.equal(config.postgres.database, db.name);
  assert.equal(config.postgres.passwordEnv, 'PGPASSWORD');
  assert.deepEqual(config.kafka.brokers, env.kafkaBrokers);
  assert.equal(config.qdrant?.url, env.qdrantUrl);
  assert.deepEqual(config.tables, [{ table: `public.${table}`, key: ['id'], vectors: ['embedding'] }]);

  // ...and runs: the source snapshots the table into its topic.
  const topic = `${config.kafka.topicPrefix}.public.${table}`;
  const state = `${config.kafka.topicPrefix}._state.${config.name}`;
  ctx.cleanup(async () => {
    // Only what the source created (a producer would wait for a topic that never came).
    const existing = new Set(await withAdmin((admin) => admin.listTopics()));
    const made = [topic, state].filter((t) => existing.has(t));
    if (made.length) await withAdmin((admin) => admin.deleteTopics({ topics: made }).catch(() => {}));
    if (!existing.has(`${config.kafka.topicPrefix}._tables`)) return;
    // The shared descriptor topic keeps a record per table: a tombstone removes this one.
    const producer = testKafka().producer();
    await producer.connect();
    await producer.send({
      topic: `${config.kafka.topicPrefix}._tables`,
      messages: [{ key: `public.${table}`, value: null }],
    });
    await producer.disconnect();
  });
  const source = ctx.start(['source', '--config', file], { PGPASSWORD: 'unused' });
  // Fails the wait at once if the source exits instead of running.
  const died = source.exited.then(({ code }) => {
    throw new Error(`the source exited (code ${code})`);
  });
  died.catch(() => {});
  try {
    await withAdmin((admin) =>
      Promise.race([
        died,
        waitFor(`topic ${topic}`, async () => (await admin.listTopics()).includes(topic), {
          timeoutMs: 60_000,
        }),
      ]),
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; source output:\n${readFileSync(source.logFile, 'utf8')}`);
  }
  const records = await readTopic(topic, (r) => r.length >= 50);
  assert.equal(new Set(records.map((r) => r.key)).size, 50, 'every row snapshotted');
  assert.ok(records.every((r) => r.event?.op === 'r'));

  // With the pipeline's slot and publication now in place, plan --config reuses them; a table
  // the config does not name is listed as INFO.
  const other = uniqueName('other');
  await db.client.query(`CREATE TABLE ${other} (id int PRIMARY KEY, v halfvec(4))`);
  const again = await plan(['--config', file, '--json'], { PGPASSWORD: 'unused' });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const checked = planJson(again);
  assert.equal(
    checked.checks.find((c) => c.object === `slot ${config.postgres.slot}`)?.level !== 'blocker',
    true,
  );
  assert.match(
    checked.checks.find((c) => c.object === `publication ${config.postgres.publication}`)?.message ?? '',
    /exists and publishes every table: reused/,
  );
  const info = checked.checks.find((c) => c.object === `public.${other}`);
  assert.equal(info?.level, 'info');
  assert.match(info.message, /has vector columns \(v halfvec\(4\)\) and is not in this config/);
  assert.deepEqual(
    checked.tables.map((x) => x.table),
    [`public.${table}`],
  );

  source.child.kill('SIGTERM');
  assert.equal((await source.exited).code, 0, 'the source stopped cleanly');
});
