// The gRPC side of transports.ts: Qdrant's own JS gRPC client (@qdrant/js-client-grpc), the one a
// user of Qdrant's gRPC API would pick. Inputs become its messages (grpc-messages.ts), its
// answers and ConnectErrors the neutral forms of transports.ts.
import {
  ConnectError,
  Distance,
  PayloadSchemaType,
  QdrantClient,
  QdrantClientResourceExhaustedError,
  UpdateStatus,
  type PointId,
  type Value,
  type VectorsOutput,
} from '@qdrant/js-client-grpc';
import {
  batchOp,
  FIELD_TYPES,
  filter,
  fromId,
  fromPayload,
  fromVectors,
  hnsw,
  id,
  payload,
  point,
  selector,
  vectors,
  vectorsConfig,
} from './grpc-messages.js';
import type { ErrorKind, Json, Retrieved, Transport, WriteStatus } from './transports.js';
import { TransportError } from './transports.js';

// gRPC status codes (grpc/status.proto) → the neutral error classes.
const KINDS: Record<number, ErrorKind> = {
  3: 'invalid',
  4: 'timeout',
  5: 'not_found',
  6: 'already_exists',
  7: 'forbidden',
  8: 'rate_limited',
  13: 'internal',
  14: 'unavailable',
  16: 'unauthenticated',
};

/** Neutral error of a failed call. */
function failure(err: unknown): unknown {
  // The client (1.19.0) turns RESOURCE_EXHAUSTED with retry-after metadata into its own error,
  // which connect then wraps as an UNKNOWN ConnectError with it as the cause. Matched by name:
  // ConnectError's Symbol.hasInstance, inherited, makes `instanceof` say yes to any ConnectError.
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.name === QdrantClientResourceExhaustedError.name) {
    const limited = cause as QdrantClientResourceExhaustedError;
    return new TransportError('rate_limited', limited.rawMessage, limited.retry_after);
  }
  if (!(err instanceof ConnectError)) return err;
  const retry = err.metadata.get('retry-after');
  return new TransportError(KINDS[err.code] ?? 'other', err.rawMessage, retry ? Number(retry) : undefined);
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw failure(err);
  }
}

const status = (s: UpdateStatus | undefined): WriteStatus =>
  s === UpdateStatus.Completed ? 'completed' : 'acknowledged';

function retrieved(p: { id?: PointId; payload: Record<string, Value>; vectors?: VectorsOutput }): Retrieved {
  const out: Retrieved = { id: fromId(p.id) };
  if (Object.keys(p.payload).length) out.payload = fromPayload(p.payload);
  const v = fromVectors(p.vectors);
  if (v !== undefined) out.vector = v;
  return out;
}

export function grpcTransport(url: string, apiKey: string | undefined): Transport {
  // The key as the `api-key` header the client's apiKey option sets, without its console warning
  // about keys over plain http (the test servers are h2c).
  const headers = apiKey === undefined ? undefined : { 'api-key': apiKey };
  const client = new QdrantClient({ url, headers, checkCompatibility: false });
  const points = client.api('points');
  const collections = client.api('collections');
  const w = { wait: true };
  const write = async (fn: () => Promise<{ result?: { status: UpdateStatus } }>) =>
    status((await call(fn)).result?.status);
  return {
    name: 'grpc',
    createCollection: (collectionName, body) =>
      call(async () => {
        await collections.create({
          collectionName,
          vectorsConfig: vectorsConfig(body.vectors as Json),
          hnswConfig: hnsw(body.hnsw_config as Json | undefined),
          metadata: payload(body.metadata as Json | undefined),
        });
      }),
    info: (collectionName) =>
      call(async () => {
        const r = (await collections.get({ collectionName })).result!;
        const config = r.config!;
        const vc = config.params!.vectorsConfig!.config;
        const one = (p: { size: bigint; distance: Distance }) => ({
          size: Number(p.size),
          distance: Distance[p.distance],
        });
        return {
          pointsCount: Number(r.pointsCount ?? 0n),
          vectors:
            vc.case === 'params'
              ? { '': one(vc.value) }
              : Object.fromEntries(Object.entries(vc.value!.map).map(([n, p]) => [n, one(p)])),
          hnswM: Number(config.hnswConfig!.m),
          efConstruct: Number(config.hnswConfig!.efConstruct),
          metadata: fromPayload(config.metadata),
          payloadSchema: Object.fromEntries(
            Object.entries(r.payloadSchema).map(([k, v]) => [k, PayloadSchemaType[v.dataType].toLowerCase()]),
          ),
        };
      }),
    updateCollection: (collectionName, body) =>
      call(async () => {
        await collections.update({
          collectionName,
          hnswConfig: hnsw(body.hnsw_config as Json | undefined),
          metadata: payload(body.metadata as Json | undefined),
        });
      }),
    deleteCollection: (collectionName) =>
      call(async () => (await collections.delete({ collectionName })).result),
    exists: (collectionName) =>
      call(async () => (await collections.collectionExists({ collectionName })).result!.exists),
    list: () => call(async () => (await collections.list({})).collections.map((c) => c.name)),
    upsert: (collectionName, ps, opts = {}) =>
      write(() =>
        points.upsert({
          collectionName,
          wait: opts.wait ?? true,
          points: ps.map(point),
          updateFilter: opts.update_filter && filter(opts.update_filter),
        }),
      ),
    delete: (collectionName, sel) =>
      write(() => points.delete({ collectionName, ...w, points: selector(sel) })),
    setPayload: (collectionName, p, sel, key) =>
      write(() =>
        points.setPayload({ collectionName, ...w, payload: payload(p), pointsSelector: selector(sel), key }),
      ),
    overwritePayload: (collectionName, p, sel) =>
      write(() =>
        points.overwritePayload({ collectionName, ...w, payload: payload(p), pointsSelector: selector(sel) }),
      ),
    deletePayload: (collectionName, keys, sel) =>
      write(() => points.deletePayload({ collectionName, ...w, keys, pointsSelector: selector(sel) })),
    updateVectors: (collectionName, ps, updateFilter) =>
      write(() =>
        points.updateVectors({
          collectionName,
          ...w,
          points: ps.map((p) => ({ id: id(p.id), vectors: vectors(p.vector) })),
          updateFilter: updateFilter && filter(updateFilter),
        }),
      ),
    deleteVectors: (collectionName, names, sel) =>
      write(() =>
        points.deleteVectors({ collectionName, ...w, vectors: { names }, pointsSelector: selector(sel) }),
      ),
    batch: (collectionName, ops) =>
      call(async () =>
        (await points.updateBatch({ collectionName, ...w, operations: ops.map(batchOp) })).result.map((r) =>
          status(r.status),
        ),
      ),
    get: (collectionName, ids, opts = {}) =>
      call(async () =>
        (
          await points.get({
            collectionName,
            ids: ids.map(id),
            withPayload: { selectorOptions: { case: 'enable', value: opts.payload ?? true } },
            withVectors: { selectorOptions: { case: 'enable', value: opts.vector ?? false } },
          })
        ).result.map(retrieved),
      ),
    scroll: (collectionName, opts = {}) =>
      call(async () => {
        const r = await points.scroll({
          collectionName,
          limit: opts.limit ?? 100,
          offset: opts.offset === undefined ? undefined : id(opts.offset),
          filter: opts.filter && filter(opts.filter),
          withPayload: { selectorOptions: { case: 'enable', value: true } },
          withVectors: { selectorOptions: { case: 'enable', value: opts.vector ?? false } },
        });
        return {
          points: r.result.map(retrieved),
          next: r.nextPageOffset ? fromId(r.nextPageOffset) : undefined,
        };
      }),
    count: (collectionName, f) =>
      call(async () =>
        Number((await points.count({ collectionName, exact: true, filter: f && filter(f) })).result!.count),
      ),
    query: (collectionName, nearest, opts = {}) =>
      call(async () => {
        const r = await points.query({
          collectionName,
          query: {
            variant: {
              case: 'nearest',
              value: {
                variant: Array.isArray(nearest)
                  ? { case: 'dense', value: { data: nearest } }
                  : { case: 'id', value: id(nearest) },
              },
            },
          },
          limit: BigInt(opts.limit ?? 10),
          params: { exact: true },
          using: opts.using,
          filter: opts.filter && filter(opts.filter),
        });
        return r.result.map((x) => ({ id: fromId(x.id), score: x.score }));
      }),
    createIndex: (collectionName, fieldName, type) =>
      write(() => points.createFieldIndex({ collectionName, ...w, fieldName, fieldType: FIELD_TYPES[type] })),
    deleteIndex: (collectionName, fieldName) =>
      write(() => points.deleteFieldIndex({ collectionName, ...w, fieldName })),
    updateAliases: (actions) =>
      call(async () => {
        await collections.updateAliases({
          actions: actions.map((a) =>
            'create_alias' in a
              ? {
                  action: {
                    case: 'createAlias' as const,
                    value: {
                      collectionName: a.create_alias.collection_name,
                      aliasName: a.create_alias.alias_name,
                    },
                  },
                }
              : 'delete_alias' in a
                ? {
                    action: { case: 'deleteAlias' as const, value: { aliasName: a.delete_alias.alias_name } },
                  }
                : {
                    action: {
                      case: 'renameAlias' as const,
                      value: {
                        oldAliasName: a.rename_alias.old_alias_name,
                        newAliasName: a.rename_alias.new_alias_name,
                      },
                    },
                  },
          ),
        });
      }),
    listAliases: () =>
      call(async () =>
        (await collections.listAliases({})).aliases.map((a) => ({
          alias: a.aliasName,
          collection: a.collectionName,
        })),
      ),
    collectionAliases: (collectionName) =>
      call(async () =>
        (await collections.listCollectionAliases({ collectionName })).aliases.map((a) => a.aliasName),
      ),
  };
}
