// Every supported type, decoded from bytes captured from PostgreSQL 15 in binary and in text mode
// (test/fixtures/pgoutput/types-*.json, rows from types-table.ts), and the unchanged TOAST case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRow } from '../../src/source/decode/row.js';
import { rowsOf } from '../fixtures/pgoutput/load.js';
import { TYPE_ROWS, expectedTypeRow } from '../fixtures/pgoutput/types-table.js';

function decodedInserts(fixture: string): Array<Record<string, unknown>> {
  return rowsOf(fixture).flatMap(({ msg, relation }) => {
    if (msg.tag !== 'insert' || !relation) return [];
    const row = decodeRow(relation, msg.new);
    assert.deepEqual(row.unchanged, []);
    return [{ ...row.values, ...row.vectors }];
  });
}

for (const mode of ['binary', 'text']) {
  test(`every type decodes to its expected value (${mode} mode)`, () => {
    const rows = decodedInserts(`types-${mode}`);
    assert.equal(rows.length, TYPE_ROWS.length);
    rows.forEach((row, i) => {
      const expected = expectedTypeRow(i);
      for (const name of Object.keys(expected)) {
        assert.deepEqual(row[name], expected[name], `row ${i + 1}, column ${name}`);
      }
      assert.deepEqual(Object.keys(row).sort(), Object.keys(expected).sort());
    });
  });
}

test('binary and text mode decode to identical rows (timestamptz text was in America/St_Johns)', () => {
  assert.deepEqual(decodedInserts('types-binary'), decodedInserts('types-text'));
});

test('an UPDATE that leaves a 1536-dim vector alone lists it as unchanged, in both modes', () => {
  const vectors: Float32Array[] = [];
  for (const mode of ['binary', 'text']) {
    const rows = rowsOf(`toast-${mode}`).filter(({ msg }) => msg.tag === 'insert' || msg.tag === 'update');
    const [insert, update] = rows.map(({ msg, relation }) => {
      assert.ok((msg.tag === 'insert' || msg.tag === 'update') && relation);
      return decodeRow(relation, msg.new);
    });
    assert.ok(insert && update);
    const embedding = insert.vectors.embedding;
    assert.ok(embedding?.kind === 'dense' && !embedding.half);
    assert.equal(embedding.values.length, 1536);
    vectors.push(embedding.values);
    assert.deepEqual(update, { values: { id: 1n, title: 'renamed' }, vectors: {}, unchanged: ['embedding'] });
  }
  assert.deepEqual(vectors[0], vectors[1], 'binary and text give the same float32 bits');
  // sin(i)::real, computed by the server's libm: within one float32 ulp of JS's.
  vectors[0]!.forEach((x, i) => assert.ok(Math.abs(x - Math.sin(i + 1)) <= 6e-8, `element ${i}`));
});

test('REPLICA IDENTITY FULL: the old row decodes like a new one; a key-only old row has only the key', () => {
  const updates = rowsOf('changes-binary').filter(({ msg }) => msg.tag === 'update');
  const [keyChange, full] = updates.map(({ msg, relation }) => {
    assert.ok(msg.tag === 'update' && msg.old && relation);
    return { old: decodeRow(relation, msg.old), new: decodeRow(relation, msg.new) };
  });
  assert.deepEqual(keyChange!.old, {
    values: { id: 1n, title: null },
    vectors: { embedding: null },
    unchanged: [],
  });
  assert.equal(keyChange!.new.values.id, 10n);
  assert.deepEqual(full!.old.values, { id: 2n, title: 'two' });
  assert.deepEqual(full!.new.values, { id: 2n, title: 'TWO' });
  assert.deepEqual(full!.old.vectors.embedding, {
    kind: 'dense',
    values: Float32Array.from([4, 5, 6]),
    half: false,
  });
});
