// `vecrelay dlq`: list the pipeline's dead letters, or replay chosen sink dead letters once their
// cause is fixed (src/ops/dlq.ts says how a replay keeps the order of a key's changes).
import { createInterface } from 'node:readline/promises';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';

const count = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a whole number > 0');
  return n;
};

// Warnings only, to stderr: stdout is the listing (--json is parsed).
const quietLog = () => createLogger({ level: process.env.VECRELAY_LOG_LEVEL ?? 'warn', stderr: true });

interface Options {
  config: string;
  json?: boolean;
  limit?: number;
  replay?: string[] | true;
  all?: boolean;
  yes?: boolean;
}

export function dlqCommand(): Command {
  return new Command('dlq')
    .description(
      'list dead letters (time, stage, table, key, reason, origin); with --replay, send chosen sink ' +
        'dead letters back to their change topic once their cause is fixed',
    )
    .requiredOption('-c, --config <file>', 'pipeline config')
    .option('--json', 'one JSON object')
    .option('--limit <n>', 'list only the newest n', count)
    .option('--replay [ids...]', 'replay these dead letters: <offset> or <partition>:<offset>')
    .option('--all', 'with --replay: every replayable dead letter not yet replayed')
    .option('-y, --yes', 'replay without asking')
    .action(async (opts: Options) => {
      const log = quietLog();
      await runUntilSignalled(log, async () => {
        const config = loadConfig(opts.config);
        const dlq = await import('../../ops/dlq.js');
        if (opts.replay === true && !opts.all)
          throw new ConfigError('--replay needs the dead letters to replay (offsets), or --all');
        const ids = opts.all ? 'all' : opts.replay === true ? undefined : opts.replay?.map(dlq.parseDlqId);
        const clients = await dlq.openDlq(config, log);
        try {
          if (ids === undefined) {
            const listing = await dlq.listDeadLetters(config, clients, opts.limit);
            process.stdout.write(`${opts.json ? JSON.stringify(listing) : dlq.renderListing(listing)}\n`);
            return;
          }
          const { send, skipped } = await dlq.planReplay(config, clients, ids);
          const say = (line: string) => {
            if (!opts.json) process.stdout.write(`${line}\n`);
          };
          for (const s of skipped) say(`dlq: ${s.id} skipped: ${s.why}`);
          if (send.length === 0) {
            say('dlq: nothing to replay');
            if (opts.json) process.stdout.write(`${JSON.stringify({ replayed: [], skipped })}\n`);
            if (ids !== 'all' && skipped.length) process.exitCode = 1;
            return;
          }
          say(`dlq: will replay ${send.map((l) => `${l.partition}:${l.offset}`).join(' ')}`);
          if (!opts.yes) {
            if (!process.stdin.isTTY) {
              process.stderr.write('dlq: not confirmed: run again with --yes\n');
              process.exitCode = 2;
              return;
            }
            const rl = createInterface({ input: process.stdin, output: process.stdout });
            const answer = await rl.question('replay these? [y/N] ');
            rl.close();
            if (!/^y(es)?$/i.test(answer.trim())) {
              say('dlq: nothing replayed');
              return;
            }
          }
          const replayed = await dlq.replay(config, clients, send);
          for (const r of replayed) say(`dlq: ${r.id} replayed to ${r.to}`);
          if (opts.json) process.stdout.write(`${JSON.stringify({ replayed, skipped })}\n`);
          if (ids !== 'all' && skipped.length) process.exitCode = 1;
        } finally {
          await clients.close();
        }
      });
    });
}
