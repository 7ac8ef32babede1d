// The operator's commands: status, cutover, rollback, teardown.
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, type LoadedConfig } from '../../config/load.js';
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

const collect = (value: string, previous: string[]) => [...previous, value];

interface CutoverOpts {
  config: string;
  timeout: number;
  then?: string;
  alias: string[];
  verify?: boolean;
}

export function cutoverCommand(): Command {
  return new Command('cutover')
    .description(
      'wait until every change committed before now is applied in Qdrant (every snapshot complete, ' +
        'no dead letter at or below it), then optionally verify and flip reads; exit 1 when not exact, ' +
        'divergent or not flipped',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('--timeout <seconds>', 'give up after this long (exit 1, saying what is behind)', seconds, 600)
    .option(
      '--verify',
      'once exact, compare every table with its collection (vecrelay verify); on a divergence flip nothing (exit 1)',
    )
    .option(
      '--alias <[table=]alias>',
      "once exact (and verified), point this Qdrant alias at the table's collection; with several tables " +
        'name the table (repeat for each)',
      collect,
      [],
    )
    .option(
      '--then <command>',
      'shell command to run once exact (and flipped; e.g. the one that flips reads)',
    )
    .action(async (opts: CutoverOpts) => {
      const log = quietLog();
      await runUntilSignalled(log, async (signal) => {
        const config = loadConfig(opts.config);
        const { aliasTargets, checkAliasNames, flipAliases } = await import('../../ops/alias/flip.js');
        const targets = aliasTargets(config, opts.alias);
        // An alias that can never be moved stops now, not after the wait.
        await checkAliasNames(config, targets);
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
          if (opts.verify && !(await verified(config, opts, log, signal))) {
            process.exitCode = 1;
            return;
          }
          if (targets.length) {
            const flipped = await flipAliases(config, ops, targets);
            process.stdout.write(flipped.lines.map((l) => `${l}\n`).join(''));
            if (!flipped.ok) {
              process.exitCode = 1;
              return;
            }
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

/** `cutover --verify`: verify every table; prints the report and says so when it diverges. */
async function verified(
  config: LoadedConfig,
  opts: CutoverOpts,
  log: ReturnType<typeof quietLog>,
  signal: AbortSignal,
) {
  const { verifyPipeline } = await import('../../ops/verify/verify.js');
  const { tableOk } = await import('../../ops/verify/table.js');
  const { renderVerify } = await import('../../ops/verify/render.js');
  process.stderr.write('cutover: verifying every table against its collection\n');
  const { report } = await verifyPipeline(config, log, {
    sample: 20,
    topK: 10,
    chunkSize: 256,
    waitTimeoutMs: opts.timeout * 1000,
    signal,
  });
  if (report.ok) {
    process.stdout.write(`cutover: verified — every table equals its collection\n`);
    return true;
  }
  const divergent = Object.entries(report.tables)
    .filter(([, t]) => !tableOk(t))
    .map(([name, t]) => `${name} (${t.collection})`);
  process.stdout.write(
    `${renderVerify(report)}\ncutover: verify found a divergence in ${divergent.join(', ')}: nothing ` +
      `flipped (no alias moved, no --then run); \`vecrelay verify --config ${opts.config} --repair\` ` +
      're-syncs the divergent rows, then run cutover again\n',
  );
  return false;
}

export function rollbackCommand(): Command {
  return new Command('rollback')
    .description(
      'point a Qdrant alias moved by `cutover --alias` back at the collection it pointed at before; ' +
        'exit 1 when none is recorded',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .requiredOption('--alias <alias>', 'the alias to point back')
    .action(async (opts: { config: string; alias: string }) => {
      const log = quietLog();
      await runUntilSignalled(log, async () => {
        const config = loadConfig(opts.config);
        const { openOps } = await import('../../ops/connect.js');
        const { rollbackAlias } = await import('../../ops/alias/flip.js');
        const ops = await openOps(config, log);
        try {
          const outcome = await rollbackAlias(config, ops, opts.alias);
          process.stdout.write(outcome.lines.map((l) => `${l}\n`).join(''));
          if (!outcome.ok) process.exitCode = 1;
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
