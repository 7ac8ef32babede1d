// The gRPC front of the test server: Qdrant's gRPC API (services qdrant.Points, qdrant.Collections,
// qdrant.Qdrant, from the descriptors @qdrant/js-client-grpc ships: services.ts) on its own port,
// as Qdrant serves it on service.grpc_port (6334) beside REST (6333). It works on the REST
// front's store, auth and fault list (same collections, same keys, one fault control path).
// Served with @connectrpc/connect-node on an http2 server, gRPC protocol only (h2c, or h2 over
// TLS). No message size limit below connect's own 4 GiB: Qdrant's tonic services decode up to
// usize::MAX (src/tonic/mod.rs); service.max_request_size_mb limits REST only.
//
// Errors are the statuses Qdrant's tonic front answers (lib/storage/src/content_manager/
// conversions.rs `impl From<StorageError> for Status`, src/tonic/auth.rs) with the message text
// the REST front answers (both are StorageError's Display): see grpc-errors.ts.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import type { Auth } from '../auth.js';
import type { Store } from '../collections.js';
import type { Faults } from '../faults.js';
import { parseUuid } from '../ids.js';
import type { Version, WriteModel } from '../points.js';
import { collectionsService, qdrantService } from './collections-service.js';
import { faultToConnectError, toConnectError } from './grpc-errors.js';
import { pointsService } from './points-service.js';
import { Collections, Points, Qdrant } from './services.js';

export interface GrpcFrontOptions {
  host: string;
  port: number;
  store: Store;
  faults: Faults;
  auth: Auth;
  version: string;
  model: WriteModel;
  tls?: { cert: string; key: string };
}

export interface GrpcFront {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Calls a read-only API key may make (the others change data: 403 → PERMISSION_DENIED). */
const READS = new Set([
  'qdrant.Points/Get',
  'qdrant.Points/Scroll',
  'qdrant.Points/Count',
  'qdrant.Points/Search',
  'qdrant.Points/SearchBatch',
  'qdrant.Points/Query',
  'qdrant.Points/QueryBatch',
  'qdrant.Collections/Get',
  'qdrant.Collections/List',
  'qdrant.Collections/CollectionExists',
  'qdrant.Collections/ListAliases',
  'qdrant.Collections/ListCollectionAliases',
]);

/** Whether a request message names the point `id` (idKey form) in any qdrant.PointId in it. */
function namesPoint(message: unknown, id: string): boolean {
  if (typeof message !== 'object' || message === null) return false;
  if (Array.isArray(message)) return typeof message[0] === 'object' && message.some((m) => namesPoint(m, id));
  const m = message as { $typeName?: string; pointIdOptions?: { value?: unknown } };
  if (m.$typeName === 'qdrant.PointId') {
    const v = String(m.pointIdOptions?.value);
    return (parseUuid(v) ?? v) === id;
  }
  return Object.values(message).some((v) => namesPoint(v, id));
}

export function startGrpcFront(options: GrpcFrontOptions): Promise<GrpcFront> {
  const { store, faults, auth } = options;
  const [major = 0, minor = 0] = options.version.split('.').map(Number);
  const version: Version = [major, minor];

  const guard: Interceptor = (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    try {
      // Qdrant's auth layer lets the health check through without a key (src/tonic/auth.rs).
      if (method !== 'qdrant.Qdrant/HealthCheck')
        auth.checkHeaders((name) => req.header.get(name) ?? undefined, !READS.has(method));
      // Every Points request and the Collections requests on one collection name it in
      // collection_name (a fault rule's `collection` matches against it).
      const { collectionName } = req.message as { collectionName?: unknown };
      const fault = faults.take(
        `/${method}`,
        'grpc',
        (id) => namesPoint(req.message, id),
        typeof collectionName === 'string' ? collectionName : undefined,
      );
      if (fault) {
        if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault.status !== 0) throw faultToConnectError(fault);
      }
      return await next(req);
    } catch (err) {
      throw toConnectError(err, method);
    }
  };

  const handler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    interceptors: [guard],
    routes: (router) => {
      router.service(Points, pointsService(store, version, options.model));
      router.service(Collections, collectionsService(store));
      router.service(Qdrant, qdrantService(options.version));
    },
  });
  const server = options.tls
    ? http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key, allowHTTP1: false }, handler)
    : http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sessions) s.destroy();
          }),
      });
    });
  });
}
