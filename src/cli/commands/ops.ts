// The operator's commands: status, cutover, teardown.
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import type { StatusReport } from '../../ops/status.js';
import { sleep } from '../../shared/backoff.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';

const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number of seconds > 0');
  return n;
};

// Operator commands log warnings only, to stderr: stdout is the report (--json is parsed).
const quietLog = () => createLogger({ level: process.env.VECRELAY_LOG_LEVEL ?? 'warn', stderr: true });

export function statusCommand(): Command {
  return new Command('status')
    .description(
      "slot lag, consumer lag per partition, rows vs points, each table's snapshot, dead letters; " +
        'exit 0 running, 1 not running or not created, 2 a system did not answer',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('--json', 'one JSON object (per refresh with --watch, one per line)')
    .option('-w, --watch', 'refresh every 2 seconds (Ctrl-C to stop)')
    .action(async (opts: { config: string; json?: boolean; watch?: boolean }) => {
      const log = quietLog();
      await runUntilSignalled(log, async (signal) => {
        const config = loadConfig(opts.config);
        // Imported here, not above: a command loads only what it runs (start-up time).
        const { StatusProbe, renderStatus, statusExitCode } = await import('../../ops/status.js');
        const probe = new StatusProbe(config, log);
        try {
          let previous: StatusReport | undefined;
          do {
            const report = await probe.report(previous);
            previous = report;
            process.exitCode = statusExitCode(report);
            if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
            else if (opts.watch && process.stdout.isTTY)
              process.stdout.write(`\x1b[H\x1b[2J${renderStatus(report)}\n`);
            else process.stdout.write(`${renderStatus(report)}\n`);
            if (opts.watch) await sleep(2000, signal).catch(() => {});
          } while (opts.watch && !signal.aborted);
        } finally {
          await probe.close();
        }
      });
    });
}

export function cutoverCommand(): Command {
  return new Command('cutover')
    .description(
      'wait until every change committed before now is applied in Qdrant (every snapshot complete, ' +
        'no dead letter at or below it), then optionally flip reads; exit 1 when not exact',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('--timeout <seconds>', 'give up after this long (exit 1, saying what is behind)', seconds, 600)
    .option('--then <command>', 'shell command to run once exact (e.g. the one that flips reads)')
    .action(async (opts: { config: string; timeout: number; then?: string }) => {
      const log = quietLog();
      await runUntilSignalled(log, async (signal) => {
        const config = loadConfig(opts.config);
        const { openOps } = await import('../../ops/connect.js');
        const { cutover, renderCutover } = await import('../../ops/cutover.js');
        const ops = await openOps(config, log);
        try {
          const result = await cutover(config, ops, {
            timeoutMs: opts.timeout * 1000,
            signal,
            onPhase: (phase) => process.stderr.write(`cutover: ${phase}\n`),
            // The process's start: the time printed is the time the command took, connecting
            // and loading included, and --timeout counts from there too.
            startedAt: 0,
          });
          process.stdout.write(`${renderCutover(result, opts.config)}\n`);
          if (!result.ok) {
            process.exitCode = 1;
            return;
          }
          if (opts.then) {
            process.stdout.write(`cutover: running ${opts.then}\n`);
            const run = spawnSync(opts.then, { shell: true, stdio: 'inherit' });
            process.exitCode = run.status ?? 1;
          }
        } finally {
          await ops.close();
        }
      });
    });
}

export function teardownCommand(): Command {
  return new Command('teardown')
    .description('drop the replication slot and publication (and the topics with --topics)')
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('--topics', "also delete the pipeline's Kafka topics")
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (opts: { config: string; topics?: boolean; yes?: boolean }) => {
      const log = quietLog();
      await runUntilSignalled(log, async () => {
        const config = loadConfig(opts.config);
        const { openOps } = await import('../../ops/connect.js');
        const { executeTeardown, planTeardown } = await import('../../ops/teardown.js');
        const ops = await openOps(config, log);
        try {
          const plan = await planTeardown(ops.sql, opts.topics ? ops.admin : null, config);
          const items = [
            ...(plan.slot ? [`replication slot ${plan.slot}`] : []),
            ...(plan.publication ? [`publication ${plan.publication}`] : []),
            ...plan.topics.map((t) => `Kafka topic ${t}`),
          ];
          if (items.length === 0) {
            process.stdout.write('teardown: nothing to drop\n');
            return;
          }
          process.stdout.write(`teardown will drop:\n${items.map((i) => `  ${i}\n`).join('')}`);
          if (!opts.yes) {
            if (!process.stdin.isTTY) {
              process.stderr.write('teardown: not confirmed: run again with --yes\n');
              process.exitCode = 2;
              return;
            }
            const rl = createInterface({ input: process.stdin, output: process.stdout });
            const answer = await rl.question('drop these? [y/N] ');
            rl.close();
            if (!/^y(es)?$/i.test(answer.trim())) {
              process.stdout.write('teardown: nothing dropped\n');
              return;
            }
          }
          const gone = await executeTeardown(ops.sql, opts.topics ? ops.admin : null, plan);
          process.stdout.write(`teardown: dropped\n${gone.map((g) => `  ${g}\n`).join('')}`);
        } finally {
          await ops.close();
        }
      });
    });
}
