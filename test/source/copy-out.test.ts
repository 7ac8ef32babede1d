// COPY ... TO STDOUT (FORMAT binary) through pg's own parser (src/source/postgres/copy-out.ts), on
// the stack's real Postgres: every row and cell arrives, a slow consumer pauses the socket without
// losing rows, and an error half-way through surfaces with the connection still usable.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { CopyOut } from '../../src/source/postgres/copy-out.js';
import { connectPg } from '../helpers/pg.js';

let sql: pg.Client;
before(async () => {
  sql = await connectPg();
});
after(async () => {
  await sql.end();
});

/** Every row of `copy`, taken slowly when `delayMs` is set (a consumer behind its producer). */
async function collect(copy: CopyOut, delayMs = 0): Promise<Array<Array<Buffer | null>>> {
  const out: Array<Array<Buffer | null>> = [];
  for await (const rows of copy.batches()) {
    for (const row of rows) out.push(row.map((c) => (c.kind === 'binary' ? Buffer.from(c.bytes) : null)));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
  return out;
}

test('every row and cell of a binary COPY arrives, NULLs included, in order', async () => {
  const copy = sql.query(
    new CopyOut(
      `COPY (SELECT g::int4, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('x', g) END
               FROM generate_series(1, 5000) g ORDER BY g) TO STDOUT (FORMAT binary)`,
    ),
  );
  const rows = await collect(copy);
  assert.equal(rows.length, 5000);
  rows.forEach((row, i) => {
    const g = i + 1;
    assert.equal(row[0]!.readInt32BE(0), g);
    if (g % 3 === 0) assert.equal(row[1], null);
    else assert.equal(row[1]!.toString(), 'x'.repeat(g));
  });
  // The connection is free for the next query.
  assert.equal((await sql.query('SELECT 41 + 1 AS n')).rows[0].n, 42);
});

test('a slow consumer gets every row (the socket is paused, not the rows dropped)', async () => {
  // ~40 MB: far more than socket buffers and the high-water mark hold.
  const copy = sql.query(
    new CopyOut(
      `COPY (SELECT g::int8, repeat(md5(g::text), 256) FROM generate_series(1, 5000) g ORDER BY g)
         TO STDOUT (FORMAT binary)`,
    ),
  );
  const rows = await collect(copy, 2);
  assert.deepEqual(
    rows.map((r) => Number(r[0]!.readBigInt64BE(0))),
    Array.from({ length: 5000 }, (_, i) => i + 1),
  );
});

test('an error half-way through the COPY is thrown after the rows before it; the connection lives', async () => {
  const copy = sql.query(
    new CopyOut(`COPY (SELECT 1 / (100000 - g) FROM generate_series(1, 200000) g) TO STDOUT (FORMAT binary)`),
  );
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const rows of copy.batches()) seen += rows.length;
    })(),
    /division by zero/,
  );
  assert.ok(seen < 100000);
  assert.equal((await sql.query('SELECT 1 AS one')).rows[0].one, 1);
});
