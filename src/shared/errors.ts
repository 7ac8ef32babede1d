// Errors carry whether retrying can help; retry loops read only that flag. Each adapter maps its
// own failures (Postgres SQLSTATE, Kafka codes, Qdrant statuses) to it where they arise.
// Programming errors (TypeError, RangeError...) are never retried.

export class VecrelayError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** A misconfiguration: names the object and the fix. Never retried; the process stops. */
export class ConfigError extends VecrelayError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: false });
  }
}

/** A transient failure (connection lost, server busy, slot briefly in use): retry with backoff. */
export class RetriableError extends VecrelayError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof VecrelayError ? err.retriable : false;
}

/** The message of any thrown value, for logs and error chains. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
