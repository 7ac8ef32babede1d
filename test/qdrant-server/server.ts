// A Qdrant-compatible, in-memory REST server for tests (node:http only). It answers like Qdrant
// 1.19 (read from its source; the project's docs describe what the sink relies on): the
// {result, status, time} envelope, the error statuses and messages, point id forms, whole-point
// upserts, exact queries, collection aliases (aliases.ts). On top it has test-only endpoints
// under /__test/ (fault injection, reset). With `tls` it serves https, as Qdrant does with
// service.enable_tls (tls.cert, tls.key). With `grpcPort` it also serves Qdrant's gRPC API on that
// port (grpc/server.ts), over the same collections, keys and faults.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Auth, AuthError, type ApiKeys } from './auth.js';
import { Store } from './collections.js';
import { ApiError, formatError } from './errors.js';
import { faultError, Faults } from './faults.js';
import { startGrpcFront, type GrpcFront } from './grpc/server.js';
import { JsonSyntaxError, parseJson, stringify, type JsonValue, type Out } from './json.js';
import { buildRoutes, VERSION, type Route } from './routes.js';
import { loadState, saveState } from './state.js';

/** Qdrant's default service.max_request_size_mb. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface QdrantTestServerOptions {
  host?: string;
  port?: number;
  maxRequestBytes?: number;
  /** service.api_key / service.read_only_api_key (auth.ts). */
  apiKeys?: ApiKeys;
  /** The Qdrant version to answer as (GET /, and the write fields it knows): default 1.19.0. */
  version?: string;
  /**
   * Treat every stored point as sitting in an optimized segment: with a version before 1.19, an
   * upsert then keeps the vectors it leaves out, as Qdrant ≤ 1.18 does (points.ts WriteModel).
   */
  optimizedSegments?: boolean;
  /** Collections kept in this file across restarts (state.ts): read at start, written at close. */
  stateFile?: string;
  /** Serve https with this certificate and key (PEM), as Qdrant with service.enable_tls. */
  tls?: { cert: string; key: string };
  /** Serve gRPC too, on this port (0: a free one), as Qdrant's service.grpc_port (6334). */
  grpcPort?: number;
}

export interface QdrantTestServer {
  url: string;
  port: number;
  /** The gRPC front's URL (http://HOST:PORT, https with tls) when `grpcPort` was given. */
  grpcUrl?: string;
  grpcPort?: number;
  close(): Promise<void>;
}

type Body = { text: string } | { tooLarge: string };

/** Reads the whole body; past the limit it keeps draining (so the client can finish sending). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Body> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size <= limit) return resolve({ text: Buffer.concat(chunks).toString('utf8') });
      resolve({
        tooLarge: Number.isFinite(declared)
          ? `Payload error: JSON payload (${declared} bytes) is larger than allowed (limit: ${limit} bytes).`
          : `Payload error: JSON payload has exceeded limit (${limit} bytes).`,
      });
    });
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  const type =
    body.startsWith('{') || body.startsWith('[') ? 'application/json' : 'text/plain; charset=utf-8';
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

function sendError(res: http.ServerResponse, err: ApiError, start: bigint): void {
  if (err instanceof AuthError) return send(res, err.status, err.message, err.headers);
  send(res, err.status, stringify({ status: { error: err.message }, time: seconds(start) }), err.headers);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function match(
  routes: Route[],
  method: string,
  path: string,
): { route: Route; params: string[] } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, params: m.slice(1).map(decode) };
  }
  return undefined;
}

export async function startQdrantTestServer(
  options: QdrantTestServerOptions = {},
): Promise<QdrantTestServer> {
  const { host = '127.0.0.1', port = 0, maxRequestBytes = MAX_REQUEST_BYTES } = options;
  const store = new Store();
  if (options.stateFile) loadState(store, options.stateFile);
  const faults = new Faults();
  const auth = new Auth(options.apiKeys);
  const routes = buildRoutes(store, faults, auth, options.version, options.optimizedSegments);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const start = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Like actix's NormalizePath::trim: merge repeated slashes, drop a trailing one.
    const path = url.pathname.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
    const body = await readBody(req, maxRequestBytes);
    const found = match(routes, req.method ?? 'GET', path);
    try {
      auth.check(req, path, req.method !== 'GET' && !found?.route.read);
    } catch (err) {
      return sendError(res, err as ApiError, start);
    }
    const fault = path.startsWith('/__test/') ? undefined : faults.take(path);
    if (fault) {
      if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status !== 0) return sendError(res, faultError(fault), start);
    }
    if (!found) return send(res, 404, '');
    try {
      let parsed: JsonValue | undefined;
      if ('tooLarge' in body) throw new ApiError(400, body.tooLarge);
      if (found.route.body) parsed = parseJson(body.text);
      const result: Out = found.route.handle({ params: found.params, query: url.searchParams, body: parsed });
      if (found.route.raw) return send(res, 200, typeof result === 'string' ? result : stringify(result));
      send(res, 200, stringify({ result, status: 'ok', time: seconds(start) }));
    } catch (err) {
      if (err instanceof ApiError) return sendError(res, err, start);
      if (err instanceof JsonSyntaxError) return sendError(res, formatError(err.message), start);
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`qdrant-test-server: ${req.method} ${path}: ${message}`);
      sendError(res, new ApiError(500, `Service internal error: ${message.split('\n')[0]}`), start);
    }
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      console.error('qdrant-test-server: request failed', err);
      if (!res.headersSent) send(res, 500, '');
      else res.destroy();
    });
  };
  const server = options.tls
    ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, listener)
    : http.createServer(listener);
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  let grpc: GrpcFront | undefined;
  if (options.grpcPort !== undefined) {
    const [major = 0, minor = 0] = (options.version ?? VERSION).split('.').map(Number);
    grpc = await startGrpcFront({
      host,
      port: options.grpcPort,
      store,
      faults,
      auth,
      version: options.version ?? VERSION,
      model: {
        keepOmittedVectors: Boolean(options.optimizedSegments) && (major < 1 || (major === 1 && minor < 19)),
      },
      tls: options.tls,
    });
  }

  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      void grpc?.close();
      reject(err);
    });
    server.listen(port, host, () => {
      server.off('error', reject);
      const { port: actual } = server.address() as AddressInfo;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `${options.tls ? 'https' : 'http'}://${shownHost}:${actual}`,
        port: actual,
        grpcUrl: grpc?.url,
        grpcPort: grpc?.port,
        close: () =>
          new Promise<void>((done, fail) => {
            const grpcClosed = grpc?.close() ?? Promise.resolve();
            server.close((err) => {
              if (err) return fail(err);
              if (options.stateFile) saveState(store, options.stateFile);
              grpcClosed.then(done, fail);
            });
            server.closeAllConnections();
          }),
      });
    });
  });
}
