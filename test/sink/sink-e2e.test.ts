// Postgres → Kafka → Qdrant through `vecrelay run`: after inserts, full and partial (TOAST)
// updates, deletes and a truncate, the collection equals the table — ids, vectors (normalised
// for Cosine, with tolerance) and payloads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { closeTo, dropCollection, normalise, scrollAll, type StoredPoint } from '../helpers/qdrant.js';
import { testKafka } from '../helpers/kafka.js';
import { connectPg, dropPipeline, waitSlotActive } from '../helpers/pg.js';
import {
  startVecrelay,
  writeConfig,
  type RunningProcess,
  type TestPipeline,
} from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

let sql: pg.Client;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  sql = await connectPg();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await sql.end();
});

interface SinkPipeline {
  p: TestPipeline;
  collection: string;
  config: string;
}

function sinkPipeline(
  table: string,
  options: { snapshot?: TestPipeline['snapshot']; extraTable?: object } = {},
): SinkPipeline {
  const name = uniqueName('sink');
  const collection = uniqueName('coll');
  const p: TestPipeline = {
    name,
    slot: name,
    publication: name,
    topicPrefix: name,
    tables: [
      { table: `public.${table}`, ...options.extraTable, collection } as TestPipeline['tables'][number],
    ],
    snapshot: options.snapshot ?? 'initial',
  };
  const config = writeConfig(p, {
    qdrant: {
      url: stackEnv().qdrantUrl,
      ...(stackEnv().qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
    },
  });
  cleanups.push(async () => {
    await dropPipeline(sql, p.slot, p.publication);
    await sql.query(`DROP TABLE IF EXISTS ${table}`);
    await dropCollection(collection);
    const admin = testKafka().admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`)) })
      .catch(() => {});
    await admin.disconnect();
  });
  return { p, collection, config };
}

function start(args: string[]): RunningProcess {
  const proc = startVecrelay(args);
  cleanups.push(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  });
  return proc;
}

interface Row {
  id: number;
  title: string;
  n: number | null;
  embedding: number[] | null;
}

async function tableRows(table: string): Promise<Row[]> {
  const { rows } = await sql.query<{ id: number; title: string; n: number | null; embedding: string | null }>(
    `SELECT id, title, n, embedding::text AS embedding FROM ${table} ORDER BY id`,
  );
  return rows.map((r) => ({ ...r, embedding: r.embedding ? (JSON.parse(r.embedding) as number[]) : null }));
}

/** Differences between the table and the collection (Cosine: stored vectors are normalised). */
function differences(rows: Row[], points: StoredPoint[]): string[] {
  const byId = new Map(points.map((p) => [Number(p.id), p]));
  const out: string[] = [];
  if (points.length !== rows.length) out.push(`${rows.length} rows vs ${points.length} points`);
  for (const r of rows) {
    const p = byId.get(r.id);
    if (!p) {
      out.push(`row ${r.id} missing`);
      continue;
    }
    if (p.payload.title !== r.title) out.push(`row ${r.id}: title ${String(p.payload.title)} ≠ ${r.title}`);
    if ((p.payload.n ?? null) !== r.n) out.push(`row ${r.id}: n ${String(p.payload.n)} ≠ ${r.n}`);
    if (r.embedding && !(Array.isArray(p.vector) && closeTo(p.vector, normalise(r.embedding))))
      out.push(`row ${r.id}: vector differs`);
  }
  return out.slice(0, 10);
}

async function waitCollectionEqualsTable(table: string, collection: string, timeoutMs = 90_000) {
  let last: string[] = [];
  await waitFor(
    `collection ${collection} = table ${table}`,
    async () => {
      last = differences(await tableRows(table), await scrollAll(collection));
      return last.length === 0;
    },
    { timeoutMs, intervalMs: 300 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${last.join('; ')}`);
  });
}

const vec = (seed: number, dim: number) =>
  Array.from({ length: dim }, (_, i) => Math.fround(Math.sin(seed * 31 + i)));
const lit = (v: number[]) => `[${v.join(',')}]`;

test('insert, update, partial (TOAST) update, delete and truncate: the collection equals the table', async () => {
  const table = uniqueName('e2e');
  const dim = 1536; // large enough to be TOASTed out of line: title-only updates do not send it
  await sql.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, title text NOT NULL, n int, embedding vector(${dim}))`,
  );
  for (let i = 1; i <= 50; i++)
    await sql.query(`INSERT INTO ${table} VALUES ($1, $2, $1, $3)`, [i, `t${i}`, lit(vec(i, dim))]);
  const { collection, config, p } = sinkPipeline(table);
  const run = start(['run', '--config', config]);
  await waitSlotActive(sql, p.slot);
  await waitCollectionEqualsTable(table, collection);

  await sql.query(`INSERT INTO ${table} VALUES (51, 'new', NULL, $1)`, [lit(vec(51, dim))]);
  await sql.query(`UPDATE ${table} SET title = 'renamed', n = n * 10 WHERE id <= 10`); // partial: vector unsent
  await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id = 11`, [lit(vec(1000, dim))]);
  await sql.query(`DELETE FROM ${table} WHERE id BETWEEN 20 AND 25`);
  await waitCollectionEqualsTable(table, collection);
  const points = await scrollAll(collection);
  const five = points.find((pt) => Number(pt.id) === 5)!;
  assert.ok(Array.isArray(five.vector) && five.vector.length === dim, 'a partial update keeps the vector');

  await sql.query(`TRUNCATE ${table}`);
  await sql.query(`INSERT INTO ${table} VALUES (100, 'after truncate', 1, $1)`, [lit(vec(100, dim))]);
  await waitCollectionEqualsTable(table, collection);

  run.child.kill('SIGTERM');
  assert.equal((await run.exited).code, 0);
});
