// The per-test pipeline of the sink tests: a unique slot, publication, topic prefix, collection
// and consumer group for one table of items (id, title, n, embedding); `vecrelay` processes; the
// cleanup of all of it after each test; and the comparisons of a collection with its table or
// with another collection (Cosine: Qdrant stores normalised vectors, compared with a tolerance).
import { after, afterEach, before } from 'node:test';
import type pg from 'pg';
import { changeTopic } from '../../src/kafka/topics.js';
import { deadLetterTopic } from '../../src/sink/dead-letter.js';
import { testKafka } from './kafka.js';
import { connectPg, dropPipeline } from './pg.js';
import { closeTo, dropCollection, normalise, qdrantRequest, scrollAll, type StoredPoint } from './qdrant.js';
import { startVecrelay, writeConfig, type RunningProcess, type TestPipeline } from './source-process.js';
import { stackEnv, uniqueName, waitFor } from './stack.js';

export interface SinkPipeline {
  p: TestPipeline;
  table: string;
  collection: string;
  /** The config file: `vecrelay run | source | sink --config <config>`. */
  config: string;
  /** The sink's consumer group (vecrelay-<name> unless overridden). */
  groupId: string;
  /** The table's change topic. */
  topic: string;
  deadLetterTopic: string;
}

export interface SinkPipelineOptions {
  snapshot?: TestPipeline['snapshot'];
  /** Partitions of the change topics (config kafka.partitions). */
  partitions?: number;
  /** Merged into the table's config entry. */
  extraTable?: object;
  /** The config's `sink` section. */
  sink?: Record<string, unknown>;
}

export interface Row {
  id: number;
  title: string;
  n: number | null;
  embedding: number[] | null;
}

export interface SinkPipelines {
  /** A superuser connection to the stack's database, open for the whole file. */
  readonly sql: pg.Client;
  /** CREATE TABLE <table> (id int PRIMARY KEY, title text NOT NULL, n int, embedding vector(dim)). */
  createTable(table: string, dim: number): Promise<void>;
  /** A pipeline over `public.<table>`; everything it creates is dropped after the test. */
  pipeline(table: string, options?: SinkPipelineOptions): SinkPipeline;
  /**
   * Another config for the same pipeline (same name, topics, point ids) with its own collection
   * and consumer group: a replay of the topics into a new collection.
   */
  replayConfig(sp: SinkPipeline): SinkPipeline;
  /** A `vecrelay` process, SIGKILLed after the test if still running. */
  start(args: string[]): RunningProcess;
  /** Runs `fn` after the test, before what was registered earlier. */
  cleanup(fn: () => Promise<unknown>): void;
  tableRows(table: string): Promise<Row[]>;
  waitCollectionEqualsTable(table: string, collection: string, timeoutMs?: number): Promise<void>;
}

/** Differences between the table and the collection (Cosine: stored vectors are normalised). */
export function differences(rows: Row[], points: StoredPoint[]): string[] {
  const byId = new Map(points.map((p) => [Number(p.id), p]));
  const out: string[] = [];
  if (points.length !== rows.length) out.push(`${rows.length} rows vs ${points.length} points`);
  for (const r of rows) {
    const p = byId.get(r.id);
    if (!p) {
      out.push(`row ${r.id} missing`);
      continue;
    }
    if (p.payload.title !== r.title) out.push(`row ${r.id}: title ${String(p.payload.title)} ≠ ${r.title}`);
    if ((p.payload.n ?? null) !== r.n) out.push(`row ${r.id}: n ${String(p.payload.n)} ≠ ${r.n}`);
    if (r.embedding && !(Array.isArray(p.vector) && closeTo(p.vector, normalise(r.embedding))))
      out.push(`row ${r.id}: vector differs`);
  }
  return out.slice(0, 10);
}

/** Differences between two collections: ids, payloads (all of it) and vectors. */
export function collectionDifferences(a: StoredPoint[], b: StoredPoint[]): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${a.length} points vs ${b.length} points`);
  const byId = new Map(b.map((p) => [String(p.id), p]));
  for (const pa of a) {
    const pb = byId.get(String(pa.id));
    if (!pb) {
      out.push(`point ${pa.id} missing`);
      continue;
    }
    if (JSON.stringify(sortKeys(pa.payload)) !== JSON.stringify(sortKeys(pb.payload)))
      out.push(`point ${pa.id}: payload ${JSON.stringify(pa.payload)} ≠ ${JSON.stringify(pb.payload)}`);
    if (!(Array.isArray(pa.vector) && Array.isArray(pb.vector) && closeTo(pa.vector, pb.vector)))
      out.push(`point ${pa.id}: vector differs`);
  }
  return out.slice(0, 10);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** A deterministic float32 vector. */
export const vec = (seed: number, dim: number): number[] =>
  Array.from({ length: dim }, (_, i) => Math.fround(Math.sin(seed * 31 + i)));
/** A pgvector literal. */
export const lit = (v: number[]): string => `[${v.join(',')}]`;

/** Exact number of points in a collection. */
export async function pointCount(collection: string): Promise<number> {
  const { status, result } = await qdrantRequest<{ count: number }>(
    'POST',
    `/collections/${collection}/points/count`,
    { exact: true },
  );
  return status === 200 ? result.count : 0;
}

/** Partition → the group's committed offset on `topic` (-1n: none yet). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Partition → the end (high watermark) of `topic`. */
export async function endOffsets(topic: string): Promise<Map<number, bigint>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** True when the group has committed the end of every non-empty partition of `topic`. */
export async function groupAtEnd(groupId: string, topic: string): Promise<boolean> {
  const [committed, ends] = await Promise.all([committedOffsets(groupId, topic), endOffsets(topic)]);
  for (const [partition, end] of ends) if (end > 0n && committed.get(partition) !== end) return false;
  return true;
}

/**
 * Registers the hooks of the current test file: a connection before, the cleanup of what each
 * test created after it (last created first), and the connection's end after all.
 */
export function useSinkPipelines(): SinkPipelines {
  let client: pg.Client | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  before(async () => {
    client = await connectPg();
  });
  afterEach(runCleanups);
  after(async () => {
    await runCleanups();
    await client?.end();
  });

  const qdrantConfig = () => ({
    url: stackEnv().qdrantUrl,
    ...(stackEnv().qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
  });

  const withKafkaAdmin = async (
    fn: (admin: ReturnType<ReturnType<typeof testKafka>['admin']>) => Promise<void>,
  ) => {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await fn(admin);
    } finally {
      await admin.disconnect();
    }
  };

  /** Drops the collection and the consumer group (after the pipeline's processes are gone). */
  const dropSinkSide = (collection: string, groupId: string) =>
    cleanups.push(async () => {
      await dropCollection(collection);
      await withKafkaAdmin(async (admin) => {
        await admin.deleteGroups([groupId]).catch(() => {});
      });
    });

  const ctx: SinkPipelines = {
    get sql() {
      if (!client) throw new Error('useSinkPipelines: no connection yet (use it inside a test)');
      return client;
    },
    async createTable(table, dim) {
      await ctx.sql.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, title text NOT NULL, n int, embedding vector(${dim}))`,
      );
      cleanups.push(async () => {
        await ctx.sql.query(`DROP TABLE IF EXISTS ${table}`);
      });
    },
    pipeline(table, options = {}) {
      const name = uniqueName('sink');
      const collection = uniqueName('coll');
      const p: TestPipeline = {
        name,
        slot: name,
        publication: name,
        topicPrefix: name,
        tables: [
          { table: `public.${table}`, ...options.extraTable, collection } as TestPipeline['tables'][number],
        ],
        snapshot: options.snapshot ?? 'initial',
        ...(options.partitions ? { partitions: options.partitions } : {}),
      };
      const config = writeConfig(p, {
        qdrant: qdrantConfig(),
        ...(options.sink ? { sink: options.sink } : {}),
      });
      cleanups.push(async () => {
        await dropPipeline(ctx.sql, p.slot, p.publication);
        await ctx.sql.query(`DROP TABLE IF EXISTS ${table}`);
        await withKafkaAdmin(async (admin) => {
          const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`));
          if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
        });
      });
      const groupId = `vecrelay-${name}`;
      dropSinkSide(collection, groupId);
      return {
        p,
        table,
        collection,
        config,
        groupId,
        topic: changeTopic(name, 'public', table),
        deadLetterTopic: deadLetterTopic(name, name),
      };
    },
    replayConfig(sp) {
      const collection = uniqueName('replay');
      const groupId = uniqueName('replay-group');
      const p: TestPipeline = {
        ...sp.p,
        tables: sp.p.tables.map((t) => ({ ...t, collection }) as TestPipeline['tables'][number]),
      };
      const config = writeConfig(p, { qdrant: qdrantConfig(), sink: { groupId } });
      dropSinkSide(collection, groupId);
      return { ...sp, p, collection, config, groupId };
    },
    start(args) {
      const proc = startVecrelay(args);
      cleanups.push(async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
        await proc.exited;
      });
      return proc;
    },
    cleanup(fn) {
      cleanups.push(async () => {
        await fn();
      });
    },
    async tableRows(table) {
      const { rows } = await ctx.sql.query<{
        id: number;
        title: string;
        n: number | null;
        embedding: string | null;
      }>(`SELECT id, title, n, embedding::text AS embedding FROM ${table} ORDER BY id`);
      return rows.map((r) => ({
        ...r,
        embedding: r.embedding ? (JSON.parse(r.embedding) as number[]) : null,
      }));
    },
    async waitCollectionEqualsTable(table, collection, timeoutMs = 90_000) {
      let last: string[] = [];
      await waitFor(
        `collection ${collection} = table ${table}`,
        async () => {
          last = differences(await ctx.tableRows(table), await scrollAll(collection));
          return last.length === 0;
        },
        { timeoutMs, intervalMs: 300 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${last.join('; ')}`);
      });
    },
  };
  return ctx;
}
