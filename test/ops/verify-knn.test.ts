// verify's exact kNN of many samples in one scan (src/ops/verify/knn.ts) against pgvector's own
// `ORDER BY col <op> q LIMIT k`, per query, on a real Postgres: every operator, vector, halfvec and
// real[] columns, vectors stored out of line (TOAST), NULL vectors, exact duplicates (ties) and a
// zero vector (a NaN cosine distance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearestMany, type KnnColumn } from '../../src/ops/verify/knn.js';
import { connectPg } from '../helpers/pg.js';
import { uniqueName } from '../helpers/stack.js';

/** A deterministic pseudo-random vector as pgvector text. */
function vector(seed: number, dim: number): string {
  let s = seed * 2654435761;
  const xs = Array.from({ length: dim }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return Math.fround((s / 2 ** 32) * 2 - 1).toPrecision(6);
  });
  return `[${xs.join(',')}]`;
}

test('nearestMany answers each query as ORDER BY … LIMIT k does, in one scan', async (t) => {
  const sql = await connectPg();
  const table = uniqueName('knn');
  t.after(async () => {
    await sql.query(`DROP TABLE IF EXISTS ${table}`);
    await sql.end();
  });
  const dim = 700; // over ~2 KB: stored out of line, as real embeddings are
  await sql.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, v vector(${dim}), h halfvec(${dim}), a real[])`,
  );
  const rows: string[] = [];
  for (let i = 1; i <= 300; i++) {
    // Every 7th row repeats row 1's vector (ties at every distance of row 1); every 11th is NULL;
    // row 2 is the zero vector.
    const v = i === 2 ? `[${Array(dim).fill(0).join(',')}]` : vector(i % 7 === 0 ? 1 : i, dim);
    rows.push(
      i % 11 === 0
        ? `(${i}, NULL, NULL, NULL)`
        : `(${i}, '${v}', '${v}', '${v.replace('[', '{').replace(']', '}')}')`,
    );
  }
  await sql.query(`INSERT INTO ${table} VALUES ${rows.join(', ')}`);
  const queries = [1, 5, 42, 299].map((i) => vector(i, dim));
  const k = 10;
  for (const [column, type, isArray] of [
    ['v', 'vector', false],
    ['h', 'halfvec', false],
    ['a', 'vector', true],
  ] as const)
    for (const op of ['<=>', '<->', '<#>', '<+>']) {
      const col: KnnColumn = { column, type, isArray, op };
      const expr = isArray ? `${column}::vector` : column;
      // The queries as Postgres prints them in the column's type (what verify passes).
      const texts: string[] = [];
      for (const q of queries)
        texts.push((await sql.query<{ t: string }>(`SELECT '${q}'::${type}::text AS t`)).rows[0]!.t);
      await sql.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const got = await nearestMany(sql, table, col, texts, k);
      const tids = new Map(
        (await sql.query<{ ctid: string; id: number }>(`SELECT ctid::text, id FROM ${table}`)).rows.map(
          (r) => [r.ctid, r.id],
        ),
      );
      for (const [i, text] of texts.entries()) {
        const { rows: want } = await sql.query<{ id: number; d: number }>(
          `SELECT id, (${expr} ${op} '${text}'::${type})::float8 AS d FROM ${table}
            WHERE ${column} IS NOT NULL ORDER BY ${expr} ${op} '${text}'::${type} LIMIT ${k}`,
        );
        const what = `${column} ${op} query ${i}`;
        assert.equal(got[i]!.length, k, what);
        // The same distances, nearest first; the same rows, but for those tied at the k-th distance.
        assert.deepEqual(
          got[i]!.map((n) => n.distance),
          want.map((r) => r.d),
          what,
        );
        const kth = want.at(-1)!.d;
        assert.deepEqual(
          got[i]!.filter((n) => n.distance !== kth)
            .map((n) => tids.get(n.tid)!)
            .sort((a, b) => a - b),
          want
            .filter((r) => r.d !== kth)
            .map((r) => r.id)
            .sort((a, b) => a - b),
          what,
        );
        for (const n of got[i]!) assert.notEqual(tids.get(n.tid)! % 11, 0, `${what}: a NULL vector`);
      }
      await sql.query('COMMIT');
    }
  // More queries than rows' worth of neighbours: k bounds each answer, short answers are whole.
  await sql.query('BEGIN');
  const few = await nearestMany(
    sql,
    table,
    { column: 'v', type: 'vector', isArray: false, op: '<->' },
    [vector(1, dim)],
    1000,
  );
  await sql.query('COMMIT');
  assert.equal(few[0]!.length, 300 - Math.floor(300 / 11));
});
