// The sink's gRPC connection to Qdrant (port 6334; qdrant.grpcUrl): the Points service of
// @qdrant/js-client-grpc (connect-es over HTTP/2, one multiplexed connection, re-established by
// connect-node's session manager after the server restarts), and gRPC status codes mapped to the
// HTTP-like statuses errors.ts classifies, so both transports fail alike:
//
//   INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE → 400: the request's own fault (split, dead-letter)
//   NOT_FOUND                                           → 404: "Collection `c` doesn't exist" is gone, else a record's
//   ALREADY_EXISTS                                      → 409
//   UNAUTHENTICATED / PERMISSION_DENIED                 → 401 / 403: fatal (ConfigError naming qdrant.apiKeyEnv)
//   RESOURCE_EXHAUSTED                                  → 429 (honouring a retry-after header or trailer)
//   DEADLINE_EXCEEDED                                   → 408
//   UNAVAILABLE, INTERNAL, UNKNOWN, ABORTED, DATA_LOSS, CANCELED (not ours) → 5xx / network: transient
//   UNIMPLEMENTED                                       → ConfigError: qdrant.grpcUrl is no Qdrant gRPC port
//
// The services are @qdrant/js-client-grpc's descriptors, called through a connect transport of
// our own rather than its QdrantClient: that one gzips requests (float32 vectors barely compress;
// zlib costs the client more CPU than the bytes save on a LAN), replaces the caller's abort
// signal with its own timeout's, and rewraps RESOURCE_EXHAUSTED with retry-after as UNKNOWN
// keeping only the first character of retry-after. https verifies against Node's default CA
// store, to which loadConfig adds qdrant.caFile (as for REST, http.ts).
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import type { DescService } from '@bufbuild/protobuf';
import {
  ConnectError,
  ConnectErrorCode,
  file_qdrant,
  Qdrant,
  type QdrantClient,
} from '@qdrant/js-client-grpc';
import { ConfigError } from '../../shared/errors.js';
import { metrics } from '../../shared/metrics.js';
import { QdrantError, parseRetryAfter } from './errors.js';
import { qdrantTlsError } from './tls-errors.js';

export interface QdrantGrpcOptions {
  /** qdrant.grpcUrl: http(s)://host:6334 */
  url: string;
  apiKey?: string | undefined;
  caFile?: string | undefined;
  timeoutMs?: number;
}

/**
 * qdrant.Points, from the descriptors the client package ships: its index exports qdrant.proto's
 * file, which imports points_service.proto.
 */
const POINTS = file_qdrant.dependencies
  .flatMap((f) => f.services)
  .find((s: DescService) => s.typeName === 'qdrant.Points');
/** Its client's type, as QdrantClient.api('points') gives it (the module is not exported). */
const _pointsClientOf = (c: QdrantClient) => c.api('points');
type PointsClient = ReturnType<typeof _pointsClientOf>;
if (!POINTS) throw new Error('@qdrant/js-client-grpc: no qdrant.Points service in its descriptors');

const STATUS: Partial<Record<ConnectErrorCode, number>> = {
  [ConnectErrorCode.InvalidArgument]: 400,
  [ConnectErrorCode.FailedPrecondition]: 400,
  [ConnectErrorCode.OutOfRange]: 400,
  [ConnectErrorCode.NotFound]: 404,
  [ConnectErrorCode.AlreadyExists]: 409,
  [ConnectErrorCode.Unauthenticated]: 401,
  [ConnectErrorCode.PermissionDenied]: 403,
  [ConnectErrorCode.ResourceExhausted]: 429,
  [ConnectErrorCode.DeadlineExceeded]: 408,
  [ConnectErrorCode.Internal]: 500,
  [ConnectErrorCode.Unknown]: 500,
  [ConnectErrorCode.DataLoss]: 500,
  [ConnectErrorCode.Aborted]: 503,
  [ConnectErrorCode.Unavailable]: 503,
};

export class QdrantGrpc {
  readonly points: PointsClient;
  private readonly service: Client<typeof Qdrant>;
  readonly timeoutMs: number;
  /** The HTTP/2 connection, re-established on demand; closed by close(). */
  private readonly session: Http2SessionManager;

  constructor(private readonly options: QdrantGrpcOptions) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    const { apiKey } = options;
    this.session = new Http2SessionManager(options.url);
    const transport = createGrpcTransport({
      baseUrl: options.url,
      sessionManager: this.session,
      // The key as a header: never in a log line (secrets.ts hides the config's copy).
      interceptors: apiKey
        ? [
            (next) => (req) => {
              req.header.set('api-key', apiKey);
              return next(req);
            },
          ]
        : [],
    });
    this.points = createClient(POINTS!, transport) as unknown as PointsClient;
    this.service = createClient(Qdrant, transport);
  }

  /** Closes the connection (a sink that restarts after a passing fault opens a new one). */
  close(): void {
    this.session.abort();
  }

  /** The server's version (qdrant.Qdrant/HealthCheck): also proves the address is a gRPC port. */
  async version(signal?: AbortSignal): Promise<string> {
    const reply = await this.call('HealthCheck', signal, (o) => this.service.healthCheck({}, o));
    return reply.version;
  }

  /**
   * One call with its deadline and the caller's signal; a failure becomes QdrantError (or
   * ConfigError), and the request's time goes to the same histogram as REST's.
   */
  async call<T>(
    method: string,
    signal: AbortSignal | undefined,
    fn: (o: { signal?: AbortSignal; timeoutMs: number }) => Promise<T>,
  ): Promise<T> {
    const timer = metrics.qdrantRequestSeconds.startTimer({ path: `grpc:${method}` });
    try {
      const result = await fn({ ...(signal ? { signal } : {}), timeoutMs: this.timeoutMs });
      timer({ outcome: 'ok' });
      return result;
    } catch (err) {
      const mapped = this.mapError(method, err, signal);
      timer({
        outcome: mapped instanceof QdrantError && mapped.status !== null ? String(mapped.status) : 'error',
      });
      throw mapped;
    }
  }

  private mapError(method: string, err: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : (err as Error);
    const tls = qdrantTlsError((err as { cause?: unknown })?.cause ?? err, {
      url: this.options.url,
      caFile: this.options.caFile,
    });
    if (tls) return tls;
    if (!(err instanceof ConnectError)) return err as Error; // a programming error: not retried
    const name = ConnectErrorCode[err.code] ?? String(err.code);
    if (err.code === ConnectErrorCode.Unimplemented)
      return new ConfigError(
        `Qdrant gRPC at ${this.options.url} does not serve ${method} (${err.rawMessage}): qdrant.grpcUrl must be Qdrant's gRPC port (6334), not REST (6333)`,
      );
    const status = STATUS[err.code] ?? null;
    const retryAfter = parseRetryAfter(err.metadata.get('retry-after'));
    return new QdrantError(
      `Qdrant gRPC ${method} answered ${name}: ${err.rawMessage}`,
      status,
      status === null || status >= 500 || status === 408 || status === 429,
      retryAfter,
      err,
    );
  }
}
