// Key ranges of one table read at once (snapshot.parallelism) for keys that are not a single
// integer (src/source/snapshot/key-ranges.ts: split at the tiles of a sample of the table's
// pages): a uuid key, the commonest of an embeddings table, and a composite (text, int) key. The
// table is killed mid-snapshot, changed while the source is down, restarted: each range resumes at
// its own key, and the topic ends equal to the table — every row once, none missing, deleted rows
// gone, updated rows at their new version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changeTopic } from '../../src/event/names.js';
import { finalState, readTopic, type TopicRecord } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { readLog as log, stopCleanly, writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'snapkr' });
const UUID = '"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"';

interface KeyCase {
  name: string;
  /** The key column besides n (every table has n, 1..rows, version and embedding). */
  column: string;
  type: string;
  primaryKey: string;
  /** The key of row i (SQL over i). */
  keyOf: string;
  /** A row's key as one text (SQL over the table's columns), and an event's. */
  rowId: string;
  eventId(key: Record<string, unknown>): string;
  /** What the log shows of a range's resume key (its first column). */
  bound: string;
  /** A partitioned table: its PARTITION BY, and a bound spec per partition. */
  partitions?: { by: string; of: string[] };
}

const composite: KeyCase = {
  name: 'a composite key (text, int)',
  column: 'tenant',
  type: 'text',
  primaryKey: 'tenant, n',
  keyOf: "'tenant-' || (i % 5)",
  rowId: "tenant || '/' || n",
  eventId: (key) => `${String(key.tenant)}/${String(key.n)}`,
  bound: '"tenant-\\d"',
};

const cases: KeyCase[] = [
  {
    name: 'a uuid key',
    column: 'id',
    type: 'uuid',
    primaryKey: 'id',
    keyOf: 'gen_random_uuid()',
    rowId: 'id::text',
    eventId: (key) => (key.id as { uuid: string }).uuid,
    bound: UUID,
  },
  composite,
  {
    // Sampled across its partitions, the sample sized by their pages (the root has none).
    ...composite,
    name: 'a list-partitioned table with a composite key (text, int)',
    partitions: {
      by: 'LIST (tenant)',
      of: ["FOR VALUES IN ('tenant-0', 'tenant-1')", "FOR VALUES IN ('tenant-2')", 'DEFAULT'],
    },
  },
];

/** What the topic's final state disagrees on with the table (id → version). */
function differences(c: KeyCase, want: Map<string, number>, records: TopicRecord[]): string[] {
  const have = new Map(
    [...finalState(records).values()].map((e) => [c.eventId(e.key), Number(e.values?.version as bigint)]),
  );
  const out: string[] = [];
  for (const [id, version] of want)
    if (have.get(id) !== version) out.push(`${id}: v${version} in the table, v${have.get(id)} in the topic`);
  for (const id of have.keys()) if (!want.has(id)) out.push(`${id}: in the topic, not in the table`);
  return out;
}

for (const c of cases)
  test(`${c.name}: the table is read in key ranges at once; killed mid-snapshot and changed while down, each range resumes at its own key and the topic equals the table`, async () => {
    const table = uniqueName('snapkr');
    const rows = 4000;
    await ctx.sql.query(
      `CREATE TABLE ${table} (${c.column} ${c.type}, n int NOT NULL, version int NOT NULL, embedding vector(4), PRIMARY KEY (${c.primaryKey}))` +
        (c.partitions ? ` PARTITION BY ${c.partitions.by}` : ''),
    );
    for (const [i, bound] of (c.partitions?.of ?? []).entries())
      await ctx.sql.query(`CREATE TABLE ${table}_${i} PARTITION OF ${table} ${bound}`);
    await ctx.sql.query(
      `INSERT INTO ${table} (${c.column}, n, version, embedding)
       SELECT ${c.keyOf}, i, 0, array_fill(i::real, ARRAY[4])::vector FROM generate_series(1, $1) i`,
      [rows],
    );
    const p = ctx.pipeline(table, { snapshot: { mode: 'initial', chunkRows: 100, parallelism: 2 } });
    const config = writeConfig(p);

    const first = ctx.startSource(config, { VECRELAY_CRASH_AT: 'chunk-recorded:8' });
    const { signal } = await first.exited;
    assert.equal(
      signal,
      'SIGKILL',
      `killed after the 8th chunk was recorded; log:\n${log(first).slice(-3000)}`,
    );

    // While it is down: rows of both ranges, read already or not, deleted and updated.
    await ctx.sql.query(`DELETE FROM ${table} WHERE n % 7 = 0`);
    await ctx.sql.query(
      `UPDATE ${table} SET version = 1, embedding = array_fill(-n::real, ARRAY[4])::vector WHERE n % 11 = 0`,
    );

    const second = ctx.startSource(config);
    await waitFor('the snapshot to end', () => /snapshot of table done/.test(log(second)), {
      timeoutMs: 180_000,
    });
    // Two ranges split at a sampled key, each resumed after the last key it had recorded.
    assert.match(
      log(second),
      new RegExp(`"ranges":\\[(${c.bound}|null),${c.bound}\\][^\\n]*snapshot of table resumes`),
    );

    const want = new Map(
      (
        await ctx.sql.query<{ id: string; version: number }>(`SELECT ${c.rowId} AS id, version FROM ${table}`)
      ).rows.map((r) => [r.id, r.version]),
    );
    let last: string[] = ['(nothing read yet)'];
    await readTopic(changeTopic(p.topicPrefix, 'public', table), (records) => {
      last = differences(c, want, records);
      return last.length === 0;
    }).catch(() => {});
    assert.deepEqual(last.slice(0, 5), [], `${last.length} keys differ (${want.size} rows in the table)`);
    await stopCleanly(second);
  });
