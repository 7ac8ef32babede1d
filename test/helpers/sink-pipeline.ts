// The per-test pipeline of the sink tests: a source pipeline (pipeline.ts) whose table goes to a
// unique collection, read by its own consumer group; `vecrelay` processes; the cleanup of all of
// it after each test. The items table (id, title, n, embedding) and its comparison with the
// collection (collection-sync.ts) are the sink tests'; other tables bring their own.
import { after, before } from 'node:test';
import { changeTopic } from '../../src/kafka/topics.js';
import { deadLetterTopic } from '../../src/sink/dead-letter.js';
import { differences, waitInSync, type Row } from './collection-sync.js';
import { withAdmin } from './kafka.js';
import { useSourcePipelines, type SourcePipelines } from './pipeline.js';
import { dropCollection, scrollAll } from './qdrant.js';
import { writeConfig, type TestPipeline } from './source-process.js';
import { startQdrantProcess } from './qdrant-process.js';
import { stackEnv, uniqueName, useQdrantTestServer } from './stack.js';

/** How the sink writes points (config qdrant.transport): the sink tests run over both. */
export type Transport = 'rest' | 'grpc';
export const TRANSPORTS: readonly Transport[] = ['rest', 'grpc'];

/**
 * The qdrant section of a config for `transport`: gRPC goes to the same Qdrant's gRPC port
 * (stackEnv().qdrantGrpcUrl; see useQdrantGrpc).
 */
export function qdrantSection(transport: Transport = 'rest'): Record<string, unknown> {
  const env = stackEnv();
  if (transport === 'grpc' && !env.qdrantGrpcUrl)
    throw new Error('no gRPC Qdrant: call useQdrantGrpc() in this test file, or set QDRANT_GRPC_URL');
  return {
    url: env.qdrantUrl,
    ...(transport === 'grpc' ? { transport: 'grpc', grpcUrl: env.qdrantGrpcUrl } : {}),
    ...(env.qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
  };
}

/**
 * Makes this test file's Qdrant serve gRPC too: the stack's test server when it does (a stack
 * started by an older up.sh does not), else a test server of the file's own (REST and gRPC on one
 * in-memory model) that every helper then talks to. Returns why gRPC tests must be skipped, if
 * they must (a real Qdrant without QDRANT_GRPC_URL).
 */
export function useQdrantGrpc(): string | false {
  const env = stackEnv();
  if (env.qdrantIsReal)
    return env.qdrantGrpcUrl ? false : 'QDRANT_URL is set without QDRANT_GRPC_URL (its gRPC port)';
  if (env.qdrantGrpcUrl) return false;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    const qdrant = await startQdrantProcess((fn) => cleanups.push(fn), { grpc: true });
    useQdrantTestServer(qdrant.url, qdrant.grpcUrl);
  });
  after(async () => {
    for (const fn of cleanups) await fn();
  });
  return false;
}

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
  /** Serve /metrics, /healthz and /readyz on this port (config metrics.port). */
  metricsPort?: number;
  /** How the sink writes points (qdrant.transport); default rest. */
  transport?: Transport;
}

export interface SinkPipelines extends Omit<SourcePipelines, 'pipeline'> {
  /** A pipeline with no collection (pipeline.ts's), for a test of the file that runs the source only. */
  sourcePipeline: SourcePipelines['pipeline'];
  /** CREATE TABLE <table> (id int PRIMARY KEY, title text NOT NULL, n int, embedding vector(dim)). */
  createTable(table: string, dim: number): Promise<void>;
  /** A pipeline over `public.<table>`; everything it creates is dropped after the test. */
  pipeline(table: string, options?: SinkPipelineOptions): SinkPipeline;
  /**
   * Another config for the same pipeline (same name, topics, point ids) with its own collection
   * and consumer group: a replay of the topics into a new collection, written over `transport`
   * (default rest).
   */
  replayConfig(sp: SinkPipeline, transport?: Transport): SinkPipeline;
  /** The items table's rows, ids ascending. */
  tableRows(table: string): Promise<Row[]>;
  /** Waits until the collection holds the items table's rows (see collection-sync.ts). */
  waitCollectionEqualsTable(table: string, collection: string, timeoutMs?: number): Promise<void>;
}

/** A deterministic float32 vector. */
export const vec = (seed: number, dim: number): number[] =>
  Array.from({ length: dim }, (_, i) => Math.fround(Math.sin(seed * 31 + i)));
/** A pgvector literal. */
export const lit = (v: number[]): string => `[${v.join(',')}]`;

/**
 * Registers the hooks of the current test file (see useTestHooks) and returns its pipelines;
 * `prefix` starts the names of their slots, topics and (with `coll`) collections.
 */
export function useSinkPipelines({ prefix = 'sink' }: { prefix?: string } = {}): SinkPipelines {
  const source = useSourcePipelines({ prefix });

  // The API key goes by the name of its variable; vecrelay processes inherit ours.
  const qdrantConfig = qdrantSection;

  /** Drops the collection and the consumer group (after the pipeline's processes are gone). */
  const dropSinkSide = (collection: string, groupId: string) =>
    source.cleanup(async () => {
      await dropCollection(collection);
      await withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => {});
    });

  const ctx: SinkPipelines = {
    get sql() {
      return source.sql;
    },
    cleanup: source.cleanup,
    start: source.start,
    startSource: source.startSource,
    resync: source.resync,
    watch: source.watch,
    sourcePipeline: source.pipeline,
    async createTable(table, dim) {
      await ctx.sql.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, title text NOT NULL, n int, embedding vector(${dim}))`,
      );
      ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${table}`));
    },
    pipeline(table, options = {}) {
      const collection = uniqueName(`${prefix}coll`);
      const p = source.pipeline(table, {
        tables: [{ table: `public.${table}`, ...options.extraTable, collection }],
        snapshot: options.snapshot ?? 'initial',
        ...(options.partitions ? { partitions: options.partitions } : {}),
      });
      const config = writeConfig(p, {
        qdrant: qdrantConfig(options.transport),
        ...(options.sink ? { sink: options.sink } : {}),
        ...(options.metricsPort ? { metrics: { port: options.metricsPort } } : {}),
      });
      const groupId = `vecrelay-${p.name}`;
      dropSinkSide(collection, groupId);
      return {
        p,
        table,
        collection,
        config,
        groupId,
        topic: changeTopic(p.topicPrefix, 'public', table),
        deadLetterTopic: deadLetterTopic(p.topicPrefix, p.name),
      };
    },
    replayConfig(sp, transport) {
      const collection = uniqueName('replay');
      const groupId = uniqueName('replay-group');
      const p: TestPipeline = { ...sp.p, tables: sp.p.tables.map((t) => ({ ...t, collection })) };
      const config = writeConfig(p, { qdrant: qdrantConfig(transport), sink: { groupId } });
      dropSinkSide(collection, groupId);
      return { ...sp, p, collection, config, groupId };
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
    waitCollectionEqualsTable(table, collection, timeoutMs = 90_000) {
      return waitInSync(
        `collection ${collection} = table ${table}`,
        async () => differences(await ctx.tableRows(table), await scrollAll(collection)),
        timeoutMs,
      );
    },
  };
  return ctx;
}
