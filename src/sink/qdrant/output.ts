// The Qdrant target (../output.ts): one collection per table, created from the table's
// descriptor when missing (collections.ts), written by a CollectionWriter (writer.ts).
//
// At start it asks Qdrant its version: from 1.16 on, writes are conditional on the stored source
// position (fence.ts, `update_filter`); an older server gets unconditional writes and one warning.
// From 1.16 on too, a collection created while its table's snapshot runs is bulk-loaded
// (bulk-load.ts: it needs collection metadata), unless qdrant.bulkLoad is false.
//
// Points are written over REST or gRPC (qdrant.transport; transport.ts); collections, aliases and
// the version check always go over REST (qdrant.url), which both transports therefore need.
import { QdrantClient } from '@qdrant/js-client-rest';
import { ConfigError, messageOf } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { retry } from '../../shared/retry.js';
import type { Output, OutputTable, TableOutput } from '../output.js';
import { collectionName } from '../../event/names.js';
import { BulkLoad } from './bulk-load.js';
import { ensureCollection, readCollectionParams } from './collections.js';
import { collectionVectors } from './layout.js';
import { authError, isAuthStatus, isRetriableStatus, QdrantError } from './errors.js';
import { QdrantHttp } from './http.js';
import { qdrantTlsError } from './tls-errors.js';
import { CollectionWriter } from './writer.js';
import { QdrantGrpc } from './grpc-client.js';
import { GrpcPoints } from './transport-grpc.js';
import type { TransportFactory } from './transport.js';

export interface QdrantOutputOptions {
  url: string;
  /** qdrant.transport: how points are written. */
  transport?: 'grpc' | 'rest';
  /** qdrant.grpcUrl, or derived from url (grpcUrlOf). */
  grpcUrl?: string | undefined;
  apiKey: string | undefined;
  /** qdrant.apiKeyEnv: named in errors, never its value. */
  apiKeyEnv: string | undefined;
  /** qdrant.caFile: named in TLS errors; loadConfig made Node trust its certificates. */
  caFile: string | undefined;
  collectionPrefix: string;
  /** The pipeline's namespace for derived point ids (point-id.ts). */
  namespace: string;
  batchSize: number;
  requestMaxBytes: number;
  retryMaxMs: number;
  /** qdrant.bulkLoad: defer HNSW construction while a table's initial snapshot runs. */
  bulkLoad: boolean;
}

/** update_filter on upsert and update_vectors, and collection metadata: Qdrant 1.16.0. */
const CONDITIONAL_SINCE = [1, 16];

export function supportsConditional(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  return major > CONDITIONAL_SINCE[0]! || (major === CONDITIONAL_SINCE[0] && minor >= CONDITIONAL_SINCE[1]!);
}

/** Collection metadata (bulk-load.ts keeps its mark there): the same Qdrant 1.16.0. */
export const supportsMetadata = supportsConditional;

/** qdrant.grpcUrl, or url's scheme and host with Qdrant's gRPC port, 6334. */
export function grpcUrlOf(url: string, grpcUrl?: string): string {
  if (grpcUrl) return grpcUrl;
  const u = new URL(url);
  return `${u.protocol}//${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:6334`;
}

/** Qdrant URLs whose missing features this process has warned about. */
const warnedAbout = new Set<string>();

export class QdrantOutput implements Output {
  /** Each opened table's bulk load (bulk-load.ts), by change topic. */
  private readonly bulkLoads = new Map<string, BulkLoad>();

  private constructor(
    private readonly options: QdrantOutputOptions,
    private readonly http: QdrantHttp,
    private readonly grpc: QdrantGrpc | undefined,
    private readonly client: QdrantClient,
    private readonly conditional: boolean,
    private readonly metadata: boolean,
    private readonly log: Logger,
  ) {}

  /** Waits for Qdrant (retrying while it is unreachable) and learns what it supports. */
  static async connect(
    options: QdrantOutputOptions,
    log: Logger,
    signal: AbortSignal,
  ): Promise<QdrantOutput> {
    if (options.apiKeyEnv && !options.apiKey)
      throw new ConfigError(
        `qdrant.apiKeyEnv names ${options.apiKeyEnv}, which is not set: export it with the Qdrant API key, or remove qdrant.apiKeyEnv`,
      );
    const http = new QdrantHttp({ url: options.url, apiKey: options.apiKey, caFile: options.caFile });
    const client = new QdrantClient({ url: options.url, apiKey: options.apiKey, checkCompatibility: false });
    const version = await retryQdrant(log, options, signal, 'its version', () => http.version());
    let grpc: QdrantGrpc | undefined;
    // The gRPC points are written as Qdrant 1.16's protobuf describes them (dense vectors in
    // Vector.dense, which older servers do not read): an older server gets REST.
    if (options.transport === 'grpc' && !supportsConditional(version)) {
      if (!warnedAbout.has(`${options.url} grpc`))
        log.warn(
          { version },
          'Qdrant before 1.16: points are written over REST, not gRPC (qdrant.transport)',
        );
      warnedAbout.add(`${options.url} grpc`);
    } else if (options.transport === 'grpc') {
      const url = grpcUrlOf(options.url, options.grpcUrl);
      grpc = new QdrantGrpc({ url, apiKey: options.apiKey, caFile: options.caFile });
      await retryQdrant(log, options, signal, `gRPC at ${url}`, () => grpc!.version(signal));
    }
    const conditional = supportsConditional(version);
    // Once per process: the sink reconnects after a passing fault (a topic's leader moving), and
    // the server's version is no news the second time.
    const first = !warnedAbout.has(options.url);
    warnedAbout.add(options.url);
    if (!conditional && first)
      log.warn(
        { version },
        'Qdrant before 1.16 has no conditional upsert (update_filter): writes are unconditional, so a sink ' +
          'that lost its partition in a rebalance may land an older version of a point; upgrade Qdrant',
      );
    const metadata = supportsMetadata(version);
    if (options.bulkLoad && !metadata && first)
      log.info(
        { version },
        'Qdrant before 1.16 has no collection metadata: no bulk load (HNSW construction is not deferred during snapshots)',
      );
    return new QdrantOutput(options, http, grpc, client, conditional, metadata, log);
  }

  async open({ descriptor, config }: OutputTable, signal: AbortSignal): Promise<TableOutput> {
    const { options, log } = this;
    const collection = collectionName(options.collectionPrefix, config, descriptor.schema, descriptor.table);
    const bulk = new BulkLoad(
      this.client,
      collection,
      options.bulkLoad && this.metadata,
      descriptor.snapshot,
      log.child({ component: 'bulk-load', collection }),
    );
    // Also when the collection is recreated after it vanished: while the snapshot runs, the
    // rebuild from the topic is a bulk load too.
    const ensure = async () => {
      const params = await retryQdrant(log, options, signal, `collection ${collection}`, () =>
        ensureCollection(this.client, collection, descriptor, config, log, bulk.deferIndex),
      );
      await this.follow(bulk, signal);
      return params;
    };
    this.bulkLoads.set(descriptor.topic, bulk);
    const params = await ensure();
    const grpc = this.grpc;
    const transport: TransportFactory | QdrantHttp = grpc
      ? (shape) => new GrpcPoints(grpc, shape)
      : this.http;
    return new CollectionWriter(
      transport,
      collection,
      descriptor,
      options.namespace,
      {
        batchSize: options.batchSize,
        requestMaxBytes: options.requestMaxBytes,
        retryMaxMs: options.retryMaxMs,
        conditional: this.conditional,
        apiKeyEnv: options.apiKeyEnv,
        configuredVectors: config?.vectors,
        collectionVectors: collectionVectors(params),
      },
      log.child({ component: 'writer', collection }),
      ensure,
      () =>
        retryQdrant(log, options, signal, `collection ${collection}`, () =>
          readCollectionParams(this.client, collection),
        ),
    );
  }

  /**
   * Whether some table waits for a later descriptor: its collection is being bulk-loaded, or its
   * snapshot runs (a collection recreated meanwhile would be bulk-loaded).
   */
  waitsForDescriptors(): boolean {
    return [...this.bulkLoads.values()].some((b) => b.loading || b.deferIndex);
  }

  /** A table described anew: a bulk-loaded collection gets its index back once the snapshot is done. */
  async described({ descriptor }: OutputTable, signal: AbortSignal): Promise<void> {
    const bulk = this.bulkLoads.get(descriptor.topic);
    if (!bulk || descriptor.snapshot === bulk.snapshot) return;
    bulk.snapshot = descriptor.snapshot; // a recreated collection follows it too
    if (bulk.loading) await this.follow(bulk, signal);
  }

  private follow(bulk: BulkLoad, signal: AbortSignal): Promise<void> {
    return retryQdrant(this.log, this.options, signal, `collection ${bulk.collection}`, () => bulk.follow());
  }

  async close(): Promise<void> {
    this.http.close();
    this.grpc?.close();
  }
}

/** Qdrant may be down when the sink starts: wait for it like the write path does. */
function retryQdrant<T>(
  log: Logger,
  options: QdrantOutputOptions,
  signal: AbortSignal,
  what: string,
  fn: () => Promise<T>,
): Promise<T> {
  const statusOf = (err: unknown) => (err as { status?: number | null } | undefined)?.status;
  return retry(fn, {
    signal,
    backoff: { initialMs: 500, maxMs: options.retryMaxMs },
    // A refused key, or a certificate that does not verify, stays so: stop rather than wait.
    classify: (err) =>
      isAuthStatus(statusOf(err))
        ? authError(err as Error, options.apiKeyEnv)
        : (qdrantTlsError(err, options) ?? err),
    // Only unreachable or overloaded servers are waited for; a 4xx is a real answer.
    retriable: (err) => {
      if (err instanceof ConfigError) return false;
      if (err instanceof QdrantError) return err.retriable;
      const status = statusOf(err); // the REST client's errors
      return status === undefined || status === null || isRetriableStatus(status);
    },
    onRetry: (err, { delayMs }) =>
      log.warn({ err: messageOf(err), delayMs }, `Qdrant not reachable for ${what}; retrying`),
  });
}
