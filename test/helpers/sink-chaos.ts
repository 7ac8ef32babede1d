// What the sink's chaos tests (test/chaos/sink-*.test.ts) share: a pipeline whose sink writes to
// a Qdrant test server of the test's own (qdrant-process.ts), rows with SQL-made vectors, the
// full comparison of table and collection on that server, the dead-letter count and log lines,
// the stop of a sink whose key Qdrant refuses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { differences, waitInSync } from './collection-sync.js';
import { endOffsets } from './kafka.js';
import { startQdrantProcess, type QdrantProcess, type QdrantProcessOptions } from './qdrant-process.js';
import type { SinkPipeline, SinkPipelineOptions, SinkPipelines, Transport } from './sink-pipeline.js';
import { writeConfig, type RunningProcess } from './source-process.js';
import { uniqueName } from './stack.js';

export const DIM = 8;

export interface ChaosPipeline extends SinkPipeline {
  qdrant: QdrantProcess;
  /** How its sink writes points (qdrant.transport); absent: rest (a pipeline built by hand). */
  transport?: Transport;
}

/**
 * A table, its pipeline, and a Qdrant test server of its own that the config points at (serving
 * gRPC too with transport grpc, which the sink then writes points with).
 */
export async function chaosPipeline(
  ctx: SinkPipelines,
  prefix: string,
  options: SinkPipelineOptions & { qdrant?: QdrantProcessOptions; apiKeyEnv?: string } = {},
): Promise<ChaosPipeline> {
  const table = uniqueName(prefix);
  await ctx.createTable(table, DIM);
  const grpc = options.transport === 'grpc';
  const qdrant = await startQdrantProcess(ctx.cleanup, { ...options.qdrant, ...(grpc ? { grpc } : {}) });
  const sp = ctx.pipeline(table, { ...options, transport: 'rest' }); // its config is replaced below
  const config = writeConfig(sp.p, {
    qdrant: {
      url: qdrant.url,
      ...(grpc ? { transport: 'grpc', grpcUrl: qdrant.grpcUrl } : {}),
      ...(options.apiKeyEnv ? { apiKeyEnv: options.apiKeyEnv } : {}),
    },
    ...(options.sink ? { sink: options.sink } : {}),
  });
  return { ...sp, config, qdrant, transport: grpc ? 'grpc' : 'rest' };
}

/**
 * A test-server fault rule (test/qdrant-server/faults.ts) matching the sink's upserts of whole
 * points to the pipeline's collection over its transport: REST PUT /collections/<c>/points, gRPC
 * qdrant.Points/Upsert (transport-grpc.ts). Scoped to the collection by name too, so the rule
 * would never touch another test's collection, even on a shared server.
 */
export function upsertFault(cp: ChaosPipeline, rule: Record<string, unknown>): Record<string, unknown> {
  const paths =
    cp.transport === 'grpc' ? '^/qdrant\\.Points/Upsert$' : `^/collections/${cp.collection}/points$`;
  return {
    ...(cp.transport === 'grpc' ? { transport: 'grpc' } : {}),
    paths,
    collection: cp.collection,
    ...rule,
  };
}

/** Inserts rows [from, to] in one transaction (no two vectors alike). */
export async function insertRows(ctx: SinkPipelines, table: string, from: number, to: number): Promise<void> {
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 't' || i, i,
       ARRAY[sin(i), cos(i), sin(2 * i), cos(2 * i), sin(3 * i), cos(3 * i), sin(5 * i), cos(5 * i)]::vector
     FROM generate_series($1::int, $2::int) i`,
    [from, to],
  );
}

/** Waits until the collection equals the table: 0 missing, 0 extra, 0 mismatched. */
export function waitCollectionEqualsTable(
  ctx: SinkPipelines,
  cp: ChaosPipeline,
  timeoutMs = 60_000,
): Promise<void> {
  return waitInSync(
    `collection ${cp.collection} = table ${cp.table}`,
    async () => differences(await ctx.tableRows(cp.table), await cp.qdrant.scrollAll(cp.collection)),
    timeoutMs,
  );
}

/** The full comparison, now: the differences (empty when equal). */
export async function collectionVsTable(ctx: SinkPipelines, cp: ChaosPipeline): Promise<string[]> {
  return differences(await ctx.tableRows(cp.table), await cp.qdrant.scrollAll(cp.collection));
}

/** Records in the pipeline's dead-letter topic (0 when it does not exist). */
export async function deadLetters(cp: SinkPipeline): Promise<bigint> {
  try {
    return [...(await endOffsets(cp.deadLetterTopic)).values()].reduce((a, b) => a + b, 0n);
  } catch {
    return 0n;
  }
}

/** The pino lines of a process's log (a line still being written is left out). */
export function logLines(proc: RunningProcess): Array<Record<string, unknown>> {
  return readFileSync(proc.logFile, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

export const alive = (proc: RunningProcess): boolean =>
  proc.child.exitCode === null && proc.child.signalCode === null;

/**
 * Adds a fault rule to the pipeline's test server, and checks that the server took it as given:
 * one that ignored `collection` (an older build) would widen the rule to every collection.
 */
export async function injectFault(cp: ChaosPipeline, rule: Record<string, unknown>): Promise<void> {
  const { status, result } = await cp.qdrant.request<Array<{ collection?: string }>>(
    'POST',
    '/__test/faults',
    rule,
  );
  if (status !== 200) throw new Error(`fault ${JSON.stringify(rule)}: HTTP ${status}`);
  if (rule.collection !== undefined && !result.some((r) => r.collection === rule.collection))
    throw new Error(`the test server did not scope ${JSON.stringify(rule)} to its collection`);
}

/**
 * Waits (60 s at most) for a sink whose key Qdrant now refuses to stop, and asserts how it stops:
 * exit 2 (retrying cannot fix a refused key), an error naming qdrant.apiKeyEnv and its variable
 * `keyEnv`, none of `keys` in its log, nothing dead-lettered.
 */
export async function assertStopsOnRefusedKey(
  cp: SinkPipeline,
  sink: RunningProcess,
  keyEnv: string,
  keys: string[],
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const { code } = await Promise.race([
    sink.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the sink did not stop within 60 s')), 60_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(code, 2, 'exit 2: retrying cannot fix a refused key');
  const log = readFileSync(sink.logFile, 'utf8');
  assert.match(
    log,
    new RegExp(`qdrant\\.apiKeyEnv \\(${keyEnv}\\)`),
    'the error names the setting and its variable',
  );
  assert.ok(!keys.some((k) => log.includes(k)), 'no key in the log');
  assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
}
