// bench/sink.ts's baselines and server: the raw clients users would pick — @qdrant/js-client-rest
// and @qdrant/js-client-grpc, each point built as that client takes it (number[] vectors) — and,
// when the stack's Qdrant test server has no gRPC front, a test server of the bench's own serving
// both (test/qdrant-server/main.ts), so that every run of one bench meets the same server.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-rest';
import { QdrantClient as QdrantGrpcClient, type PointStruct, type Value } from '@qdrant/js-client-grpc';
import { create } from '@bufbuild/protobuf';
import { UpsertPointsSchema } from '@qdrant/js-client-grpc';
import { freePort } from '../test/helpers/free-port.js';
import { processCpuSeconds } from './process-stats.js';
import { repoRoot, stackDir, waitFor } from '../test/helpers/stack.js';

export interface BenchQdrant {
  url: string;
  grpcUrl: string;
  apiKey: string | undefined;
  /** The server's pid when it is a local test server (its CPU use is reported). */
  pid: number | undefined;
  rest: QdrantClient;
  grpc: QdrantGrpcClient;
  /** Points in a collection; 0 when it does not exist (yet). */
  count(collection: string): Promise<number>;
  drop(collection: string): Promise<void>;
  /** A new empty Cosine collection of `dim`, with an integer index on `indexed` (as the sink makes). */
  fresh(collection: string, dim: number, indexed: string): Promise<void>;
  close(): Promise<void>;
}

/** The Qdrant of this run: QDRANT_URL + QDRANT_GRPC_URL, the stack's server, or one of our own. */
export async function benchQdrant(env: {
  qdrantUrl: string;
  qdrantGrpcUrl: string | undefined;
  qdrantApiKey: string | undefined;
  qdrantIsReal: boolean;
}): Promise<BenchQdrant> {
  let { qdrantUrl: url, qdrantGrpcUrl: grpcUrl } = env;
  let pid: number | undefined;
  let child: ChildProcess | undefined;
  if (env.qdrantIsReal) {
    if (!grpcUrl) throw new Error('QDRANT_URL is set: set QDRANT_GRPC_URL too (its gRPC port, 6334)');
  } else if (grpcUrl) {
    try {
      pid = Number(readFileSync(path.join(stackDir, 'qdrant-test-server', 'server.pid'), 'utf8'));
    } catch {
      /* not known */
    }
  } else {
    // The stack's server predates its gRPC front: a server of our own for every run.
    const [port, grpcPort] = [await freePort(), await freePort()];
    const c = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'test/qdrant-server/main.ts',
        '--port',
        String(port),
        '--grpc-port',
        String(grpcPort),
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child = c;
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the bench Qdrant test server', () => out.includes('listening on'), { timeoutMs: 60_000 });
    url = `http://127.0.0.1:${port}`;
    grpcUrl = `http://127.0.0.1:${grpcPort}`;
    pid = c.pid;
  }
  const apiKey = env.qdrantApiKey;
  const rest = new QdrantClient({ url, apiKey, checkCompatibility: false, timeout: 600_000 });
  const drop = async (collection: string) => void (await rest.deleteCollection(collection).catch(() => {}));
  return {
    url,
    grpcUrl,
    apiKey,
    pid,
    rest,
    count: (collection) =>
      rest.count(collection, { exact: true }).then(
        (r) => r.count,
        () => 0,
      ),
    drop,
    async fresh(collection, dim, indexed) {
      await drop(collection);
      await rest.createCollection(collection, { vectors: { size: dim, distance: 'Cosine' } });
      await rest.createPayloadIndex(collection, { field_name: indexed, field_schema: 'integer', wait: true });
    },
    grpc: new QdrantGrpcClient({
      url: grpcUrl,
      ...(apiKey ? { headers: { 'api-key': apiKey } } : {}),
      checkCompatibility: false,
      // gzip (the client's default) costs the client more CPU than float32 vectors save.
      compression: false,
      timeout: 600_000,
    }),
    async close() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((r) => child!.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A row's point as the benchmark generates it (see bench/sink.ts pointOf). */
export interface BenchPoint {
  id: number;
  vector: number[];
  payload: Record<string, unknown>;
}

/** A JSON value as a Qdrant gRPC Value (integers as integer_value, as JSON would store them). */
function grpcValue(v: unknown): Value {
  const kind = (() => {
    if (v === null) return { case: 'nullValue', value: 0 };
    if (typeof v === 'boolean') return { case: 'boolValue', value: v };
    if (typeof v === 'number')
      return Number.isSafeInteger(v)
        ? { case: 'integerValue', value: BigInt(v) }
        : { case: 'doubleValue', value: v };
    if (typeof v === 'string') return { case: 'stringValue', value: v };
    if (Array.isArray(v)) return { case: 'listValue', value: { values: v.map(grpcValue) } };
    return {
      case: 'structValue',
      value: { fields: Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, grpcValue(x)])) },
    };
  })();
  return { kind } as Value;
}

/** The point as a user of @qdrant/js-client-grpc builds it: a dense vector of number[]. */
function grpcPoint(p: BenchPoint): PointStruct {
  return {
    id: { pointIdOptions: { case: 'num', value: BigInt(p.id) } },
    vectors: {
      vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data: p.vector } } } },
    },
    payload: Object.fromEntries(Object.entries(p.payload).map(([k, v]) => [k, grpcValue(v)])),
  } as PointStruct;
}

export type RawClient = 'rest' | 'grpc';

/** Upserts points [0, n) with the raw client: `concurrency` workers, `batch` points a request. */
export async function rawUpsert(
  q: BenchQdrant,
  client: RawClient,
  collection: string,
  pointOf: (i: number) => BenchPoint,
  n: number,
  batch: number,
  concurrency: number,
): Promise<{ seconds: number; cpuSeconds: number }> {
  let next = 0;
  const points = q.grpc.api('points');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const start = next;
        if (start >= n) return;
        next = Math.min(start + batch, n);
        const batchPoints = [];
        for (let i = start; i < next; i++) batchPoints.push(pointOf(i));
        if (client === 'rest') await q.rest.upsert(collection, { wait: true, points: batchPoints });
        else
          await points.upsert(
            create(UpsertPointsSchema, {
              collectionName: collection,
              wait: true,
              points: batchPoints.map(grpcPoint),
            }),
          );
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** A process's CPU use from now on (the Qdrant test server's: null when its pid is unknown). */
export function processCpu(pid: number | undefined) {
  const start = pid ? processCpuSeconds(pid) : 0;
  return {
    /** Fraction of `seconds` the process spent on a CPU. */
    busy: (seconds: number): number | null => (pid ? (processCpuSeconds(pid) - start) / seconds : null),
  };
}
