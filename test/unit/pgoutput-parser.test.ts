// The pgoutput parser against bytes captured from PostgreSQL 15 (test/fixtures/pgoutput/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgoutputParser, parsePgoutput } from '../../src/source/pgoutput/parser.js';
import type { PgoutputMessage, Tuple } from '../../src/source/pgoutput/messages.js';
import { parseLsn } from '../../src/source/pgoutput/lsn.js';
import { loadFixture } from '../fixtures/pgoutput/load.js';

const tags = (name: string): string =>
  loadFixture(name)
    .parsed.map(({ msg }) => msg.tag[0])
    .join('');
function only<T extends PgoutputMessage['tag']>(
  name: string,
  tag: T,
): Array<Extract<PgoutputMessage, { tag: T }>> {
  return loadFixture(name)
    .parsed.map(({ msg }) => msg)
    .filter((m): m is Extract<PgoutputMessage, { tag: T }> => m.tag === tag);
}
const kinds = (t: Tuple | undefined): string => (t ?? []).map((c) => c.kind[0]).join('');

test('Begin and Commit: LSNs as bigints, times in µs since the Unix epoch, xid', () => {
  const { parsed } = loadFixture('changes-binary');
  const begins = parsed.filter((p) => p.msg.tag === 'begin');
  assert.equal(begins.length, 9);
  for (let i = 0; i < parsed.length; i++) {
    const { msg, xid, rowLsn } = parsed[i]!;
    if (msg.tag !== 'begin') continue;
    assert.equal(msg.xid, xid);
    const commit = parsed.slice(i).find((p) => p.msg.tag === 'commit')!;
    assert.ok(commit.msg.tag === 'commit');
    assert.equal(commit.msg.flags, 0);
    assert.equal(commit.msg.commitLsn, msg.finalLsn, 'Begin announces the LSN of its commit record');
    assert.equal(commit.msg.endLsn, parseLsn(commit.rowLsn), 'the slot reports a commit at its end LSN');
    assert.ok(commit.msg.endLsn > commit.msg.commitLsn && msg.finalLsn >= parseLsn(rowLsn));
    assert.equal(commit.msg.commitTimeMicros, msg.commitTimeMicros);
    // Captured in 2026: µs since 1970, not since 2000.
    const year = new Date(Number(msg.commitTimeMicros / 1000n)).getUTCFullYear();
    assert.ok(year >= 2024 && year < 2100, `commit year ${year}`);
  }
});

test('Type messages announce vector, halfvec and sparsevec before the Relation that uses them', () => {
  const types = only('types-binary', 'type');
  assert.deepEqual(
    types.map((t) => [t.schema, t.name]),
    [
      ['public', 'vector'],
      ['public', 'halfvec'],
      ['public', 'sparsevec'],
    ],
  );
  const [relation] = only('types-binary', 'relation');
  assert.ok(relation);
  assert.equal(relation.name, 'vecrelay_fx_types');
  assert.equal(relation.schema, 'public');
  assert.equal(relation.replicaIdentity, 'default');
  const col = (n: string) => relation.columns.find((c) => c.name === n)!;
  assert.deepEqual(col('id'), { name: 'id', isKey: true, typeOid: 20, typeMod: -1 });
  assert.equal(relation.columns.filter((c) => c.isKey).length, 1);
  assert.deepEqual([col('v').typeOid, col('v').typeMod], [types[0]!.oid, 3]);
  assert.deepEqual([col('hv').typeOid, col('hv').typeMod], [types[1]!.oid, 4]);
  assert.deepEqual([col('sv').typeOid, col('sv').typeMod], [types[2]!.oid, 10]);
  assert.equal(col('n2').typeMod, ((12 << 16) | 4) + 4, 'numeric(12,4)');
  assert.equal(col('a_f4').typeOid, 1021);
});

test('Insert: every cell binary in binary mode, text in text mode, NULLs as null cells', () => {
  const binary = only('types-binary', 'insert');
  const text = only('types-text', 'insert');
  assert.equal(binary.length, 10);
  assert.equal(text.length, 10);
  assert.equal(kinds(binary[0]!.new), 'b'.repeat(32));
  assert.equal(kinds(text[0]!.new), 't'.repeat(32));
  assert.equal(kinds(binary[2]!.new), 'b' + 'n'.repeat(31), 'row 3 is NULL but for its id');
  assert.equal(kinds(text[2]!.new), 't' + 'n'.repeat(31));
  const v = binary[0]!.new[29]!;
  assert.ok(v.kind === 'binary');
  assert.equal(v.bytes.toString('hex'), '00030000' + '3f800000' + '40200000' + 'c0400000');
  assert.deepEqual(text[0]!.new[29], { kind: 'text', text: '[1,2.5,-3]' });
});

test('Update that leaves a 1536-dim vector alone: the vector cell is unchanged, not missing', () => {
  for (const mode of ['binary', 'text']) {
    const [insert] = only(`toast-${mode}`, 'insert');
    const [update] = only(`toast-${mode}`, 'update');
    assert.ok(insert && update);
    const embedding = insert.new[2]!;
    assert.equal(embedding.kind, mode);
    if (embedding.kind === 'binary') assert.equal(embedding.bytes.length, 4 + 1536 * 4);
    assert.equal(update.old, undefined, 'REPLICA IDENTITY DEFAULT and the key did not change');
    assert.equal(update.new.length, 3);
    assert.deepEqual(update.new[2], { kind: 'unchanged' });
    const title = update.new[1]!;
    assert.equal(
      title.kind === 'binary' ? title.bytes.toString() : title.kind === 'text' ? title.text : '',
      'renamed',
    );
  }
});

test('Update and Delete: old key (K) vs old row under REPLICA IDENTITY FULL (O)', () => {
  const [keyChange, full] = only('changes-binary', 'update');
  assert.ok(keyChange && full);
  assert.equal(keyChange.oldIsKeyOnly, true, 'UPDATE SET id = 10 sends the old key');
  assert.equal(kinds(keyChange.old), 'bnn');
  assert.equal(kinds(keyChange.new), 'bbb');
  assert.equal(full.oldIsKeyOnly, false);
  assert.equal(kinds(full.old), 'bbb');
  const [fullDelete, keyDelete] = only('changes-binary', 'delete');
  assert.ok(fullDelete && keyDelete);
  assert.deepEqual([fullDelete.oldIsKeyOnly, kinds(fullDelete.old)], [false, 'bbb']);
  assert.deepEqual([keyDelete.oldIsKeyOnly, kinds(keyDelete.old)], [true, 'bnn']);
  const id = keyDelete.old[0]!;
  assert.ok(id.kind === 'binary' && id.bytes.readInt32BE(0) === 10);
});

test('ALTER TABLE sends a new Relation; TRUNCATE lists every table with its options', () => {
  const relations = only('changes-binary', 'relation').filter((r) => r.name === 'vecrelay_fx_items');
  assert.deepEqual(
    relations.map((r) => r.replicaIdentity),
    ['default', 'full', 'default', 'default', 'default', 'default'],
  );
  assert.deepEqual(
    relations.map((r) => r.columns.length),
    [3, 3, 3, 4, 4, 4],
  );
  const [truncate] = only('changes-binary', 'truncate');
  const other = only('changes-binary', 'relation').find((r) => r.name === 'vecrelay_fx_other')!;
  assert.deepEqual(truncate, {
    tag: 'truncate',
    relationOids: [relations[0]!.oid, other.oid],
    cascade: true,
    restartIdentity: true,
  });
});

test('Logical messages, in and outside a transaction', () => {
  const { parsed } = loadFixture('changes-binary');
  const messages = parsed.filter((p) => p.msg.tag === 'message');
  assert.equal(messages.length, 2);
  const [outside, inside] = messages.map((p) => p.msg);
  assert.ok(outside?.tag === 'message' && inside?.tag === 'message');
  assert.deepEqual(
    [outside.transactional, outside.prefix, outside.content.toString('hex')],
    [false, 'vecrelay-fx', '00ff'],
  );
  assert.equal(outside.lsn, parseLsn(messages[0]!.rowLsn));
  assert.deepEqual([inside.transactional, inside.content.toString()], [true, 'in a transaction']);
  assert.equal(
    tags('changes-binary').slice(-7),
    'mbmtric',
    'the transactional one arrives inside its Begin … Commit',
  );
});

test('Origin message', () => {
  const name = Buffer.from('node_a\0');
  const bytes = Buffer.concat([Buffer.from('O'), Buffer.from('0000000100000020', 'hex'), name]);
  assert.deepEqual(parsePgoutput(bytes), { tag: 'origin', originLsn: 0x1_0000_0020n, name: 'node_a' });
});

test('binary cells are views into a private copy by default, into the caller buffer with copy: false', () => {
  const [row] = loadFixture('types-binary').parsed.filter((p) => p.msg.tag === 'insert');
  const bytes = Buffer.from(row!.bytes);
  const copied = new PgoutputParser().parse(bytes);
  const shared = new PgoutputParser({ copy: false }).parse(bytes);
  bytes.fill(0xee); // what pg-protocol may do to its receive buffer before a queued message is read
  const cell = (m: PgoutputMessage) => (m.tag === 'insert' ? m.new[29] : undefined);
  assert.deepEqual(cell(copied), cell(row!.msg));
  assert.notDeepEqual(cell(shared), cell(row!.msg));
});

test('malformed messages are errors that name the tag, never partial messages', () => {
  const [row] = loadFixture('types-binary').parsed.filter((p) => p.msg.tag === 'insert');
  const cut = row!.bytes.subarray(0, row!.bytes.length - 3);
  assert.throws(() => parsePgoutput(cut), /malformed 'I' message \(\d+ bytes\): .*past the end/);
  assert.throws(() => parsePgoutput(Buffer.concat([row!.bytes, Buffer.from([0])])), /1 unread bytes/);
  assert.throws(() => parsePgoutput(Buffer.from('5300000001', 'hex')), /unknown message tag 0x53/);
  assert.throws(() => parsePgoutput(Buffer.from('Zq')), /unknown message tag 0x5a/);
  assert.throws(() => parsePgoutput(Buffer.alloc(0)), /empty message/);
  const badCell = Buffer.from(row!.bytes);
  badCell[8] = 0x78; // first cell kind 'x'
  assert.throws(() => parsePgoutput(badCell), /unknown cell kind 0x78 in column 0/);
  const badIdentity = Buffer.concat([
    Buffer.from('R'),
    Buffer.alloc(4),
    Buffer.from('s\0t\0z'),
    Buffer.alloc(2),
  ]);
  assert.throws(() => parsePgoutput(badIdentity), /unknown replica identity 'z'/);
});
