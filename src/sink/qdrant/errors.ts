// Qdrant's answers mapped to what the sink does with them (DESIGN.md "Sink", ../output.ts):
//   network error, 5xx, 408, 429        → transient: retry with backoff (honouring Retry-After);
//   401 / 403                           → fatal: the key is missing, wrong, rotated or read-only —
//                                          the sink stops (ConfigError, exit 2), never dead-letters;
//   404 "Collection `c` doesn't exist!" → gone: the collection was dropped under the sink;
//   any other 4xx                       → the request's own fault: isolate the record(s) and
//                                          dead-letter them.
import { ConfigError, VecrelayError } from '../../shared/errors.js';
import type { Fault } from '../output.js';

export class QdrantError extends VecrelayError {
  constructor(
    message: string,
    readonly status: number | null,
    retriable: boolean,
    /** Seconds from a Retry-After header, if the server sent one. */
    readonly retryAfterSeconds: number | null = null,
    cause?: unknown,
  ) {
    super(message, { retriable, cause });
  }
}

export function isRetriableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export const isAuthStatus = (status: number | null | undefined): boolean => status === 401 || status === 403;

/** Qdrant's "Not found: Collection `NAME` doesn't exist!" (lib/collection errors). */
const COLLECTION_MISSING = /Collection `[^`]*` doesn't exist/;

export function faultOf(err: QdrantError): Fault {
  if (err.retriable) return 'transient';
  if (isAuthStatus(err.status)) return 'fatal';
  if (err.status === 404 && COLLECTION_MISSING.test(err.message)) return 'gone';
  return 'record';
}

/** The stop for a 401/403: names qdrant.apiKeyEnv (the key itself never appears). */
export function authError(err: Error & { status?: number | null }, apiKeyEnv: string | undefined) {
  const what =
    err.status === 403
      ? 'the API key may not write (read-only or restricted): give qdrant.apiKeyEnv a read-write key'
      : apiKeyEnv
        ? `the API key in qdrant.apiKeyEnv (${apiKeyEnv}) is wrong or was rotated: set ${apiKeyEnv} to the current key and restart`
        : 'Qdrant requires an API key: set qdrant.apiKeyEnv to the environment variable holding it';
  return new ConfigError(`Qdrant refused the sink (${err.message}); ${what}`, { cause: err });
}

/** Retry-After as seconds (delta-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}
