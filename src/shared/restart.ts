// The runner owns reconnects: a component that fails on anything but a misconfiguration is
// started again after a capped, jittered backoff, until the signal stops it. What it had
// acknowledged is safe (slot position, committed offsets), so a restart resumes, never skips.
import { backoffDelay, sleep } from './backoff.js';
import { ConfigError, messageOf } from './errors.js';
import type { Logger } from './log.js';

export async function runWithRestarts(
  what: string,
  log: Logger,
  signal: AbortSignal,
  runOnce: () => Promise<void>,
): Promise<void> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    const started = Date.now();
    try {
      return await runOnce();
    } catch (err) {
      if (err instanceof ConfigError || signal.aborted) throw err;
      // A run that lasted a while was healthy: start the backoff over.
      if (Date.now() - started > 60_000) attempt = 0;
      const delayMs = backoffDelay(attempt, { initialMs: 500, maxMs: 30_000 });
      // A passing fault (a broker moving a partition's leadership, a connection reset) is a
      // warning: error level is for what a person has to act on.
      const passing = (err as { retriable?: unknown } | null)?.retriable === true;
      log[passing ? 'warn' : 'error']({ err, delayMs }, `${what} failed: ${messageOf(err)}; restarting`);
      await sleep(delayMs, signal).catch(() => {});
    }
  }
}
