import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelationCache } from '../../src/source/pgoutput/relation-cache.js';
import type { RelationMessage } from '../../src/source/pgoutput/messages.js';
import { loadFixture } from '../fixtures/pgoutput/load.js';

test('builtin types resolve by OID, extension types by the Type message before the Relation', () => {
  const cache = new RelationCache();
  for (const { msg } of loadFixture('types-binary').parsed) cache.apply(msg);
  const relation = loadFixture('types-binary').parsed.find((p) => p.msg.tag === 'relation')!
    .msg as RelationMessage;
  const resolved = cache.require(relation.oid);
  assert.equal(resolved.name, 'vecrelay_fx_types');
  assert.deepEqual(resolved.keyColumns, ['id']);
  assert.deepEqual(
    resolved.columns.map((c) => c.typeName),
    ['int8', 'bool', 'int2', 'int4', 'int8', 'oid', 'float4', 'float8', 'numeric', 'numeric']
      .concat(['text', 'varchar', 'bpchar', 'name', 'uuid', 'json', 'jsonb', 'bytea', 'date', 'timestamp'])
      .concat(['timestamptz', '_int2', '_int4', '_int8', '_float4', '_float8', '_numeric', '_text', '_bool'])
      .concat(['vector', 'halfvec', 'sparsevec']),
  );
  assert.deepEqual(
    resolved.columns.slice(-3).map((c) => [c.typeSchema, c.typeMod]),
    [
      ['public', 3],
      ['public', 4],
      ['public', 10],
    ],
  );
  assert.equal(resolved.columns[0]!.typeSchema, 'pg_catalog');
});

test('a Relation message replaces the earlier one for its OID (ALTER TABLE)', () => {
  const cache = new RelationCache();
  const seen: number[] = [];
  for (const { msg } of loadFixture('changes-binary').parsed) {
    cache.apply(msg);
    if (msg.tag === 'insert' && cache.require(msg.relationOid).name === 'vecrelay_fx_items') {
      seen.push(cache.require(msg.relationOid).columns.length);
    }
  }
  assert.deepEqual(seen, [3, 3, 4, 4], 'inserts after ADD COLUMN are read with 4 columns');
});

test('unknown OIDs: a row before its Relation is an error; an unannounced type is named by OID', () => {
  const cache = new RelationCache();
  assert.throws(() => cache.require(42), /relation OID 42 arrived before its Relation message/);
  const rel = cache.addRelation({
    tag: 'relation',
    oid: 42,
    schema: '',
    name: 't',
    replicaIdentity: 'nothing',
    columns: [
      { name: 'a', isKey: false, typeOid: 99999, typeMod: -1 },
      { name: 'b', isKey: false, typeOid: 1186, typeMod: -1 },
    ],
  });
  assert.equal(rel.schema, 'pg_catalog');
  assert.deepEqual(
    rel.columns.map((c) => c.typeName),
    ['oid:99999', 'interval'],
  );
  assert.deepEqual(rel.keyColumns, []);
  assert.equal(
    cache.apply({ tag: 'commit', flags: 0, commitLsn: 1n, endLsn: 2n, commitTimeMicros: 0n }),
    false,
  );
  assert.equal(cache.typeName(1186), 'interval');
  cache.clear();
  assert.equal(cache.get(42), undefined);
});
