// run / stop / drain for every command. SIGTERM or SIGINT aborts the signal handed to the work:
// the stages stop taking work, finish what is in flight, acknowledge it and close, and the work
// returns — at once when nothing is in flight. A second signal, or the drain deadline, exits
// without waiting.
//
// Exit codes: 0 a normal end, a signal included; 1 an unexpected error (or the drain deadline
// passed); 2 a failure retrying cannot fix (a ConfigError: bad config, credentials, a target that
// disagrees), printed as the one line `vecrelay: <what and the fix>` on stderr. Commands may set
// process.exitCode themselves (status: not running; cutover: not exact).
//
// When the work is over the process exits: a client that still holds a socket or a timer (a
// Kafka admin retrying, a pooled connection) must not keep a finished command alive.
import type { Logger } from '../shared/log.js';
import { ConfigError, messageOf } from '../shared/errors.js';

/** Exit code of a drain that did not finish in time, and of an unexpected error. */
export const EXIT_ERROR = 1;
/** Exit code of a failure retrying cannot fix. */
export const EXIT_CONFIG = 2;
/** Exit code of a second signal (128 + SIGINT, as shells report an interrupted command). */
export const EXIT_SECOND_SIGNAL = 130;

export interface LifecycleOptions {
  /** How long in-flight work may take to drain after the first signal. */
  drainDeadlineMs?: number;
}

/** Whether `err` is the work giving up because the stop signal fired (a normal stop). */
function isStop(err: unknown, signal: AbortSignal): boolean {
  if (!signal.aborted) return false;
  if (err === signal.reason) return true;
  const e = err as { name?: unknown; cause?: unknown } | null;
  return e?.name === 'AbortError' || (e !== null && e?.cause === signal.reason);
}

export async function runUntilSignalled(
  log: Logger,
  work: (signal: AbortSignal) => Promise<void>,
  { drainDeadlineMs = 30_000 }: LifecycleOptions = {},
): Promise<never> {
  const controller = new AbortController();
  let stoppingSince = 0;
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn({ signal: name }, 'second signal: exiting without draining');
      process.exit(EXIT_SECOND_SIGNAL);
    }
    stoppingSince = Date.now();
    log.info({ signal: name, deadlineMs: drainDeadlineMs }, `${name}: stopping`);
    controller.abort(new Error(`stopped by ${name}`));
    setTimeout(() => {
      log.warn(
        { deadlineMs: drainDeadlineMs },
        'drain deadline passed: exiting; what was not acknowledged is delivered again on the next start',
      );
      process.exit(EXIT_ERROR);
    }, drainDeadlineMs).unref();
  };
  // A last resort: an error nothing awaited becomes one log line and exit 1, not a bare stack.
  const onUnexpected = (err: unknown) => {
    log.fatal({ err }, `unexpected error: ${messageOf(err)}`);
    process.exit(EXIT_ERROR);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', onUnexpected);
  process.on('unhandledRejection', onUnexpected);
  try {
    await work(controller.signal);
    if (stoppingSince) log.info({ drainMs: Date.now() - stoppingSince }, 'stopped');
  } catch (err) {
    if (isStop(err, controller.signal)) {
      log.info({ drainMs: Date.now() - stoppingSince }, 'stopped');
    } else if (err instanceof ConfigError) {
      // The one line a person reads; the logger does not repeat it.
      process.stderr.write(`vecrelay: ${messageOf(err)}\n`);
      process.exitCode = EXIT_CONFIG;
    } else {
      log.error({ err }, `stopped by an unexpected error: ${messageOf(err)}`);
      process.exitCode = EXIT_ERROR;
    }
  }
  process.exit();
}
