// The sink's Qdrant client for writes and reads of points: plain fetch with JSON the sink writes
// itself, so point ids above 2^53 stay exact and vectors are not re-serialised. Collection
// management uses @qdrant/js-client-rest (collections.ts).
//
// Every write is sent with wait=true; a result whose status is not "completed" (e.g.
// "wait_timeout") is not an acknowledgement and is retried like a 5xx.
import { QdrantError, isRetriableStatus, parseRetryAfter } from './errors.js';
import { metrics } from '../../shared/metrics.js';

export interface QdrantHttpOptions {
  url: string;
  apiKey?: string | undefined;
  timeoutMs?: number;
}

export class QdrantHttp {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: QdrantHttpOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.headers = {
      'content-type': 'application/json',
      ...(options.apiKey ? { 'api-key': options.apiKey } : {}),
    };
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Sends a request whose body is already JSON text; returns the parsed `result`. */
  async request(method: string, path: string, body?: string): Promise<unknown> {
    const timer = metrics.qdrantRequestSeconds.startTimer({
      path: path.replace(/^\/collections\/[^/]+/, ''),
    });
    try {
      const result = await this.send(method, path, body);
      timer({ outcome: 'ok' });
      return result;
    } catch (err) {
      timer({ outcome: err instanceof QdrantError && err.status !== null ? String(err.status) : 'error' });
      throw err;
    }
  }

  private async send(method: string, path: string, body?: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new QdrantError(`Qdrant ${method} ${path}: ${(err as Error).message}`, null, true, null, err);
    }
    const text = await res.text();
    if (res.status !== 200) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { status?: { error?: string } }).status?.error ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      throw new QdrantError(
        `Qdrant ${method} ${path} answered ${res.status}: ${message}`,
        res.status,
        isRetriableStatus(res.status),
        parseRetryAfter(res.headers.get('retry-after')),
      );
    }
    return (JSON.parse(text) as { result: unknown }).result;
  }

  /** A write with wait=true; only "completed" counts as applied. */
  async write(method: string, collection: string, path: string, body: string): Promise<void> {
    const result = (await this.request(
      method,
      `/collections/${encodeURIComponent(collection)}${path}?wait=true`,
      body,
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
