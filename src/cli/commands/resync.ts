// `vecrelay resync`: re-reads a table, or the rows matching --where, through the running pipeline.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';

const seconds = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number of seconds > 0');
  return n;
};

export function resyncCommand(): Command {
  return new Command('resync')
    .description(
      'read a table (or the rows matching --where) again while streaming: the running source ' +
        'snapshots it in chunks, ordered with its changes',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .requiredOption('-t, --table <name>', 'a table of the pipeline: table or schema.table')
    .option('--where <sql>', 'only the rows matching this SQL condition, e.g. "id BETWEEN 1 AND 500"')
    .option('--wait', 'wait until the source has published every row read (exit 1 on --timeout)')
    .option('--timeout <seconds>', 'with --wait: give up after this long', seconds, 3600)
    .action(
      async (opts: { config: string; table: string; where?: string; wait?: boolean; timeout: number }) => {
        const log = createLogger({ level: process.env.VECRELAY_LOG_LEVEL ?? 'warn', stderr: true });
        await runUntilSignalled(log, async (signal) => {
          const started = Date.now();
          const config = loadConfig(opts.config);
          const { connectPostgres } = await import('../../ops/connect.js');
          const { requestResync, resolveTable, waitForResync } = await import('../../ops/resync.js');
          const target = resolveTable(config, opts.table);
          const name = `${target.schema}.${target.table}`;
          const sql = await connectPostgres(config, log);
          let request;
          try {
            request = await requestResync(sql, config, target, opts.where ?? null);
          } finally {
            await sql.end().catch(() => {});
          }
          process.stdout.write(
            `resync: requested for ${name}${opts.where ? ` where ${opts.where}` : ''} at ${request.lsn} ` +
              `(request ${request.id}); the running source reads it in chunks\n`,
          );
          if (!opts.wait) return;
          const { connectKafkaClient } = await import('../../ops/connect.js');
          const { kafka, admin } = await connectKafkaClient(config, log);
          try {
            let last = -1;
            const done = await waitForResync(
              kafka,
              admin,
              config,
              target,
              request.id,
              started + opts.timeout * 1000,
              signal,
              (state) => {
                if (state && state.rows !== last && process.stderr.isTTY) {
                  last = state.rows;
                  process.stderr.write(`resync: ${name} ${state.rows} rows, ${state.chunks} chunks\n`);
                }
              },
            );
            const elapsed = ((Date.now() - started) / 1000).toFixed(2);
            if (!done) {
              process.stdout.write(`resync: ${name} not done after ${elapsed} s: is the source running?\n`);
              process.exitCode = 1;
            } else if (done.error) {
              process.stdout.write(`resync: ${name} failed: ${done.error}\n`);
              process.exitCode = 1;
            } else
              process.stdout.write(
                `resync: ${name} done, ${done.rows} rows in ${done.chunks} chunks (${elapsed} s)\n`,
              );
          } finally {
            await admin.disconnect().catch(() => {});
          }
        });
      },
    );
}
