// Capped exponential backoff with full jitter; every wait is abortable so shutdown is prompt.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
}

export function backoffDelay(
  attempt: number,
  { initialMs = 200, maxMs = 10_000, factor = 2 }: BackoffOptions = {},
) {
  const ceiling = Math.min(maxMs, initialMs * factor ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
