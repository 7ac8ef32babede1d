// Which partitions of a captured partitioned table were added and which are gone between two
// looks of the source (src/source/postgres/partition-watch.ts): nothing when they are the same
// (whatever their order), and a table first seen partitioned later has all its partitions added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionChanges, type PartitionSets } from '../../src/source/postgres/partition-watch.js';

const sets = (entries: Record<string, string[]>): PartitionSets =>
  new Map(Object.entries(entries).map(([t, ps]) => [t, new Set(ps)]));

test('the same partitions: no change', () => {
  assert.deepEqual(
    partitionChanges(
      sets({ 'public.items': ['public.items_1', 'public.items_2'], 'public.docs': [] }),
      sets({ 'public.items': ['public.items_2', 'public.items_1'], 'public.docs': [] }),
    ),
    { added: [], gone: [] },
  );
});

test('a partition added and one gone, each named with its table', () => {
  assert.deepEqual(
    partitionChanges(
      sets({ 'public.items': ['public.items_1', 'public.items_2'], 'public.docs': ['public.docs_a'] }),
      sets({ 'public.items': ['public.items_1', '"Odd"."Part 3"'], 'public.docs': ['public.docs_a'] }),
    ),
    {
      added: [{ table: 'public.items', partition: '"Odd"."Part 3"' }],
      gone: [{ table: 'public.items', partition: 'public.items_2' }],
    },
  );
});

test('a table first seen partitioned later: its partitions are added', () => {
  assert.deepEqual(partitionChanges(sets({}), sets({ 'public.items': ['public.items_1'] })), {
    added: [{ table: 'public.items', partition: 'public.items_1' }],
    gone: [],
  });
});
