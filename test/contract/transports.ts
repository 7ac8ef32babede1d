// One Qdrant, two transports: the shared contract scenarios (qdrant-transport-*.contract.test.ts)
// run each behaviour over REST (raw HTTP, as the REST suites) and over gRPC (Qdrant's own JS gRPC
// client, grpc-transport.ts), so both fronts of the test server — and of a real Qdrant, with
// QDRANT_URL / QDRANT_GRPC_URL — are held to the same answers. Inputs are written in Qdrant's
// REST JSON (points, filters, selectors); outputs and errors come back in one neutral form.
import { test, type TestContext } from 'node:test';
import { env, raw, type RawResponse } from './qdrant-helpers.js';
import { grpcTransport } from './grpc-transport.js';

export type Id = number | string;
export type Json = Record<string, unknown>;
export type VectorJson = number[] | Record<string, number[]>;
export interface PointJson {
  id: Id;
  vector: VectorJson;
  payload?: Json;
}
/** Which points: listed ids or a filter (REST JSON). */
export type Selector = { points: Id[] } | { filter: Json };
export interface Retrieved {
  id: Id;
  payload?: Json;
  vector?: VectorJson;
}
export interface Info {
  pointsCount: number;
  vectors: Record<string, { size: number; distance: string }>;
  hnswM: number;
  efConstruct: number;
  metadata: Json;
  /** Indexed payload fields → their type ("integer", "keyword", …). */
  payloadSchema: Record<string, string>;
}
/** A batch operation, as in POST /collections/{c}/points/batch. */
export type BatchOp =
  | { upsert: { points: PointJson[]; update_filter?: Json } }
  | { delete: Selector }
  | { set_payload: { payload: Json; key?: string } & Selector }
  | { overwrite_payload: { payload: Json } & Selector }
  | { delete_payload: { keys: string[] } & Selector }
  | { update_vectors: { points: Array<{ id: Id; vector: VectorJson }>; update_filter?: Json } }
  | { delete_vectors: { vector: string[] } & Selector };
export type AliasAction =
  | { create_alias: { collection_name: string; alias_name: string } }
  | { delete_alias: { alias_name: string } }
  | { rename_alias: { old_alias_name: string; new_alias_name: string } };

/** What went wrong, by the class a client acts on (HTTP status / gRPC code, same StorageError). */
export type ErrorKind =
  | 'invalid'
  | 'not_found'
  | 'already_exists'
  | 'unauthenticated'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'internal'
  | 'other';

export class TransportError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Seconds, from Retry-After (REST header, gRPC metadata). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export type WriteStatus = 'completed' | 'acknowledged';

export interface Transport {
  name: 'rest' | 'grpc';
  createCollection(name: string, body: Json): Promise<void>;
  info(name: string): Promise<Info>;
  updateCollection(name: string, body: Json): Promise<void>;
  deleteCollection(name: string): Promise<boolean>;
  exists(name: string): Promise<boolean>;
  list(): Promise<string[]>;
  upsert(
    name: string,
    points: PointJson[],
    opts?: { wait?: boolean; update_filter?: Json },
  ): Promise<WriteStatus>;
  delete(name: string, sel: Selector): Promise<WriteStatus>;
  setPayload(name: string, payload: Json, sel: Selector, key?: string): Promise<WriteStatus>;
  overwritePayload(name: string, payload: Json, sel: Selector): Promise<WriteStatus>;
  deletePayload(name: string, keys: string[], sel: Selector): Promise<WriteStatus>;
  updateVectors(
    name: string,
    points: Array<{ id: Id; vector: VectorJson }>,
    updateFilter?: Json,
  ): Promise<WriteStatus>;
  deleteVectors(name: string, vectors: string[], sel: Selector): Promise<WriteStatus>;
  batch(name: string, ops: BatchOp[]): Promise<WriteStatus[]>;
  get(name: string, ids: Id[], opts?: { payload?: boolean; vector?: boolean }): Promise<Retrieved[]>;
  scroll(
    name: string,
    opts?: { limit?: number; offset?: Id; filter?: Json; vector?: boolean },
  ): Promise<{ points: Retrieved[]; next: Id | undefined }>;
  count(name: string, filter?: Json): Promise<number>;
  /** Nearest points to a vector (or to a stored point, by id), exact. */
  query(
    name: string,
    nearest: number[] | Id,
    opts?: { limit?: number; using?: string; filter?: Json },
  ): Promise<Array<{ id: Id; score: number }>>;
  createIndex(name: string, field: string, type: string): Promise<WriteStatus>;
  deleteIndex(name: string, field: string): Promise<WriteStatus>;
  updateAliases(actions: AliasAction[]): Promise<void>;
  listAliases(): Promise<Array<{ alias: string; collection: string }>>;
  collectionAliases(name: string): Promise<string[]>;
}

const KINDS: Record<number, ErrorKind> = {
  400: 'invalid',
  422: 'invalid',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'already_exists',
  429: 'rate_limited',
  503: 'unavailable',
  408: 'timeout',
  504: 'timeout',
  500: 'internal',
};

/** The REST front, by raw HTTP (headers: the API key to send, if any). */
export function restTransport(url = env.qdrantUrl, apiKey = env.qdrantApiKey): Transport {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res: RawResponse<T> = await raw<T>(method, path, body, { url, apiKey });
    if (res.status === 200) return res.body.result as T;
    // The auth middleware answers in plain text, the handlers in the JSON envelope.
    const status = res.body.status;
    const message = res.text.startsWith('{') && typeof status === 'object' ? status.error : res.text;
    const retry = res.headers.get('retry-after');
    throw new TransportError(KINDS[res.status] ?? 'other', message, retry ? Number(retry) : undefined);
  };
  const write = async (path: string, method: string, body: unknown, wait = true) =>
    (await call<{ status: WriteStatus }>(method, `${path}?wait=${wait}`, body)).status;
  const p = (name: string) => `/collections/${name}/points`;
  return {
    name: 'rest',
    createCollection: async (name, body) => void (await call('PUT', `/collections/${name}`, body)),
    async info(name) {
      const r = await call<Json>('GET', `/collections/${name}`);
      const config = r.config as { params: { vectors: Json }; hnsw_config: Json; metadata?: Json };
      const vectors = config.params.vectors;
      return {
        pointsCount: Number(r.points_count),
        vectors: (typeof vectors.size === 'number' ? { '': vectors } : vectors) as Info['vectors'],
        hnswM: Number(config.hnsw_config.m),
        efConstruct: Number(config.hnsw_config.ef_construct),
        metadata: config.metadata ?? {},
        payloadSchema: Object.fromEntries(
          Object.entries(r.payload_schema as Record<string, { data_type: string }>).map(([k, v]) => [
            k,
            v.data_type,
          ]),
        ),
      };
    },
    updateCollection: async (name, body) => void (await call('PATCH', `/collections/${name}`, body)),
    deleteCollection: (name) => call<boolean>('DELETE', `/collections/${name}`),
    exists: async (name) => (await call<{ exists: boolean }>('GET', `/collections/${name}/exists`)).exists,
    list: async () =>
      (await call<{ collections: Array<{ name: string }> }>('GET', '/collections')).collections.map(
        (c) => c.name,
      ),
    upsert: (name, points, opts = {}) =>
      write(
        p(name),
        'PUT',
        { points, ...(opts.update_filter ? { update_filter: opts.update_filter } : {}) },
        opts.wait ?? true,
      ),
    delete: (name, sel) => write(`${p(name)}/delete`, 'POST', sel),
    setPayload: (name, payload, sel, key) =>
      write(`${p(name)}/payload`, 'POST', { payload, ...sel, ...(key ? { key } : {}) }),
    overwritePayload: (name, payload, sel) => write(`${p(name)}/payload`, 'PUT', { payload, ...sel }),
    deletePayload: (name, keys, sel) => write(`${p(name)}/payload/delete`, 'POST', { keys, ...sel }),
    updateVectors: (name, points, updateFilter) =>
      write(`${p(name)}/vectors`, 'PUT', {
        points,
        ...(updateFilter ? { update_filter: updateFilter } : {}),
      }),
    deleteVectors: (name, vectors, sel) =>
      write(`${p(name)}/vectors/delete`, 'POST', { vector: vectors, ...sel }),
    batch: async (name, operations) =>
      (await call<Array<{ status: WriteStatus }>>('POST', `${p(name)}/batch?wait=true`, { operations })).map(
        (r) => r.status,
      ),
    get: (name, ids, opts = {}) =>
      call<Retrieved[]>('POST', p(name), {
        ids,
        with_payload: opts.payload ?? true,
        with_vector: opts.vector ?? false,
      }).then((rs) => rs.map(clean)),
    async scroll(name, opts = {}) {
      const r = await call<{ points: Retrieved[]; next_page_offset: Id | null }>(
        'POST',
        `${p(name)}/scroll`,
        {
          limit: opts.limit ?? 100,
          ...(opts.offset !== undefined ? { offset: opts.offset } : {}),
          ...(opts.filter ? { filter: opts.filter } : {}),
          with_payload: true,
          with_vector: opts.vector ?? false,
        },
      );
      return { points: r.points.map(clean), next: r.next_page_offset ?? undefined };
    },
    count: async (name, filter) =>
      (
        await call<{ count: number }>('POST', `${p(name)}/count`, {
          exact: true,
          ...(filter ? { filter } : {}),
        })
      ).count,
    query: async (name, nearest, opts = {}) =>
      (
        await call<{ points: Array<{ id: Id; score: number }> }>('POST', `${p(name)}/query`, {
          query: nearest,
          limit: opts.limit ?? 10,
          params: { exact: true },
          ...(opts.using ? { using: opts.using } : {}),
          ...(opts.filter ? { filter: opts.filter } : {}),
        })
      ).points.map((x) => ({ id: x.id, score: x.score })),
    createIndex: async (name, field, type) =>
      (
        await call<{ status: WriteStatus }>('PUT', `/collections/${name}/index?wait=true`, {
          field_name: field,
          field_schema: type,
        })
      ).status,
    deleteIndex: async (name, field) =>
      (await call<{ status: WriteStatus }>('DELETE', `/collections/${name}/index/${field}?wait=true`)).status,
    updateAliases: async (actions) => void (await call('POST', '/collections/aliases', { actions })),
    listAliases: async () =>
      (
        await call<{ aliases: Array<{ alias_name: string; collection_name: string }> }>('GET', '/aliases')
      ).aliases.map((a) => ({ alias: a.alias_name, collection: a.collection_name })),
    collectionAliases: async (name) =>
      (
        await call<{ aliases: Array<{ alias_name: string }> }>('GET', `/collections/${name}/aliases`)
      ).aliases.map((a) => a.alias_name),
  };
}

/** A record without the keys REST leaves null or absent (payload / vector not asked for). */
function clean(r: Retrieved & { shard_key?: unknown; order_value?: unknown }): Retrieved {
  const out: Retrieved = { id: r.id };
  // gRPC has no "no payload" apart from an empty map: an empty payload counts as none on both.
  if (r.payload && Object.keys(r.payload).length) out.payload = r.payload;
  if (r.vector !== undefined && r.vector !== null) out.vector = r.vector;
  return out;
}

/** Reason to skip the gRPC side: no gRPC address for the Qdrant under test. */
export const noGrpc = env.qdrantGrpcUrl
  ? false
  : env.qdrantIsReal
    ? 'QDRANT_URL is set without QDRANT_GRPC_URL: the real Qdrant has no gRPC address to test'
    : 'the stack test server runs without gRPC (started by an older up.sh): restart it, or set QDRANT_GRPC_URL';

/** Both transports against the Qdrant under test; gRPC is undefined when it has no gRPC address. */
export function transports(): Array<{ name: 'rest' | 'grpc'; skip: string | false; make: () => Transport }> {
  return [
    { name: 'rest', skip: false, make: () => restTransport() },
    { name: 'grpc', skip: noGrpc, make: () => grpcTransport(env.qdrantGrpcUrl!, env.qdrantApiKey) },
  ];
}

/** Declares the test once per transport ("rest: …", "grpc: …"), gRPC skipped without an address. */
export function overBoth(
  title: string,
  fn: (t: TestContext, tr: Transport) => Promise<void>,
  opts: { skip?: string | false } = {},
): void {
  for (const tr of transports()) {
    test(`${tr.name}: ${title}`, { skip: opts.skip || tr.skip }, (t) => fn(t, tr.make()));
  }
}
