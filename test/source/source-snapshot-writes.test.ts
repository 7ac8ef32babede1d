// Snapshots under writes aimed at what they read (issue 11). A chunk is read between a low and a
// high watermark; a key the stream changes between the two is left out of the chunk, the stream's
// version being newer (src/source/snapshot/windows.ts). These tests write — updates, deletes, key
// changes, payload-only updates of rows whose vector(1536) is TOASTed — to the very rows of the
// chunk in flight, found through pg_stat_activity (the chunk's COPY names its lower bound), and to
// the key range a `vecrelay resync --where` re-reads; then the whole topic and the whole collection
// must equal the table: the newest version of every key, no deleted key back, no moved-away key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { canonicalKey } from '../../src/event/key.js';
import { finalState, readTopic, type TopicRecord } from '../helpers/kafka.js';
import { connectPg, waitSlotStreaming } from '../helpers/pg.js';
import { closeTo, normalise, scrollAll } from '../helpers/qdrant.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { readLog as log, stopCleanly, type RunningProcess } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import {
  assertCollectionEqualsTable,
  assertTopicEqualsTable,
  createWorkloadTable,
  startWriter,
} from '../chaos/source-workload.js';

// Each pipeline runs `vecrelay run` (source and sink) over its table into a collection of its own.
const ctx = useSinkPipelines({ prefix: 'snapw' });

const DIM = 1536;

/**
 * A table whose vector(1536) (6 KB) is stored out of line: an UPDATE that leaves it alone reaches
 * pgoutput as "unchanged TOAST", without the vector. `<table>_vec(id, n)` is a vector of its own
 * for every (id, n), not a multiple of another (the collection is Cosine: it stores v / ‖v‖).
 */
async function createToastTable(db: pg.Client, table: string, rows: number): Promise<void> {
  ctx.cleanup(() => db.query(`DROP FUNCTION IF EXISTS ${table}_vec(int, int)`));
  await db.query(
    `CREATE FUNCTION ${table}_vec(a int, b int) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
       SELECT array_agg(((a * 31 + b * 7 + i * i) % 97 + 1)::real / 97 ORDER BY i)::vector(${DIM})
         FROM generate_series(1, ${DIM}) i $$`,
  );
  await db.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, note text NOT NULL, embedding vector(${DIM}))`,
  );
  await db.query(
    `INSERT INTO ${table} SELECT i, 0, 'n' || i, ${table}_vec(i, 0) FROM generate_series(1, $1) i`,
    [rows],
  );
  const storage = await db.query<{ attstorage: string }>(
    `SELECT attstorage FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'`,
    [table],
  );
  assert.equal(storage.rows[0]?.attstorage, 'e', 'the vector is stored out of line (TOAST, EXTERNAL)');
}

/**
 * Follows the snapshot reader of pipeline `name` through pg_stat_activity: its chunk statement
 * (`COPY (SELECT … WHERE (id) > (CAST('<key>' …)) … LIMIT n)`) names the key after which the
 * chunk in flight starts; it stays the backend's query until the chunk's high watermark is written.
 */
function followChunks(name: string) {
  let after: number | undefined;
  let stopping = false;
  const bounds = new Set<number>();
  const done = (async () => {
    const db = await connectPg();
    try {
      while (!stopping) {
        const { rows } = await db.query<{ query: string }>(
          `SELECT query FROM pg_stat_activity WHERE application_name = $1 AND starts_with(query, 'COPY (SELECT')`,
          [`vecrelay:${name}`],
        );
        for (const r of rows) {
          const m = /\) > \(CAST\('(-?\d+)' AS [^)]+\)\)/.exec(r.query);
          after = m ? Number(m[1]) : 0;
          bounds.add(after);
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    } finally {
      await db.end().catch(() => {});
    }
  })();
  return {
    /** The key after which the chunk in flight starts; undefined before the first chunk. */
    get after() {
      return after;
    },
    /** How many chunks were seen. */
    get chunks() {
      return bounds.size;
    },
    async stop() {
      stopping = true;
      await done;
    },
  };
}

interface WriteCounts {
  payloadOnly: number;
  vector: number;
  deleted: number;
  moved: number;
  inserted: number;
  /** Keys a row was moved away from (UPDATE … SET id). */
  movedFrom: Set<number>;
}

/**
 * `connections` clients writing, one statement a transaction, to a key in `(after(), after() +
 * span]`: payload-only updates (the TOASTed vector unchanged), vector updates, deletes, key changes
 * (to a key nearby or far away), a delete then an insert of the same key. At most `perChunk`
 * writes for each value of `after()` (then they wait for the next chunk), `paceMs` apart on each
 * client: writes aimed at the chunk in flight, not a flood that would leave the stream — and the
 * snapshot, whose chunks go out when the stream reaches their high watermark — ever further behind.
 */
function hammer(
  table: string,
  target: () => number | undefined,
  span: number,
  {
    connections = 3,
    vector,
    note = true,
    perChunk = Infinity,
    paceMs = 0,
  }: {
    connections?: number;
    vector: (id: string, n: string) => string;
    note?: boolean;
    perChunk?: number;
    paceMs?: number;
  },
) {
  const spent = new Map<number, number>();
  const setNote = note ? `, note = 'p' || (version + 1)` : '';
  let stopping = false;
  let fresh = 1_000_000;
  const counts: WriteCounts = {
    payloadOnly: 0,
    vector: 0,
    deleted: 0,
    moved: 0,
    inserted: 0,
    movedFrom: new Set(),
  };
  const one = async () => {
    const db = await connectPg();
    try {
      while (!stopping) {
        const after = target();
        if (after === undefined || (spent.get(after) ?? 0) >= perChunk) {
          await new Promise((r) => setTimeout(r, 3));
          continue;
        }
        spent.set(after, (spent.get(after) ?? 0) + 1);
        const k = after + 1 + Math.floor(Math.random() * span);
        const dice = Math.random();
        try {
          if (dice < 0.35) {
            const r = await db.query(`UPDATE ${table} SET version = version + 1${setNote} WHERE id = $1`, [
              k,
            ]);
            counts.payloadOnly += r.rowCount ?? 0;
          } else if (dice < 0.55) {
            const r = await db.query(
              `UPDATE ${table} SET version = version + 1, embedding = ${vector('id', 'version + 1')} WHERE id = $1`,
              [k],
            );
            counts.vector += r.rowCount ?? 0;
          } else if (dice < 0.68) {
            const r = await db.query(`DELETE FROM ${table} WHERE id = $1`, [k]);
            counts.deleted += r.rowCount ?? 0;
          } else if (dice < 0.84) {
            // A key change: into the chunk's range (a freed key) or far away. The vector is not
            // touched: the moved row must still arrive whole under its new key.
            const to = Math.random() < 0.5 ? after + 1 + Math.floor(Math.random() * span) : fresh++;
            const r = await db.query(`UPDATE ${table} SET id = $2, version = version + 1 WHERE id = $1`, [
              k,
              to,
            ]);
            if (r.rowCount) {
              counts.moved++;
              counts.movedFrom.add(k);
            }
          } else {
            // Deleted and inserted again, in two transactions: the key's newest row is the new one.
            const gone = await db.query(`DELETE FROM ${table} WHERE id = $1`, [k]);
            counts.deleted += gone.rowCount ?? 0;
            const r = await db.query(
              `INSERT INTO ${table} (id, version, ${note ? 'note, ' : ''}embedding)
                 VALUES ($1::int, 500, ${note ? `'i' || $1::int, ` : ''}${vector('$1::int', '500')})
                 ON CONFLICT (id) DO NOTHING`,
              [k],
            );
            counts.inserted += r.rowCount ?? 0;
          }
        } catch (err) {
          // Two writers moving rows onto the same key: one fails, harmlessly.
          if ((err as { code?: string }).code !== '23505') throw err;
        }
        if (paceMs) await new Promise((r) => setTimeout(r, paceMs));
      }
    } finally {
      await db.end().catch(() => {});
    }
  };
  const done = Promise.all(Array.from({ length: connections }, one));
  done.catch(() => {});
  return {
    counts,
    async stop() {
      stopping = true;
      await done;
    },
  };
}

interface ToastRow {
  version: number;
  note: string;
  embedding: number[];
}

async function toastTableState(db: pg.Client, table: string): Promise<Map<number, ToastRow>> {
  const { rows } = await db.query<{ id: number; version: number; note: string; embedding: number[] }>(
    `SELECT id, version, note, embedding::real[] AS embedding FROM ${table}`,
  );
  return new Map(rows.map((r) => [r.id, { version: r.version, note: r.note, embedding: r.embedding }]));
}

const show = (xs: unknown[]) => `${xs.length}${xs.length ? ` (${xs.slice(0, 5).join('; ')})` : ''}`;

/** The topic's final state against the table: version, note and every float of the vector. */
function topicDifferences(want: Map<number, ToastRow>, records: TopicRecord[]) {
  const state = finalState(records);
  const byKey = new Map(
    [...want].map(([id, row]) => [canonicalKey(['id'], { id: BigInt(id) }), { id, row }]),
  );
  const missing: number[] = [];
  const mismatched: string[] = [];
  for (const [key, { id, row }] of byKey) {
    const event = state.get(key);
    if (!event) {
      missing.push(id);
      continue;
    }
    const version = Number(event.values?.version as bigint);
    const vector = event.vectors.embedding;
    const values = vector && 'values' in vector && !('indices' in vector) ? vector.values : undefined;
    const same =
      values !== undefined &&
      values.length === row.embedding.length &&
      row.embedding.every((x, i) => Math.fround(x) === values[i]);
    if (version !== row.version || event.values?.note !== row.note || !same)
      mismatched.push(`${id}: table v${row.version}, topic v${version}${same ? '' : ' (vector differs)'}`);
  }
  const extra = [...state.keys()].filter((k) => !byKey.has(k));
  return { missing, extra, mismatched };
}

async function assertToastTopicEqualsTable(db: pg.Client, table: string, topic: string) {
  const want = await toastTableState(db, table);
  let last = { missing: [0], extra: [] as string[], mismatched: [] as string[] };
  let records: TopicRecord[] = [];
  await readTopic(
    topic,
    (r) => {
      records = r;
      last = topicDifferences(want, r);
      return last.missing.length + last.extra.length + last.mismatched.length === 0;
    },
    { timeoutMs: 180_000 },
  ).catch(() => {}); // reported below, with what differs
  assert.ok(
    last.missing.length + last.extra.length + last.mismatched.length === 0,
    `table ${table} (${want.size} rows) vs topic (${records.length} records): missing ${show(last.missing)}, ` +
      `extra ${show(last.extra)}, mismatched ${show(last.mismatched)}`,
  );
  // Every event carries the whole row (unchanged TOAST columns are read back at the source).
  const partial = records.filter((r) => r.event && r.event.op !== 'd' && r.event.unchanged.length > 0);
  assert.equal(partial.length, 0, 'no event left its vector out');
  return { records, want };
}

/** The collection against the table: every point at its row's version and note, with its vector. */
async function assertToastCollectionEqualsTable(db: pg.Client, table: string, collection: string) {
  const want = await toastTableState(db, table);
  let last = { missing: [] as number[], extra: [] as number[], mismatched: [] as string[], points: 0 };
  const compare = async () => {
    const points = await scrollAll(collection);
    const have = new Map(points.map((p) => [Number(p.id), p]));
    const mismatched: string[] = [];
    for (const [id, row] of want) {
      const p = have.get(id);
      if (!p) continue;
      const v = Array.isArray(p.vector) ? p.vector : (p.vector?.embedding as number[] | undefined);
      const same = v !== undefined && closeTo(v, normalise(row.embedding), 1e-4);
      if (Number(p.payload.version) !== row.version || p.payload.note !== row.note || !same)
        mismatched.push(
          `${id}: table v${row.version}, Qdrant v${String(p.payload.version)}${same ? '' : ' (vector differs)'}`,
        );
    }
    last = {
      missing: [...want.keys()].filter((id) => !have.has(id)),
      extra: [...have.keys()].filter((id) => !want.has(id)),
      mismatched,
      points: points.length,
    };
    return last.missing.length + last.extra.length + last.mismatched.length === 0;
  };
  await waitFor(`collection ${collection} = table ${table}`, compare, {
    timeoutMs: 180_000,
    intervalMs: 1000,
  }).catch(() => {});
  assert.ok(
    last.missing.length + last.extra.length + last.mismatched.length === 0,
    `table ${table} (${want.size} rows) vs collection ${collection} (${last.points} points): ` +
      `missing ${show(last.missing)}, extra ${show(last.extra)}, mismatched ${show(last.mismatched)}`,
  );
}

test('writes to the rows of the chunk in flight (updates, deletes, key changes, payload-only updates of TOASTed vectors): the newest version of every key wins', async (t) => {
  const rows = 2000;
  const chunkRows = 30;
  const table = uniqueName('snapw');
  await createToastTable(ctx.sql, table, rows);
  const { p, config, collection, topic } = ctx.pipeline(table, {
    snapshot: { mode: 'initial', chunkRows, parallelism: 1 },
  });
  const chunks = followChunks(p.name);
  const writes = hammer(table, () => chunks.after, chunkRows, {
    vector: (id, n) => `${table}_vec(${id}, ${n})`,
    perChunk: 12,
  });
  let run: RunningProcess | undefined;
  try {
    run = ctx.start(['run', '--config', config]);
    const started = run;
    await waitFor('the snapshot done', () => /snapshot of table done/.test(log(started)), {
      timeoutMs: 240_000,
      intervalMs: 200,
    });
  } finally {
    await writes.stop();
    await chunks.stop();
  }
  const { counts } = writes;
  const summary = `${chunks.chunks} chunks seen; ${counts.payloadOnly} payload-only updates, ${counts.vector} vector updates, ${counts.deleted} deletes, ${counts.moved} key changes, ${counts.inserted} inserts`;
  // The test did what it says: it saw the chunks go by and wrote each kind of change into them.
  // (A chunk may go by between two looks at pg_stat_activity: not every one is seen.)
  assert.ok(chunks.chunks >= 6, summary);
  for (const n of [counts.payloadOnly, counts.vector, counts.deleted, counts.moved, counts.inserted])
    assert.ok(n >= 4, summary);
  t.diagnostic(summary);
  await waitSlotStreaming(ctx.sql, p.slot);
  await assertToastTopicEqualsTable(ctx.sql, table, topic);
  await assertToastCollectionEqualsTable(ctx.sql, table, collection);
  // (Old keys of key changes, deleted keys: "extra" above.) Some moved-away keys stayed free.
  const { rows: still } = await ctx.sql.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE id = ANY($1::int[])`,
    [[...counts.movedFrom]],
  );
  assert.ok(still[0]!.n < counts.movedFrom.size, 'some keys moved away were not taken again');
  assert.ok(run);
  await stopCleanly(run);
});

test('vecrelay resync --where of a key range while that range and the rest are written: table == topic == collection', async (t) => {
  const rows = 4000;
  const chunkRows = 50;
  const table = uniqueName('snapwrs');
  await createWorkloadTable(ctx.sql, table, rows);
  const { p, config, collection, topic } = ctx.pipeline(table, {
    snapshot: { mode: 'initial', chunkRows, parallelism: 2 },
  });
  const run = ctx.start(['run', '--config', config]);
  await waitSlotStreaming(ctx.sql, p.slot);
  await assertTopicEqualsTable(ctx.sql, table, topic);
  // Writes everywhere (inserts after the end, updates and deletes at random)...
  const writer = startWriter(connectPg, table, { firstId: rows + 1, batch: 5, paceMs: 30 });
  // ...and into each chunk of the range while it is read again: updates, deletes, key changes,
  // deletes and re-inserts. (The initial snapshot is done: the chunks seen are the resync's.)
  const lo = 1001;
  const hi = 3000;
  const chunks = followChunks(p.name);
  const writes = hammer(table, () => chunks.after, chunkRows, {
    connections: 2,
    vector: (id, n) => `array_fill((${id} + ${n})::real, ARRAY[8])::vector`,
    note: false,
    perChunk: 15,
  });
  let resync: RunningProcess | undefined;
  try {
    resync = await ctx.resync(config, table, `id BETWEEN ${lo} AND ${hi}`);
    const committed = writer.committed;
    await waitFor('writes after the resync', () => writer.committed >= committed + 10, { timeoutMs: 60_000 });
  } finally {
    await writes.stop();
    await chunks.stop();
    await writer.stop();
  }
  assert.ok(resync);
  assert.match(log(resync), new RegExp(`resync: public\\.${table} done, \\d+ rows`));
  const reread = Number(/done, (\d+) rows/.exec(log(resync))![1]);
  assert.ok(reread > 1500, `the range was read again (${reread} rows)`);
  const { counts } = writes;
  const written = counts.payloadOnly + counts.vector + counts.deleted + counts.moved + counts.inserted;
  t.diagnostic(`${chunks.chunks} resync chunks seen, ${written} writes into them, ${reread} rows read again`);
  assert.ok(
    chunks.chunks >= 2 && written >= 15,
    `the range was written while it was read again: ${chunks.chunks} chunks seen, ${written} writes`,
  );
  await assertTopicEqualsTable(ctx.sql, table, topic);
  await assertCollectionEqualsTable(ctx.sql, table, collection);
  await stopCleanly(run);
});
