// The SQL docker-compose runs in its postgres at first start works on a real PostgreSQL with
// pgvector: run it in a fresh database of the local stack and look at what it made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { connectPg } from '../helpers/pg.js';
import { repoRoot, stackEnv, uniqueName } from '../helpers/stack.js';

test('connectors/example-init.sql creates the example table with vectors and a cosine HNSW index', async () => {
  const admin = await connectPg();
  const database = uniqueName('compose_init');
  await admin.query(`CREATE DATABASE ${database}`);
  const db = new pg.Client({ ...stackEnv().pg, database });
  try {
    await db.connect();
    const sql = readFileSync(path.join(repoRoot, 'connectors/example-init.sql'), 'utf8');
    await db.query(sql);
    await db.query(sql); // a restart must not fail on what the first run made
    const { rows } = await db.query<{ n: number; dim: number }>(
      `SELECT count(*)::int AS n, max(vector_dims(embedding)) AS dim FROM public.items`,
    );
    assert.deepEqual(rows[0], { n: 1000, dim: 384 });
    const { rows: idx } = await db.query<{ def: string }>(
      `SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'items' AND indexdef LIKE '%hnsw%'`,
    );
    assert.match(idx[0]!.def, /vector_cosine_ops/);
  } finally {
    await db.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  }
});
