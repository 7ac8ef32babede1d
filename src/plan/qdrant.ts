// Qdrant as `vecrelay plan` and the start-up preflight see it, read-only: reachable at qdrant.url,
// the API key accepted, and every collection that already exists shaped as its table needs
// (vector names, sizes, distances). The sink makes the same comparison when it starts
// (src/sink/collections.ts); doing it here too, before the source creates its slot, publication
// and topics, means a mismatch leaves nothing behind.
import type { LoadedConfig } from '../config/load.js';
import type { TableConfig } from '../config/schema.js';
import { messageOf } from '../shared/errors.js';
import type { Problem } from '../shared/problems.js';
import { collectionName } from '../event/names.js';
import { dimensionProblem, resolveDistance } from '../sink/collections.js';
import { QdrantGrpc } from '../sink/qdrant/grpc-client.js';
import { grpcUrlOf } from '../sink/qdrant/output.js';
import { qdrantTlsProblem } from '../sink/qdrant/tls-errors.js';
import type { TableInfo, VectorColumnInfo } from '../source/postgres/catalog.js';
import type { Check } from './types.js';

// Long enough for a busy Qdrant (or machine) to answer; a refused connection fails at once.
export const QDRANT_CHECK_MS = 15_000;

interface VectorParams {
  size?: unknown;
  distance?: unknown;
}

interface CollectionInfo {
  config?: { params?: { vectors?: unknown; sparse_vectors?: Record<string, unknown> | null } };
}

export interface QdrantTarget {
  url: string;
  apiKey: string | undefined;
  apiKeyEnv: string | undefined;
  /** qdrant.caFile (loadConfig made Node trust it): named when the certificate does not verify. */
  caFile: string | undefined;
}

export function qdrantTarget(config: LoadedConfig): QdrantTarget | undefined {
  if (!config.qdrant) return undefined;
  const { url, apiKeyEnv, caFile } = config.qdrant;
  return { url, apiKey: config.qdrantApiKey, apiKeyEnv, caFile };
}

async function get(target: QdrantTarget, path: string): Promise<{ status: number; result: unknown }> {
  const res = await fetch(`${target.url.replace(/\/+$/, '')}${path}`, {
    headers: target.apiKey ? { 'api-key': target.apiKey } : {},
    signal: AbortSignal.timeout(QDRANT_CHECK_MS),
  });
  const text = await res.text();
  let result: unknown = text;
  try {
    const body = JSON.parse(text) as { result?: unknown; status?: { error?: string } };
    result = res.status === 200 ? body.result : (body.status?.error ?? text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, result };
}

/**
 * Qdrant did not answer. A certificate that does not verify (qdrant.caFile) is said as such: it
 * will not verify on the next try either.
 */
export function qdrantUnreachableProblem(url: string, err: unknown, caFile?: string): Problem {
  const tls = qdrantTlsProblem(err, { url, caFile });
  if (tls) return tls;
  const cause = (err as { cause?: unknown }).cause;
  return {
    object: 'qdrant.url',
    message: `cannot reach Qdrant at ${url} (qdrant.url): ${messageOf(err)}${cause ? ` (${messageOf(cause)})` : ''}`,
    fix: 'check qdrant.url, and that Qdrant runs and accepts connections from here',
  };
}

export function qdrantAuthProblem(target: QdrantTarget, status: number, why: unknown): Problem {
  return {
    object: 'qdrant.apiKeyEnv',
    message: `Qdrant at ${target.url} refused ${target.apiKey ? 'the API key' : 'a request without an API key'} (${status}: ${String(why)})`,
    fix: target.apiKeyEnv
      ? `put the right key in ${target.apiKeyEnv} (qdrant.apiKeyEnv)`
      : 'set qdrant.apiKeyEnv to the environment variable holding the API key',
  };
}

const describe = (p: VectorParams | undefined) =>
  p && typeof p.size === 'number' ? `size ${p.size}, ${String(p.distance)}` : 'missing';

/**
 * What is wrong with an existing collection for `table` (its vectors as the catalog reads
 * them), or undefined. Covers both layouts: one unnamed dense vector, or named ones.
 */
export function collectionProblem(
  collection: string,
  tableName: string,
  vectors: VectorColumnInfo[],
  tableConfig: TableConfig | undefined,
  info: CollectionInfo,
): Problem | undefined {
  const dense = vectors.filter((v) => v.kind !== 'sparsevec');
  const sparse = vectors.filter((v) => v.kind === 'sparsevec');
  const unnamed = dense.length === 1 && sparse.length === 0;
  const params = info.config?.params ?? {};
  const have = (params.vectors ?? undefined) as VectorParams | Record<string, VectorParams> | undefined;
  const haveUnnamed = have !== undefined && typeof (have as VectorParams).size === 'number';
  const fix =
    'drop or rename the collection, or set tables[].collection (another collection) / tables[].distance';
  for (const v of dense) {
    if (!v.dimension) continue; // dimensionProblem says it
    const want = { size: v.dimension, distance: resolveDistance(tableConfig?.distance, v.distance).distance };
    const needs = `${tableName}.${v.name} needs ${unnamed ? 'one unnamed vector of ' : `vector "${v.name}" of `}size ${want.size}, ${want.distance}`;
    let found: VectorParams | undefined;
    let as: string;
    if (unnamed) {
      found = haveUnnamed ? (have as VectorParams) : undefined;
      as = haveUnnamed
        ? `its vector as ${describe(found)}`
        : `named vectors (${Object.keys(have ?? {}).join(', ') || 'none'}) instead of one unnamed vector`;
    } else {
      found = haveUnnamed ? undefined : (have as Record<string, VectorParams> | undefined)?.[v.name];
      as = haveUnnamed
        ? `one unnamed vector (${describe(have as VectorParams)}) instead of named vectors`
        : `vector "${v.name}" as ${describe(found)}`;
    }
    if (!found || found.size !== want.size || found.distance !== want.distance)
      return {
        object: `collection ${collection}`,
        message: `Qdrant collection ${collection} has ${as}, but ${needs}`,
        fix,
      };
  }
  const haveSparse = params.sparse_vectors ?? {};
  const missing = sparse.filter((v) => !(v.name in haveSparse)).map((v) => v.name);
  if (missing.length)
    return {
      object: `collection ${collection}`,
      message: `Qdrant collection ${collection} has no sparse vector ${missing.join(', ')}, which ${tableName} needs`,
      fix,
    };
  return undefined;
}

/**
 * Qdrant's lines for a plan report or a preflight: reachable, API key accepted, and one line per
 * table's collection. Blockers carry their Problem.
 */
/** The sink writes points over gRPC (qdrant.transport): its port must answer too. */
async function checkGrpc(
  target: QdrantTarget,
  grpcUrl: string | undefined,
): Promise<{ check: Check; problem?: Problem }> {
  const url = grpcUrlOf(target.url, grpcUrl);
  const grpc = new QdrantGrpc({ url, apiKey: target.apiKey, caFile: target.caFile });
  try {
    const version = await grpc.version(AbortSignal.timeout(QDRANT_CHECK_MS));
    const message = `Qdrant gRPC at ${url}: reachable (${version}); the sink writes points over it`;
    return { check: { level: 'ok', object: 'qdrant.grpcUrl', message, fix: '' } };
  } catch (err) {
    const problem: Problem = {
      object: 'qdrant.grpcUrl',
      message: `cannot reach Qdrant's gRPC API at ${url} (qdrant.grpcUrl${grpcUrl ? '' : ', from qdrant.url with port 6334'}): ${messageOf(err)}`,
      fix: "set qdrant.grpcUrl to Qdrant's gRPC address (port 6334 by default, https when qdrant.url is) and let the sink reach it, or set qdrant.transport: rest",
    };
    return { check: { level: 'blocker', ...problem }, problem };
  } finally {
    grpc.close();
  }
}

export async function checkQdrant(
  target: QdrantTarget,
  config: Pick<LoadedConfig, 'qdrant' | 'tables'>,
  tables: TableInfo[],
): Promise<Array<{ check: Check; problem?: Problem }>> {
  const blocker = (problem: Problem) => ({ check: { level: 'blocker' as const, ...problem }, problem });
  const ok = (object: string, message: string) => ({
    check: { level: 'ok' as const, object, message, fix: '' },
  });
  let list;
  try {
    list = await get(target, '/collections');
  } catch (err) {
    return [blocker(qdrantUnreachableProblem(target.url, err, target.caFile))];
  }
  if (list.status === 401 || list.status === 403)
    return [blocker(qdrantAuthProblem(target, list.status, list.result))];
  if (list.status !== 200)
    return [
      blocker({
        object: 'qdrant.url',
        message: `Qdrant at ${target.url} (qdrant.url) answered ${list.status}: ${String(list.result)}`,
        fix: 'check qdrant.url: it must be the REST address of Qdrant (port 6333 by default)',
      }),
    ];
  const out: Array<{ check: Check; problem?: Problem }> = [
    ok('qdrant.url', `Qdrant at ${target.url}: reachable${target.apiKey ? ', API key accepted' : ''}`),
  ];
  if (config.qdrant?.transport === 'grpc') out.push(await checkGrpc(target, config.qdrant.grpcUrl));
  const prefix = config.qdrant?.collectionPrefix ?? '';
  for (const info of tables) {
    const name = `${info.schema}.${info.table}`;
    const tableConfig = config.tables.find((t) => t.table === name);
    const collection = collectionName(prefix, tableConfig, info.schema, info.table);
    // No collection can be made for it: the table's own check says so (dimensionProblem).
    if (info.vectors.some((v) => dimensionProblem(name, v))) continue;
    let got;
    try {
      got = await get(target, `/collections/${encodeURIComponent(collection)}`);
    } catch (err) {
      out.push(blocker(qdrantUnreachableProblem(target.url, err, target.caFile)));
      continue;
    }
    if (got.status === 404) {
      out.push(ok(`collection ${collection}`, 'does not exist yet: the sink creates it'));
      continue;
    }
    if (got.status !== 200) {
      out.push(
        blocker({
          object: `collection ${collection}`,
          message: `Qdrant answered ${got.status} for collection ${collection}: ${String(got.result)}`,
          fix: 'check qdrant.url and the API key',
        }),
      );
      continue;
    }
    const problem = collectionProblem(
      collection,
      name,
      info.vectors,
      tableConfig,
      got.result as CollectionInfo,
    );
    out.push(
      problem ? blocker(problem) : ok(`collection ${collection}`, `exists and matches ${name}: reused`),
    );
  }
  return out;
}
