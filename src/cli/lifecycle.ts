// run / stop / drain for long-running commands: SIGTERM or SIGINT aborts the signal (stop taking
// work, drain in flight, acknowledge, close); a second signal, or the deadline, exits at once.
import type { Logger } from '../shared/log.js';
import { ConfigError, messageOf } from '../shared/errors.js';

export async function runUntilSignalled(
  log: Logger,
  work: (signal: AbortSignal) => Promise<void>,
  { drainDeadlineMs = 30_000 } = {},
): Promise<void> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn({ signal: name }, 'second signal: exiting without draining');
      process.exit(130);
    }
    log.info({ signal: name, deadlineMs: drainDeadlineMs }, 'stopping: draining in-flight work');
    controller.abort(new Error(`stopped by ${name}`));
    setTimeout(() => {
      log.error({ deadlineMs: drainDeadlineMs }, 'drain deadline passed: exiting');
      process.exit(1);
    }, drainDeadlineMs).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await work(controller.signal);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(messageOf(err));
      process.stderr.write(`vecrelay: ${messageOf(err)}\n`);
      process.exitCode = 2;
    } else {
      log.error({ err }, 'stopped on an error');
      process.exitCode = 1;
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
