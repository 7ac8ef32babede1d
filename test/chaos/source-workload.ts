// What the source chaos tests share: a table under a steady write load that survives its server
// restarting (the writer reconnects), and the end-of-test comparison of the whole table against
// the whole topic — 0 missing, 0 extra, 0 mismatched (the last event of every key must carry the
// row's current version: an older event applied after a newer one shows up here). And the
// course of the snapshot crash tests (crashAndRestart).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { canonicalKey } from '../../src/event/key.js';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { finalState, readTopic, type TopicRecord } from '../helpers/kafka.js';
import { connectPg, waitSlotStreaming } from '../helpers/pg.js';
import { scrollAll } from '../helpers/qdrant.js';
import type { SinkPipeline } from '../helpers/sink-pipeline.js';
import { readLog, type RunningProcess } from '../helpers/source-process.js';
import { waitFor } from '../helpers/stack.js';
import type { TestHooks } from '../helpers/test-hooks.js';

export const DIM = 8;

export async function createWorkloadTable(db: pg.Client, table: string, rows = 0): Promise<void> {
  await db.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(${DIM}))`,
  );
  if (rows)
    await db.query(
      `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[${DIM}])::vector FROM generate_series(1, $1) i`,
      [rows],
    );
}

export interface Writer {
  /** Transactions committed so far (as far as the writer knows). */
  readonly committed: number;
  /** Transactions that failed (the server went away); each was retried on a new connection. */
  readonly failed: number;
  /** Stops after the transaction in progress. */
  stop(): Promise<void>;
}

/**
 * Writes until stopped, a transaction every `paceMs` or so: each inserts `batch` new rows, bumps version and vector of up
 * to 50 existing ones and deletes one. A failure (the server restarting) is retried on a new
 * connection: an insert whose commit outcome is unknown is harmless to repeat (ON CONFLICT).
 */
export function startWriter(
  connect: () => Promise<pg.Client>,
  table: string,
  { firstId, batch = 20, paceMs = 25 }: { firstId: number; batch?: number; paceMs?: number },
): Writer {
  let stopping = false;
  let committed = 0;
  let failed = 0;
  let next = firstId;
  const done = (async () => {
    let client: pg.Client | undefined;
    while (!stopping) {
      try {
        if (!client) {
          client = await connect();
          client.on('error', () => {}); // the restart: the next query fails and we reconnect
        }
        const lo = Math.max(1, Math.floor(Math.random() * next) - 50);
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[${DIM}])::vector
             FROM generate_series($1::int, $2::int) i ON CONFLICT (id) DO NOTHING`,
          [next, next + batch - 1],
        );
        await client.query(
          `UPDATE ${table} SET version = version + 1,
                  embedding = array_fill((id + version + 1)::real, ARRAY[${DIM}])::vector
            WHERE id BETWEEN $1 AND $1 + 49`,
          [lo],
        );
        await client.query(`DELETE FROM ${table} WHERE id = $1`, [lo + 7]);
        await client.query('COMMIT');
        next += batch;
        committed++;
        // A steady load, not a flood: the source must catch up within the test, and the
        // machine (and the shared stack) serves other tests too.
        await new Promise((r) => setTimeout(r, paceMs));
      } catch {
        failed++;
        await client?.end().catch(() => {});
        client = undefined;
        // The server is restarting: try again shortly (each attempt is cheap and bounded).
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await client?.end().catch(() => {});
  })();
  return {
    get committed() {
      return committed;
    },
    get failed() {
      return failed;
    },
    async stop() {
      stopping = true;
      await done;
    },
  };
}

/**
 * The course of a snapshot crash test (snapshot-crash.test.ts, snapshot-edges.test.ts):
 * `vecrelay run` over a table of `rows` rows under a writer's load, SIGKILLed at crash point
 * `crashAt` (src/shared/crash-point.ts); `whileDown` checks what the crash left; then, while it
 * is down, deletes and updates all over those rows — rows the snapshot read already and has still
 * to read, which no slot records: the restart must read them as they are then; and a restart,
 * until its slot streams and 10 more transactions are written. The writer is stopped whatever
 * happens. Returns both runs (the second still running).
 */
export async function crashAndRestart(
  hooks: Pick<TestHooks, 'sql' | 'start'>,
  sp: Pick<SinkPipeline, 'table' | 'config' | 'p'>,
  rows: number,
  crashAt: string,
  whileDown: (first: RunningProcess) => Promise<void> | void = () => {},
): Promise<{ first: RunningProcess; second: RunningProcess }> {
  const { table, config } = sp;
  const writer = startWriter(connectPg, table, { firstId: rows + 1, batch: 5, paceMs: 50 });
  try {
    const first = hooks.start(['run', '--config', config], { VECRELAY_CRASH_AT: crashAt });
    const { signal } = await first.exited;
    assert.equal(signal, 'SIGKILL', `killed at ${crashAt}; log:\n${readLog(first).slice(-3000)}`);
    await whileDown(first);
    await hooks.sql.query(`DELETE FROM ${table} WHERE id <= ${rows} AND id % 7 = 0`);
    await hooks.sql.query(
      `UPDATE ${table} SET version = version + 100, embedding = array_fill(-id::real, ARRAY[${DIM}])::vector WHERE id % 11 = 0`,
    );
    const second = hooks.start(['run', '--config', config]);
    await waitSlotStreaming(hooks.sql, sp.p.slot);
    const before = writer.committed;
    await waitFor('writes after the restart', () => writer.committed >= before + 10, { timeoutMs: 60_000 });
    return { first, second };
  } finally {
    await writer.stop();
  }
}

interface Row {
  version: number;
  embedding: number[];
}

async function tableState(db: pg.Client, table: string): Promise<Map<string, Row>> {
  const { rows } = await db.query<{ id: number; version: number; embedding: string }>(
    `SELECT id, version, embedding::text AS embedding FROM ${table}`,
  );
  return new Map(
    rows.map((r) => [
      canonicalKey(['id'], { id: BigInt(r.id) }),
      { version: r.version, embedding: JSON.parse(r.embedding) as number[] },
    ]),
  );
}

/**
 * The state a sink reaches, partition by partition: a truncate marker (which every partition
 * gets) clears the rows of its own partition only, as a consumer applying partitions
 * independently sees it. (finalState clears every row read so far, whatever its partition.)
 */
function stateByPartition(records: TopicRecord[]): Map<string, ChangeEvent> {
  const partitions = new Map<number, TopicRecord[]>();
  for (const r of records) {
    const list = partitions.get(r.partition);
    if (list) list.push(r);
    else partitions.set(r.partition, [r]);
  }
  const out = new Map<string, ChangeEvent>();
  for (const list of partitions.values()) for (const [k, v] of finalState(list)) out.set(k, v);
  return out;
}

/** Missing, extra and mismatched keys of the topic's final state against the table. */
function differences(table: Map<string, Row>, records: TopicRecord[]) {
  const topic = stateByPartition(records);
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const [key, row] of table) {
    const event = topic.get(key);
    if (!event) {
      missing.push(key);
      continue;
    }
    const version = Number(event.values?.version as bigint);
    const vector = event.vectors.embedding;
    const embedding = vector && 'values' in vector && !('indices' in vector) ? [...vector.values] : null;
    if (version !== row.version || JSON.stringify(embedding) !== JSON.stringify(row.embedding))
      mismatched.push(
        `${key}: table v${row.version} ${JSON.stringify(row.embedding)}, topic v${version} ${JSON.stringify(embedding)}`,
      );
  }
  const extra = [...topic.keys()].filter((k) => !table.has(k));
  return { missing, extra, mismatched };
}

/**
 * Waits until the topic's final state equals the whole table (the source may still be catching
 * up), then asserts 0 missing, 0 extra, 0 mismatched.
 */
export async function assertTopicEqualsTable(
  db: pg.Client,
  table: string,
  topic: string,
  { brokers, timeoutMs = 180_000 }: { brokers?: string[]; timeoutMs?: number } = {},
): Promise<{ rows: number; records: number; keys: Set<string> }> {
  const want = await tableState(db, table);
  let last = { missing: ['(nothing read yet)'], extra: [] as string[], mismatched: [] as string[] };
  let records: TopicRecord[] = [];
  try {
    await readTopic(
      topic,
      (r) => {
        records = r;
        last = differences(want, r);
        return last.missing.length + last.extra.length + last.mismatched.length === 0;
      },
      { brokers, timeoutMs },
    );
  } catch {
    // Reported below, with what differs.
  }
  const show = (xs: string[]) => `${xs.length}${xs.length ? ` (${xs.slice(0, 5).join('; ')})` : ''}`;
  assert.ok(
    last.missing.length + last.extra.length + last.mismatched.length === 0,
    `table ${table} (${want.size} rows) vs topic ${topic} (${records.length} records): ` +
      `missing ${show(last.missing)}, extra ${show(last.extra)}, mismatched ${show(last.mismatched)}`,
  );
  return { rows: want.size, records: records.length, keys: new Set(want.keys()) };
}

/**
 * Waits until the collection holds exactly the table's rows, each point at its row's version
 * (the payload), then asserts 0 missing, 0 extra, 0 mismatched.
 */
export async function assertCollectionEqualsTable(
  db: pg.Client,
  table: string,
  collection: string,
  timeoutMs = 180_000,
): Promise<void> {
  const want = new Map(
    (await db.query<{ id: number; version: number }>(`SELECT id, version FROM ${table}`)).rows.map((r) => [
      r.id,
      r.version,
    ]),
  );
  let last = { missing: [] as number[], extra: [] as number[], mismatched: [] as string[], points: 0 };
  const compare = async () => {
    const points = await scrollAll(collection);
    const have = new Map(points.map((p) => [Number(p.id), Number(p.payload.version)]));
    last = {
      missing: [...want.keys()].filter((id) => !have.has(id)),
      extra: [...have.keys()].filter((id) => !want.has(id)),
      mismatched: [...want]
        .filter(([id, v]) => have.has(id) && have.get(id) !== v)
        .map(([id, v]) => `${id}: v${v} in the table, v${have.get(id)} in Qdrant`),
      points: points.length,
    };
    return last.missing.length + last.extra.length + last.mismatched.length === 0;
  };
  await waitFor(`collection ${collection} = table ${table}`, compare, { timeoutMs, intervalMs: 1000 }).catch(
    () => {},
  );
  const show = (xs: unknown[]) => `${xs.length}${xs.length ? ` (${xs.slice(0, 5).join('; ')})` : ''}`;
  assert.ok(
    last.missing.length + last.extra.length + last.mismatched.length === 0,
    `table ${table} (${want.size} rows) vs collection ${collection} (${last.points} points): ` +
      `missing ${show(last.missing)}, extra ${show(last.extra)}, mismatched ${show(last.mismatched)}`,
  );
}
