// The sink's Qdrant client for writes and reads of points: plain HTTP with JSON the sink writes
// itself, so point ids above 2^53 stay exact and vectors are not re-serialised. Collection
// management uses @qdrant/js-client-rest (collections.ts).
//
// node:http rather than fetch: a body can be sent as its pieces (the points' JSON, written into
// reused buffers by writer.ts) with no copy, where fetch wants one string and copies it twice
// (5 MB per request of 256 × 1536 dims).
//
// Every write is sent with wait=true; a result whose status is not "completed" (e.g.
// "wait_timeout") is not an acknowledgement and is retried like a 5xx.
//
// https verifies against Node's default CA store, to which loadConfig adds qdrant.caFile
// (config/secrets.ts trustQdrantCa); a certificate that does not verify is a ConfigError
// (tls-errors.ts), never retried.
import http from 'node:http';
import https from 'node:https';
import { QdrantError, isRetriableStatus, parseRetryAfter } from './errors.js';
import { qdrantTlsError } from './tls-errors.js';
import { metrics } from '../../shared/metrics.js';

export interface QdrantHttpOptions {
  url: string;
  apiKey?: string | undefined;
  /** qdrant.caFile, named in TLS errors (its certificates are trusted process-wide). */
  caFile?: string | undefined;
  timeoutMs?: number;
}

/** A request body: JSON text, or its pieces in order. */
export type Body = string | ReadonlyArray<string | Uint8Array>;

export class QdrantHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly transport: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly caFile: string | undefined;

  constructor(options: QdrantHttpOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.headers = {
      'content-type': 'application/json',
      ...(options.apiKey ? { 'api-key': options.apiKey } : {}),
    };
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.caFile = options.caFile;
    this.transport = new URL(this.base).protocol === 'https:' ? https : http;
    // Keep-alive, closing a connection idle for 4 s (as fetch does) so that one the server is
    // closing is not reused; a server's Keep-Alive timeout hint shortens that.
    this.agent = new this.transport.Agent({ keepAlive: true, timeout: 4_000 });
  }

  /** Sends a request whose body is already JSON text; returns the parsed `result`. */
  async request(method: string, path: string, body?: Body, signal?: AbortSignal): Promise<unknown> {
    const timer = metrics.qdrantRequestSeconds.startTimer({
      path: path.replace(/^\/collections\/[^/]+/, ''),
    });
    try {
      const result = await this.send(method, path, body, signal);
      timer({ outcome: 'ok' });
      return result;
    } catch (err) {
      timer({ outcome: err instanceof QdrantError && err.status !== null ? String(err.status) : 'error' });
      throw err;
    }
  }

  /** Closes the idle keep-alive connections (they would keep a stopping process alive). */
  close(): void {
    this.agent.destroy();
  }

  /** GET / (no envelope): the server's version, e.g. "1.19.0". */
  async version(): Promise<string> {
    const root = (await this.send('GET', '/', undefined, undefined, true)) as { version?: unknown };
    return typeof root?.version === 'string' ? root.version : '';
  }

  private send(
    method: string,
    path: string,
    body?: Body,
    signal?: AbortSignal,
    raw = false,
  ): Promise<unknown> {
    const parts = body === undefined ? [] : typeof body === 'string' ? [body] : body;
    let length = 0;
    for (const part of parts) length += Buffer.byteLength(part);
    return new Promise((resolve, reject) => {
      // Network errors, timeouts, a connection closed mid-response: retriable. A certificate
      // that does not verify: fatal.
      const failed = (err: Error) =>
        reject(
          qdrantTlsError(err, { url: this.base, caFile: this.caFile }) ??
            new QdrantError(`Qdrant ${method} ${path}: ${err.message}`, null, true, null, err),
        );
      const req = this.transport.request(
        `${this.base}${path}`,
        {
          method,
          agent: this.agent,
          headers: { ...this.headers, 'content-length': length },
          signal: signal
            ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)])
            : AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', failed);
          res.on('close', () => {
            if (!res.complete) return failed(new Error('the connection closed before the whole answer'));
            try {
              resolve(this.result(method, path, res, Buffer.concat(chunks).toString('utf8'), raw));
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      req.on('error', failed);
      req.cork();
      for (const part of parts) req.write(part);
      req.uncork();
      req.end();
    });
  }

  private result(
    method: string,
    path: string,
    res: http.IncomingMessage,
    text: string,
    raw: boolean,
  ): unknown {
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { status?: { error?: string } }).status?.error ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      const retryAfter = res.headers['retry-after'];
      throw new QdrantError(
        `Qdrant ${method} ${path} answered ${status}: ${message}`,
        status,
        isRetriableStatus(status),
        parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : null),
      );
    }
    const parsed = JSON.parse(text) as { result: unknown };
    return raw ? parsed : parsed.result;
  }

  /** A write with wait=true; only "completed" counts as applied. */
  async write(
    method: string,
    collection: string,
    path: string,
    body: Body,
    signal?: AbortSignal,
  ): Promise<void> {
    const result = (await this.request(
      method,
      `/collections/${encodeURIComponent(collection)}${path}?wait=true`,
      body,
      signal,
    )) as { status?: string } | Array<{ status?: string }>;
    const statuses = Array.isArray(result) ? result.map((r) => r.status) : [result?.status];
    const pending = statuses.find((s) => s !== 'completed');
    if (pending !== undefined)
      throw new QdrantError(
        `Qdrant ${path} on ${collection} answered status ${pending}, not completed`,
        200,
        true,
      );
  }
}
