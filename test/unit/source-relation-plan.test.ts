// Which columns of a Relation become vectors, payload or nothing (changes.ts RelationPlan): the
// source's side of a vector column added while streaming. A configured tables[].vectors is the
// contract: another vector-typed column is not payload either (its value is no payload value:
// decoding it as one failed, and every row was dead-lettered), unless tables[].payload names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TableConfig } from '../../src/config/schema.js';
import { RelationPlan } from '../../src/source/changes.js';
import type { ResolvedColumn, ResolvedRelation } from '../../src/source/pgoutput/index.js';

const column = (name: string, typeName: string, isKey = false): ResolvedColumn => ({
  name,
  isKey,
  typeOid: 0,
  typeMod: -1,
  typeName,
  typeSchema: 'public',
});

const relation: ResolvedRelation = {
  oid: 1,
  schema: 'public',
  name: 'docs',
  replicaIdentity: 'default',
  columns: [
    column('id', 'int4', true),
    column('title', 'text'),
    column('embedding', 'vector'),
    column('embedding_v2', 'vector'),
  ],
  keyColumns: ['id'],
};

const roles = (table: Partial<TableConfig>) =>
  Object.fromEntries(
    new RelationPlan(relation, { table: 'public.docs', ...table } as TableConfig).columns.map((c) => [
      c.column.name,
      c.role,
    ]),
  );

test('without tables[].vectors every vector-typed column is a vector', () => {
  assert.deepEqual(roles({}), {
    id: 'payload',
    title: 'payload',
    embedding: 'vector',
    embedding_v2: 'vector',
  });
});

test('with tables[].vectors, a vector column left out of it is skipped, not payload', () => {
  assert.deepEqual(roles({ vectors: ['embedding'] }), {
    id: 'payload',
    title: 'payload',
    embedding: 'vector',
    embedding_v2: 'skip',
  });
  // Named in tables[].payload, it is payload (as configured).
  assert.equal(roles({ vectors: ['embedding'], payload: ['title', 'embedding_v2'] }).embedding_v2, 'payload');
});
