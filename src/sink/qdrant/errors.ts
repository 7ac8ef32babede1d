// Qdrant's answers mapped to what the sink does with them (DESIGN.md "Sink"):
//   network error, 5xx, 408, 429 → retriable: retry with backoff (honouring Retry-After), no commit;
//   other 4xx → the request's own fault: isolate the record(s) and dead-letter them.
import { VecrelayError } from '../../shared/errors.js';

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

/** Retry-After as seconds (delta-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}
