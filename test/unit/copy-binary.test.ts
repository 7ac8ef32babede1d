import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CopyBinaryReader, type CopyRow } from '../../src/source/postgres/copy-binary.js';

/** A COPY binary stream as PostgreSQL writes it: header, tuples, trailer. */
function copyStream(rows: Array<Array<Buffer | null>>): Buffer {
  const parts: Buffer[] = [Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    parts.push(count);
    for (const field of row) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(field === null ? -1 : field.length);
      parts.push(len);
      if (field) parts.push(field);
    }
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  parts.push(trailer);
  return Buffer.concat(parts);
}

const show = (rows: CopyRow[]) =>
  rows.map((r) => r.map((c) => (c.kind === 'null' ? null : c.bytes.toString('hex'))));

const input: Array<Array<Buffer | null>> = [
  [Buffer.from([0, 0, 0, 1]), Buffer.from('first'), null],
  [Buffer.from([0, 0, 0, 2]), Buffer.alloc(0), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])],
  [null, null, null],
];
const expected = input.map((r) => r.map((f) => (f === null ? null : f.toString('hex'))));

test('decodes header, tuples with NULL and empty fields, and the trailer', () => {
  const reader = new CopyBinaryReader();
  const rows = reader.push(copyStream(input));
  assert.deepEqual(show(rows), expected);
  assert.equal(reader.done, true);
});

test('a stream split at every possible byte gives the same rows', () => {
  const bytes = copyStream(input);
  for (let cut = 1; cut < bytes.length; cut++) {
    const reader = new CopyBinaryReader();
    const rows = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
    assert.deepEqual(show(rows), expected, `split at ${cut}`);
    assert.equal(reader.done, true);
  }
});

test('one byte at a time works and the end is seen only at the trailer', () => {
  const bytes = copyStream(input);
  const reader = new CopyBinaryReader();
  const rows: CopyRow[] = [];
  for (let i = 0; i < bytes.length; i++) {
    rows.push(...reader.push(bytes.subarray(i, i + 1)));
    if (i < bytes.length - 1) assert.equal(reader.done, false);
  }
  assert.deepEqual(show(rows), expected);
  assert.equal(reader.done, true);
});

test('a wrong signature is refused', () => {
  assert.throws(() => new CopyBinaryReader().push(Buffer.alloc(40)), /bad signature/);
});
