// `vecrelay verify`: every configured table against its collection, row by row, and a sampled
// top-k. Exit 0 equal, 1 divergent, 2 a configuration or connection error.
import { Command, InvalidArgumentError } from 'commander';
import v8 from 'node:v8';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { startMetricsServer } from '../../shared/metrics.js';
import { runUntilSignalled } from '../lifecycle.js';
import { paceCollections } from '../../shared/gc-pacer.js';
import { metricsHostOption } from './metrics-option.js';
import type { VerifyReport } from '../../ops/verify/verify.js';

const count = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`a whole number ≥ ${min}`);
  return n;
};

/** Missing, extra and mismatched points of every table: what a repair pass must shrink. */
const divergences = (r: VerifyReport): number =>
  Object.values(r.tables).reduce((n, t) => n + t.counts.missing + t.counts.extra + t.counts.mismatched, 0);

interface VerifyOpts {
  config: string;
  table?: string;
  json?: boolean;
  sample: number;
  topK: number;
  timeout: number;
  metricsPort?: number;
  metricsHost?: string;
  repair?: boolean;
}

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      'compare every configured table with its Qdrant collection, row by row, and a sampled top-k; ' +
        'exit 0 equal, 1 divergent, 2 a configuration or connection error',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('-t, --table <table>', 'only this table (schema.table)')
    .option('--json', 'print one JSON object')
    .option('--sample <n>', 'rows sampled for the top-k comparison (0: none)', count(0), 20)
    .option('--top-k <k>', 'neighbours compared per sample', count(1), 10)
    .option(
      '--timeout <seconds>',
      'how long a recheck waits for the pipeline to apply past its position',
      count(1),
      120,
    )
    .option(
      '--metrics-port <port>',
      'serve /metrics while verifying (the config’s metrics.port belongs to the running pipeline)',
      count(1),
    )
    .option('--repair', 're-sync the divergent keys through the running pipeline, then verify again')
    .addOption(metricsHostOption())
    .action(async (opts: VerifyOpts) => {
      // V8 grows its young generation while many objects survive collections — verify's chunks in
      // flight do — up to 2 × 64 MB on Node 24: most of verify's resident memory (bench/verify.ts:
      // ~330 MB → ~220 MB without that growth, for the same CPU within noise). The maximum cannot
      // be changed once running; the growth factor can.
      v8.setFlagsFromString('--semi-space-growth-factor=1');
      // Warnings only, on stderr: stdout is the report (--json is parsed).
      const log = createLogger({ level: process.env.VECRELAY_LOG_LEVEL ?? 'warn', stderr: true });
      await runUntilSignalled(log, async (signal) => {
        paceCollections(log); // peak memory: src/shared/gc-pacer.ts
        const config = loadConfig(opts.config);
        if (opts.metricsPort)
          await startMetricsServer(
            { port: opts.metricsPort, host: opts.metricsHost ?? config.metrics?.host ?? '127.0.0.1' },
            log,
          );
        // Imported here, not above: a command loads only what it runs (start-up time).
        const { verifyPipeline, verifyExitCode } = await import('../../ops/verify/verify.js');
        const { renderVerify } = await import('../../ops/verify/render.js');
        const { default: cliProgress } = await import('cli-progress');
        const bar = process.stderr.isTTY
          ? new cliProgress.SingleBar(
              { format: 'verify {bar} {value}/{total} rows+points | {table}', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        let current = '';
        const verify = () =>
          verifyPipeline(config, log, {
            ...(opts.table ? { table: opts.table } : {}),
            sample: opts.sample,
            topK: opts.topK,
            chunkSize: 256,
            waitTimeoutMs: opts.timeout * 1000,
            signal,
            onProgress: (table, done, estimated) => {
              if (!bar) return;
              if (table !== current) {
                current = table;
                bar.start(Math.max(estimated, 1), 0, { table });
              }
              if (done > bar.getTotal()) bar.setTotal(done);
              bar.update(done, { table });
            },
          });
        try {
          let { report, keys } = await verify();
          bar?.stop();
          // A pass re-syncs the keys the report lists, at most MAX_LISTED of each kind per table
          // (a dropped partition can leave millions of points): passes go on while they find
          // fewer divergences than the last — one that does not shrink them will not end them.
          let before = Infinity;
          while (
            opts.repair &&
            verifyExitCode(report) !== 0 &&
            [...keys.values()].some((k) => k.length) &&
            divergences(report) < before
          ) {
            before = divergences(report);
            if (!opts.json) process.stdout.write(`${renderVerify(report)}\n`);
            const { repairKeys } = await import('../../ops/verify/repair.js');
            const say = (line: string) => process.stderr.write(`${line}\n`);
            const repaired = await repairKeys(
              config,
              log,
              keys,
              Date.now() + opts.timeout * 1000,
              signal,
              say,
            );
            process.stdout.write(
              `repair: ${repaired} keys re-synced through the pipeline; verifying again\n`,
            );
            current = '';
            ({ report, keys } = await verify());
            bar?.stop();
          }
          process.stdout.write(`${opts.json ? JSON.stringify(report) : renderVerify(report)}\n`);
          process.exitCode = verifyExitCode(report);
        } finally {
          bar?.stop();
        }
      });
    });
}
