// Failures retrying cannot fix stop `vecrelay run` at once (DESIGN.md guarantee 7): exit code 2
// within 10 s, one `vecrelay: ...` line naming the system and its config field (the message
// `vecrelay plan` gives), and nothing left behind — the preflight checks PostgreSQL, Kafka and
// Qdrant before the slot, the publication or a topic is created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { topicsWithPrefix } from '../helpers/kafka.js';
import { createLoginRole } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { dropCollection, qdrantRequest } from '../helpers/qdrant.js';
import { requirePassword, scratchClusterWithVector } from '../helpers/scratch-cluster.js';
import { freePort } from '../helpers/free-port.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { stackEnv, uniqueName } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSourcePipelines({ prefix: 'ff', defaults: { snapshot: 'initial' } });

const LIMIT_MS = 10_000;

/**
 * `vecrelay run` until it exits: its code, its whole output, and how long it took beyond starting
 * up — what `vecrelay --version` takes on this machine right now is taken off, so the bound is on
 * the checks (no retrying), not on how busy the machine is.
 */
async function runToExit(config: string, env: Record<string, string> = {}) {
  const before = Date.now();
  await execVecrelay(['--version'], { timeoutMs: 60_000 });
  const startUp = Date.now() - before;
  const started = Date.now();
  const run = await execVecrelay(['run', '--config', config], { env, timeoutMs: 60_000 });
  return { ...run, ms: Date.now() - started - startUp, output: `${run.stdout}\n${run.stderr}` };
}

/** Exit 2 within LIMIT_MS, and a `vecrelay: ...` line on stderr matching every pattern. */
function assertFailsFast(run: Awaited<ReturnType<typeof runToExit>>, ...patterns: RegExp[]): string {
  assert.equal(run.code, 2, `exit code 2; output:\n${run.output}`);
  assert.ok(
    run.ms < LIMIT_MS,
    `exited within ${LIMIT_MS} ms of starting (took ${run.ms} ms more); output:\n${run.output}`,
  );
  const line = run.stderr.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line on stderr; output:\n${run.output}`);
  for (const p of patterns) assert.match(line, p);
  return line;
}

/** Nothing was created: no slot, no publication (on `db`), no topic of the pipeline. */
async function assertNothingCreated(db: pg.Client, p: TestPipeline) {
  const slots = await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [p.slot]);
  assert.equal(slots.rowCount, 0, `no slot ${p.slot}`);
  const pubs = await db.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [p.publication]);
  assert.equal(pubs.rowCount, 0, `no publication ${p.publication}`);
  assert.deepEqual(await topicsWithPrefix(p.topicPrefix), [], 'no topics');
}

const qdrant = () => ({ url: stackEnv().qdrantUrl });

async function createTable(db: pg.Client, table: string, vectors = 'embedding vector(3)') {
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, ${vectors})`);
  await db.query(`INSERT INTO ${table} (id, title) VALUES (1, 'one')`);
}

test('a wrong Postgres password: exit 2 within 10 s naming the server and postgres.passwordEnv', async () => {
  const { cluster, client } = await scratchClusterWithVector({ wal_level: 'logical' }, ctx);
  const { role, password, passwordEnv } = await createLoginRole(
    { sql: client, cleanup: ctx.cleanup },
    'REPLICATION',
  );
  const connection = await requirePassword(cluster, client, role);
  const table = uniqueName('pw');
  await createTable(client, table);
  await client.query(`GRANT SELECT ON ${table} TO ${role}`);
  const p = ctx.pipeline(table, { postgres: { ...connection, passwordEnv } }, client);
  const run = await runToExit(writeConfig(p, { qdrant: qdrant() }), { [passwordEnv]: `not-${password}` });
  assertFailsFast(
    run,
    new RegExp(`cannot connect to PostgreSQL ${role}@127\\.0\\.0\\.1:${cluster.port}/postgres`),
    /password authentication failed/,
    new RegExp(`the password in ${passwordEnv} \\(postgres\\.passwordEnv\\)`),
  );
  assert.ok(!run.output.includes(password), 'the password never appears in the output');
  assert.doesNotMatch(run.output, /kafka|broker/i, 'a Postgres failure says nothing about Kafka');
  await assertNothingCreated(client, p);
});

test('a missing database: exit 2 within 10 s naming it', async () => {
  const table = uniqueName('nodb');
  const p = ctx.pipeline(table, { postgres: { database: uniqueName('nodb') } });
  const run = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  assertFailsFast(
    run,
    /cannot connect to PostgreSQL/,
    /database "nodb_\S+" does not exist/,
    /postgres\.database/,
  );
  await assertNothingCreated(ctx.sql, p);
});

test('PostgreSQL on a dead port: exit 2 within 10 s naming postgres.host/port, nothing about Kafka', async () => {
  const table = uniqueName('deadpg');
  const port = await freePort();
  const p = ctx.pipeline(table, { postgres: { port } });
  const run = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  assertFailsFast(
    run,
    new RegExp(`cannot connect to PostgreSQL postgres@127\\.0\\.0\\.1:${port}/`),
    /ECONNREFUSED/,
    /postgres\.host, postgres\.port/,
  );
  assert.doesNotMatch(run.output, /kafka|broker/i, 'a Postgres failure says nothing about Kafka');
  await assertNothingCreated(ctx.sql, p);
});

test('an unset *Env variable (postgres.passwordEnv, qdrant.apiKeyEnv): exit 2 naming field and variable', async () => {
  const table = uniqueName('env');
  await createTable(ctx.sql, table);
  const variable = `VECRELAY_UNSET_${uniqueName('v').toUpperCase()}`;
  for (const [field, p, extra] of [
    [
      'postgres.passwordEnv',
      ctx.pipeline(table, { postgres: { passwordEnv: variable } }),
      { qdrant: qdrant() },
    ],
    ['qdrant.apiKeyEnv', ctx.pipeline(table), { qdrant: { ...qdrant(), apiKeyEnv: variable } }],
  ] as const) {
    const run = await runToExit(writeConfig(p, extra));
    assertFailsFast(
      run,
      new RegExp(`${field.replace('.', '\\.')} names ${variable}, which is not set`),
      new RegExp(`export ${variable}=`),
    );
    await assertNothingCreated(ctx.sql, p);
  }
});

test('Kafka unreachable at start-up: exit 2 within 10 s naming kafka.brokers and the address', async () => {
  const table = uniqueName('nokafka');
  await createTable(ctx.sql, table);
  const p = ctx.pipeline(table);
  const broker = `127.0.0.1:${await freePort()}`;
  const run = await runToExit(
    writeConfig(p, {
      qdrant: qdrant(),
      kafka: { brokers: [broker], topicPrefix: p.topicPrefix, partitions: 1, replicationFactor: 1 },
    }),
  );
  assertFailsFast(run, new RegExp(`cannot reach Kafka at ${broker} \\(kafka\\.brokers\\)`));
  // One line says it; kafkajs' retries do not each add their own.
  const errorLines = run.output.split('\n').filter((l) => /"level":50|ERROR/.test(l));
  assert.ok(errorLines.length <= 2, `at most the one failure line, got:\n${errorLines.join('\n')}`);
  await assertNothingCreated(ctx.sql, p);
});

test('a Qdrant collection whose dimension or distance disagrees: exit 2 within 10 s, both named, nothing created', async () => {
  const table = uniqueName('dim');
  await createTable(ctx.sql, table);
  const collection = uniqueName('dimcoll');
  ctx.cleanup(() => dropCollection(collection));
  await qdrantRequest('PUT', `/collections/${collection}`, { vectors: { size: 4, distance: 'Cosine' } });
  const p = ctx.pipeline(table, { tables: [{ table: `public.${table}`, collection }] });
  const run = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  assertFailsFast(
    run,
    new RegExp(
      `Qdrant collection ${collection} has its vector as size 4, Cosine, but public\\.${table}\\.embedding needs one unnamed vector of size 3, Cosine`,
    ),
    /drop or rename the collection/,
  );
  await assertNothingCreated(ctx.sql, p);

  // Same size, another distance.
  await ctx.sql.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_l2_ops)`);
  await qdrantRequest('DELETE', `/collections/${collection}`);
  await qdrantRequest('PUT', `/collections/${collection}`, { vectors: { size: 3, distance: 'Cosine' } });
  const distance = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  assertFailsFast(
    distance,
    /has its vector as size 3, Cosine, but .* needs one unnamed vector of size 3, Euclid/,
  );
  await assertNothingCreated(ctx.sql, p);
});

test('named vectors that disagree: the message names each side, never "size undefined"', async () => {
  const table = uniqueName('named');
  await createTable(ctx.sql, table, 'a vector(3), b vector(5)');
  const collection = uniqueName('namedcoll');
  ctx.cleanup(() => dropCollection(collection));
  const p = ctx.pipeline(table, { tables: [{ table: `public.${table}`, collection }] });

  // Named vectors, one of the wrong size.
  await qdrantRequest('PUT', `/collections/${collection}`, {
    vectors: { a: { size: 3, distance: 'Cosine' }, b: { size: 6, distance: 'Cosine' } },
  });
  const wrongSize = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  const line = assertFailsFast(
    wrongSize,
    new RegExp(
      `has vector "b" as size 6, Cosine, but public\\.${table}\\.b needs vector "b" of size 5, Cosine`,
    ),
  );
  assert.doesNotMatch(line, /undefined/);
  await assertNothingCreated(ctx.sql, p);

  // One unnamed vector where the table needs named ones.
  await qdrantRequest('DELETE', `/collections/${collection}`);
  await qdrantRequest('PUT', `/collections/${collection}`, { vectors: { size: 3, distance: 'Cosine' } });
  const unnamed = await runToExit(writeConfig(p, { qdrant: qdrant() }));
  const line2 = assertFailsFast(
    unnamed,
    /has one unnamed vector \(size 3, Cosine\) instead of named vectors/,
  );
  assert.doesNotMatch(line2, /undefined/);
  await assertNothingCreated(ctx.sql, p);
});

test('Qdrant refusing the API key: exit 2 within 10 s naming qdrant.apiKeyEnv, the key never shown', async () => {
  // A Qdrant with an API key answers 401 without one and 403 for a wrong one (its auth
  // middleware, before any route): that is all this stand-in does.
  const server = createServer((req, res) => {
    const key = req.headers['api-key'];
    res.writeHead(key ? 403 : 401, { 'content-type': 'text/plain' });
    res.end(key ? 'Invalid API key or JWT' : 'Must provide an API key or an Authorization bearer token');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.cleanup(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const table = uniqueName('key');
  await createTable(ctx.sql, table);
  const p = ctx.pipeline(table);
  const variable = `VECRELAY_KEY_${uniqueName('k').toUpperCase()}`;
  const key = `key-${uniqueName('secret')}`;
  const run = await runToExit(writeConfig(p, { qdrant: { url, apiKeyEnv: variable } }), { [variable]: key });
  assertFailsFast(
    run,
    new RegExp(
      `Qdrant at ${url.replace(/[.]/g, '\\.')} refused the API key \\(403: Invalid API key or JWT\\)`,
    ),
    new RegExp(`put the right key in ${variable} \\(qdrant\\.apiKeyEnv\\)`),
  );
  assert.ok(!run.output.includes(key), 'the key never appears in the output');
  await assertNothingCreated(ctx.sql, p);
});
