// The one retry loop every stage uses (the runner owns reconnects and backoff, not each client):
// run an attempt; on a failure, decide whether another attempt can help; wait a capped, jittered
// backoff (backoff.ts) that the signal cuts short; try again. A caller brings only what is its
// own: how its failures are classified, how a retry is logged, how to wait (the sink's writer
// heartbeats its consumer group while it waits).
//
//   retry               one operation: a request, a connection, a check that may be briefly busy;
//   runWithRestarts     a whole stage (the source, its stream, the sink) until the signal stops it.
import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import { ConfigError } from './errors.js';

export interface RetryInfo {
  /** Failures before this one since the backoff last started over (0 for the first). */
  attempt: number;
  /** How long the loop waits before the next attempt. */
  delayMs: number;
}

export interface RetryOptions<T> {
  /**
   * Ends the retries: a failure once it has aborted is thrown as it is, and a wait is cut short
   * (rejecting with the signal's reason, or returning `stopped()` when given).
   */
  signal?: AbortSignal | undefined;
  backoff?: BackoffOptions;
  /** What a failure means, before anything else looks at it (an adapter's classification). */
  classify?: (err: unknown) => unknown;
  /** Whether another attempt can help (after `classify`). Default: anything but a ConfigError. */
  retriable?: (err: unknown, attempt: number) => boolean;
  /** The wait before the next attempt, given the backoff's (e.g. to honour a Retry-After). */
  delay?: (err: unknown, backoffMs: number) => number;
  /** Called once per retry, before the wait: the place to log it. */
  onRetry?: (err: unknown, info: RetryInfo) => void;
  /** How to wait; default an abortable sleep. Whatever it throws ends the retries. */
  wait?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** An attempt that ran at least this long was healthy: the backoff starts over. */
  resetAfterMs?: number;
  /** The result when the signal has aborted between attempts: a stop, not a failure. */
  stopped?: () => T;
}

/** Anything but a misconfiguration is worth another attempt: the restart policy of a stage. */
export const notMisconfigured = (err: unknown): boolean => !(err instanceof ConfigError);

/**
 * Runs `attempt` (given the attempt number, from 0) until it succeeds, a failure is not
 * retriable, or the signal aborts. Throws the last failure (as `classify` made it).
 */
export async function retry<T>(
  attempt: (n: number) => Promise<T>,
  options: RetryOptions<T> = {},
): Promise<T> {
  const { signal, backoff, classify, delay, onRetry, resetAfterMs, stopped } = options;
  const retriable = options.retriable ?? notMisconfigured;
  const wait = options.wait ?? sleep;
  for (let n = 0; ; n++) {
    if (stopped && signal?.aborted) return stopped();
    const started = Date.now();
    try {
      return await attempt(n);
    } catch (caught) {
      const err = classify ? classify(caught) : caught;
      if (signal?.aborted || !retriable(err, n)) throw err;
      if (resetAfterMs !== undefined && Date.now() - started >= resetAfterMs) n = 0;
      const backoffMs = backoffDelay(n, backoff);
      const delayMs = delay ? delay(err, backoffMs) : backoffMs;
      onRetry?.(err, { attempt: n, delayMs });
      try {
        await wait(delayMs, signal);
      } catch (waitErr) {
        if (stopped && signal?.aborted) return stopped();
        throw waitErr;
      }
    }
  }
}

/** How a stage restarts: from half a second up to half a minute; a minute of health resets it. */
export const RESTART_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };
export const HEALTHY_RUN_MS = 60_000;

/**
 * Runs a stage again after any failure but a misconfiguration (which is thrown: the process
 * stops, exit 2), until the signal stops it (then resolves). What the stage had acknowledged is
 * safe (slot position, committed offsets), so a restart resumes, never skips.
 */
export function runWithRestarts(
  signal: AbortSignal,
  runOnce: () => Promise<void>,
  options: Pick<RetryOptions<void>, 'classify' | 'onRetry'> = {},
): Promise<void> {
  return retry(runOnce, {
    ...options,
    signal,
    backoff: RESTART_BACKOFF,
    resetAfterMs: HEALTHY_RUN_MS,
    stopped: () => undefined,
  });
}
