// `vecrelay plan --config` reports all three systems (issue 9): besides PostgreSQL, whether Kafka
// answers at kafka.brokers and whether Qdrant answers at qdrant.url, and whether an existing
// collection is shaped as its table needs — each failure a BLOCKER naming its system and config
// field, the same checks `vecrelay run` makes before it creates anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectionProblem } from '../../src/plan/qdrant.js';
import type { PlanReport } from '../../src/plan/types.js';
import type { VectorColumnInfo } from '../../src/source/postgres/catalog.js';
import { freePort } from '../helpers/free-port.js';
import { startQdrantProcess } from '../helpers/qdrant-process.js';
import { dropCollection, qdrantRequest } from '../helpers/qdrant.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { stackEnv, uniqueName } from '../helpers/stack.js';
import { useTestHooks } from '../helpers/test-hooks.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useTestHooks();

async function planJson(config: string): Promise<{ code: number | null; report: PlanReport }> {
  const run = await execVecrelay(['plan', '--config', config, '--json'], { timeoutMs: 120_000 });
  try {
    return { code: run.code, report: JSON.parse(run.stdout) as PlanReport };
  } catch {
    throw new Error(`plan printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

const check = (report: PlanReport, object: string) => report.checks.find((c) => c.object === object);

async function tableAndPipeline(): Promise<{ table: string; p: TestPipeline; collection: string }> {
  const table = uniqueName('tgt');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3))`);
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${table}`));
  const collection = uniqueName('tgtcoll');
  ctx.cleanup(() => dropCollection(collection));
  const name = uniqueName('tgt');
  const p: TestPipeline = {
    name,
    slot: name,
    publication: name,
    topicPrefix: name,
    tables: [{ table: `public.${table}`, collection }],
  };
  return { table, p, collection };
}

test('healthy Kafka and Qdrant: OK lines for kafka.brokers, qdrant.url and the collection to be created', async () => {
  const { p, collection } = await tableAndPipeline();
  const { code, report } = await planJson(writeConfig(p, { qdrant: { url: stackEnv().qdrantUrl } }));
  assert.equal(check(report, 'kafka.brokers')?.level, 'ok', JSON.stringify(report.checks, null, 1));
  assert.match(check(report, 'kafka.brokers')!.message, /1 broker/);
  assert.equal(check(report, 'qdrant.url')?.level, 'ok');
  assert.match(
    check(report, `collection ${collection}`)?.message ?? '',
    /does not exist yet: the sink creates it/,
  );
  assert.equal(code, 0, JSON.stringify(report.checks.filter((c) => c.level === 'blocker')));
});

test('Kafka and Qdrant unreachable: a BLOCKER each, naming kafka.brokers and qdrant.url with the addresses', async () => {
  const { p } = await tableAndPipeline();
  const broker = `127.0.0.1:${await freePort()}`;
  const qdrantUrl = `http://127.0.0.1:${await freePort()}`;
  const { code, report } = await planJson(
    writeConfig(p, {
      kafka: { brokers: [broker], topicPrefix: p.topicPrefix },
      qdrant: { url: qdrantUrl },
    }),
  );
  assert.equal(code, 1);
  const kafka = check(report, 'kafka.brokers');
  assert.equal(kafka?.level, 'blocker');
  assert.match(kafka.message, new RegExp(`cannot reach Kafka at ${broker} \\(kafka\\.brokers\\)`));
  const qdrant = check(report, 'qdrant.url');
  assert.equal(qdrant?.level, 'blocker');
  assert.match(qdrant.message, new RegExp(`cannot reach Qdrant at ${qdrantUrl} \\(qdrant\\.url\\)`));
});

test('an existing collection of the wrong dimension: BLOCKER naming the collection, both sizes and the fix', async () => {
  const { table, p, collection } = await tableAndPipeline();
  await qdrantRequest('PUT', `/collections/${collection}`, { vectors: { size: 4, distance: 'Dot' } });
  const { code, report } = await planJson(writeConfig(p, { qdrant: { url: stackEnv().qdrantUrl } }));
  assert.equal(code, 1);
  const c = check(report, `collection ${collection}`);
  assert.equal(c?.level, 'blocker');
  assert.equal(
    c.message,
    `Qdrant collection ${collection} has its vector as size 4, Dot, but public.${table}.embedding needs one unnamed vector of size 3, Cosine`,
  );
  assert.match(c.fix, /drop or rename the collection/);
});

test('qdrant.transport grpc: an OK line for a gRPC port that answers, a BLOCKER naming qdrant.grpcUrl for one that does not', async () => {
  const { p } = await tableAndPipeline();
  const qdrant = await startQdrantProcess(ctx.cleanup, { grpc: true });
  const good = await planJson(
    writeConfig(p, { qdrant: { url: qdrant.url, transport: 'grpc', grpcUrl: qdrant.grpcUrl } }),
  );
  assert.equal(check(good.report, 'qdrant.grpcUrl')?.level, 'ok', JSON.stringify(good.report.checks));
  assert.equal(good.code, 0);

  const closed = `http://127.0.0.1:${await freePort()}`;
  const bad = await planJson(
    writeConfig(p, { qdrant: { url: qdrant.url, transport: 'grpc', grpcUrl: closed } }),
  );
  assert.equal(bad.code, 1);
  const c = check(bad.report, 'qdrant.grpcUrl');
  assert.equal(c?.level, 'blocker');
  assert.match(c.message, new RegExp(`cannot reach Qdrant's gRPC API at ${closed} \\(qdrant\\.grpcUrl\\)`));
  assert.match(c.fix, /qdrant\.transport: rest/);
});

const vector = (name: string, dimension: number): VectorColumnInfo => ({
  name,
  kind: 'vector',
  dimension,
  distance: 'Cosine',
  hnsw: null,
});

test('collectionProblem: every layout mismatch is named, never as "size undefined"', () => {
  const two = [vector('a', 3), vector('b', 5)];
  const cases: Array<[VectorColumnInfo[], unknown, RegExp | undefined]> = [
    [two, { a: { size: 3, distance: 'Cosine' }, b: { size: 5, distance: 'Cosine' } }, undefined],
    [[vector('a', 3)], { size: 3, distance: 'Cosine' }, undefined],
    [
      two,
      { size: 3, distance: 'Cosine' },
      /has one unnamed vector \(size 3, Cosine\) instead of named vectors/,
    ],
    [
      [vector('a', 3)],
      { a: { size: 3, distance: 'Cosine' } },
      /has named vectors \(a\) instead of one unnamed vector/,
    ],
    [
      two,
      { a: { size: 3, distance: 'Cosine' } },
      /has vector "b" as missing, but t\.b needs vector "b" of size 5/,
    ],
    [
      two,
      { a: { size: 3, distance: 'Dot' }, b: { size: 5, distance: 'Cosine' } },
      /vector "a" as size 3, Dot/,
    ],
  ];
  for (const [vectors, have, expected] of cases) {
    const problem = collectionProblem('c', 't', vectors, undefined, {
      config: { params: { vectors: have } },
    });
    if (!expected) assert.equal(problem, undefined, JSON.stringify(have));
    else {
      assert.match(problem?.message ?? '(none)', expected);
      assert.doesNotMatch(problem!.message, /undefined/);
    }
  }
});
