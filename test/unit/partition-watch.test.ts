// What the source says of a captured partitioned table's partitions between two looks
// (src/source/postgres/partition-watch.ts): one added is named with the resync of its rows, one
// gone with verify --repair; nothing when they are the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionChanges, type PartitionSets } from '../../src/source/postgres/partition-watch.js';

const sets = (entries: Record<string, string[]>): PartitionSets =>
  new Map(Object.entries(entries).map(([t, ps]) => [t, new Set(ps)]));

test('the same partitions: nothing to say', () => {
  const now = sets({ 'public.items': ['public.items_1', 'public.items_2'], 'public.docs': [] });
  assert.deepEqual(
    partitionChanges(
      now,
      sets({ 'public.items': ['public.items_2', 'public.items_1'], 'public.docs': [] }),
      'p.yaml',
    ),
    [],
  );
});

test('a partition added is named with the resync of its rows (a command to paste into a shell); one gone with verify --repair', () => {
  const changes = partitionChanges(
    sets({ 'public.items': ['public.items_1', 'public.items_2'] }),
    sets({ 'public.items': ['public.items_1', '"Odd"."Part 3"'] }),
    'pipe.yaml',
  );
  assert.deepEqual(
    changes.map((c) => [c.level, c.fields]),
    [
      [
        'info',
        {
          table: 'public.items',
          partition: '"Odd"."Part 3"',
          fix: `vecrelay resync --config pipe.yaml --table public.items --where "tableoid = '\\"Odd\\".\\"Part 3\\"'::regclass"`,
        },
      ],
      [
        'warn',
        {
          table: 'public.items',
          partition: 'public.items_2',
          fix: 'vecrelay verify --config pipe.yaml --table public.items --repair',
        },
      ],
    ],
  );
  assert.match(changes[0]!.message, /ATTACHed with rows/);
  assert.match(changes[1]!.message, /detached or dropped/);
});

test('a table first seen partitioned later: its partitions count as added', () => {
  const changes = partitionChanges(sets({}), sets({ 'public.items': ['public.items_1'] }), 'p.yaml');
  assert.deepEqual(
    changes.map((c) => [c.level, c.fields.partition]),
    [['info', 'public.items_1']],
  );
});
