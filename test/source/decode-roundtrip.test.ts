// Against the stack's PostgreSQL: rows of every supported type go through the WAL, are read back
// with pgoutput in binary and in text mode, and must decode to exactly what was inserted (vectors
// bit-exact as float32), identically in both modes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { stackEnv, uniqueName } from '../helpers/stack.js';
import { PgoutputParser } from '../../src/source/pgoutput/parser.js';
import { RelationCache } from '../../src/source/pgoutput/relation-cache.js';
import type { PgoutputMessage } from '../../src/source/pgoutput/messages.js';
import { decodeRow, type DecodedRow } from '../../src/source/decode/row.js';
import { halfToFloat } from '../../src/source/decode/half.js';
import {
  TYPE_ROWS,
  createTypesTable,
  expectedTypeRow,
  insertTypeRows,
} from '../fixtures/pgoutput/types-table.js';

const sql = new pg.Client({ connectionString: stackEnv().pgUrl });
const types = uniqueName('rt_types');
const docs = uniqueName('rt_docs');
const publication = uniqueName('rt_pub');
const slot = uniqueName('rt_slot');

// Random float32 values (printed with String(), which strtof reads back to the same float32) and
// random finite halves, subnormals included.
const DIM = 1536;
const random32 = new Float32Array(new Uint32Array(DIM).map(() => (Math.random() * 2 ** 32) >>> 0).buffer).map(
  // String(-0) is "0": keep zeros positive so the text inserted is the value expected.
  (x) => (Number.isFinite(x) ? x || 0 : 1),
);
const randomHalf = Float32Array.from(
  { length: DIM },
  () => halfToFloat(Math.floor(Math.random() * 0x7c00)) * (Math.random() < 0.5 ? -1 : 1) || 0,
);
const vectorText = (v: Float32Array): string => `[${Array.from(v, String).join(',')}]`;

before(async () => {
  await sql.connect();
  // The stack runs with synchronous_commit off; the slot functions decode only flushed WAL.
  await sql.query('SET synchronous_commit = on');
  await sql.query(createTypesTable(types));
  await sql.query(
    `CREATE TABLE ${docs} (id int PRIMARY KEY, title text, embedding vector(${DIM}), half halfvec(${DIM}))`,
  );
  await sql.query(`CREATE PUBLICATION ${publication} FOR TABLE ${types}, ${docs}`);
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  for (const insert of insertTypeRows(types)) await sql.query(insert);
  await sql.query(`INSERT INTO ${docs} VALUES (1, 'first', $1, $2)`, [
    vectorText(random32),
    vectorText(randomHalf),
  ]);
  await sql.query(`UPDATE ${docs} SET title = 'renamed' WHERE id = 1`);
});

after(async () => {
  await sql.query(`SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, [
    slot,
  ]);
  await sql.query(`DROP PUBLICATION IF EXISTS ${publication}`);
  await sql.query(`DROP TABLE IF EXISTS ${types}, ${docs}`);
  await sql.end();
});

/** The slot's changes (without consuming them) decoded into rows, per table. */
async function readRows(binary: boolean): Promise<Map<string, Array<{ tag: string; row: DecodedRow }>>> {
  const { rows } = await sql.query<{ data: Buffer }>(
    `SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1',
       'publication_names', $2, 'binary', $3, 'messages', 'true')`,
    [slot, publication, String(binary)],
  );
  const parser = new PgoutputParser();
  const cache = new RelationCache();
  const out = new Map<string, Array<{ tag: string; row: DecodedRow }>>();
  for (const { data } of rows) {
    const msg: PgoutputMessage = parser.parse(data);
    if (cache.apply(msg) || (msg.tag !== 'insert' && msg.tag !== 'update')) continue;
    const relation = cache.require(msg.relationOid);
    const list = out.get(relation.name) ?? [];
    list.push({ tag: msg.tag, row: decodeRow(relation, msg.new) });
    out.set(relation.name, list);
  }
  return out;
}

test('every type decodes to the inserted value, identically from binary and text pgoutput', async () => {
  const binary = await readRows(true);
  const text = await readRows(false);
  assert.deepEqual(binary, text);
  const rows = binary.get(types)!;
  assert.equal(rows.length, TYPE_ROWS.length);
  rows.forEach(({ row }, i) => {
    assert.deepEqual(row.unchanged, []);
    assert.deepEqual({ ...row.values, ...row.vectors }, expectedTypeRow(i), `row ${i + 1}`);
  });
});

test('1536-dim vector and halfvec are bit-exact; an UPDATE of the title leaves them unchanged', async () => {
  for (const binary of [true, false]) {
    const [insert, update] = (await readRows(binary)).get(docs)!;
    assert.equal(insert?.tag, 'insert');
    assert.deepEqual(insert.row.vectors.embedding, { kind: 'dense', values: random32, half: false });
    assert.deepEqual(insert.row.vectors.half, { kind: 'dense', values: randomHalf, half: true });
    assert.deepEqual(update, {
      tag: 'update',
      row: { values: { id: 1n, title: 'renamed' }, vectors: {}, unchanged: ['embedding', 'half'] },
    });
  }
});
