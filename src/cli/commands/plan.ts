// `vecrelay plan --config F | --url postgresql://user@host:port/db`: a compatibility report before
// anything is created, and a pipeline config for connectors/. Exit code 1 when a blocker is
// found, 2 when plan itself cannot run (unreadable config, no connection).
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../../config/load.js';
import { ConfigError, messageOf } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';

interface PlanOpts {
  config?: string;
  url?: string;
  json?: boolean;
  write?: string;
  brokers: string[];
  qdrantUrl: string;
  qdrantGrpcUrl?: string;
  name?: string;
}

function parseBrokers(value: string): string[] {
  const brokers = value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  const bad = brokers.filter((b) => !/^[^:\s]+:\d+$/.test(b));
  if (brokers.length === 0 || bad.length)
    throw new InvalidArgumentError(`brokers are host:port[,host:port...] (got ${value})`);
  return brokers;
}

function parseHttpUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError(`not an http(s) URL: ${value}`);
}

export function planCommand(): Command {
  return new Command('plan')
    .description(
      'check a database for replication before anything is created (OK / WARN / BLOCKER, each with its fix) ' +
        'and print a pipeline config; exit code 1 on a blocker',
    )
    .addOption(
      new Option('-c, --config <file>', 'check the pipeline of this config (YAML or JSON)').conflicts('url'),
    )
    .addOption(
      new Option(
        '--url <url>',
        'check every table with vector columns: postgresql://user@host:port/database (password from PGPASSWORD)',
      ),
    )
    .option('--json', 'print one JSON object {server, checks, tables, config} instead of the report')
    .option('--write <file>', 'write the generated config to this file instead of printing it')
    .addOption(
      new Option('--brokers <list>', 'Kafka brokers for the generated config, comma-separated')
        .argParser(parseBrokers)
        .default(['localhost:9092'], 'localhost:9092'),
    )
    .option(
      '--qdrant-url <url>',
      'Qdrant URL for the generated config',
      parseHttpUrl,
      'http://localhost:6333',
    )
    .option(
      '--qdrant-grpc-url <url>',
      "Qdrant's gRPC address for the generated config (default: --qdrant-url's host, port 6334)",
      parseHttpUrl,
    )
    .option('--name <name>', 'pipeline name for the generated config (default: the database name)')
    .action(async (opts: PlanOpts) => {
      try {
        if (!opts.config && !opts.url)
          throw new ConfigError(
            'give --config connectors/<file>.yaml, or --url postgresql://user@host:port/database',
          );
        const config = opts.config ? loadConfig(opts.config) : undefined;
        // Imported here, not above: a command loads only what it runs (start-up time).
        const { runPlan } = await import('../../plan/plan.js');
        const { renderHuman, renderJson } = await import('../../plan/render.js');
        const { targetFromConfig, targetFromUrl } = await import('../../plan/target.js');
        const report = await runPlan({
          target: config ? targetFromConfig(config) : targetFromUrl(opts.url!),
          configText: opts.config ? readFileSync(opts.config, 'utf8') : undefined,
          name: opts.name,
          brokers: opts.brokers,
          qdrantUrl: opts.qdrantUrl,
          qdrantGrpcUrl: opts.qdrantGrpcUrl,
          log: createLogger({ stderr: true }),
        });
        if (opts.write && report.config) writeFileSync(opts.write, report.config);
        process.stdout.write(
          opts.json
            ? renderJson(report)
            : renderHuman(report, {
                colour: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
                configWrittenTo: opts.write && report.config ? opts.write : undefined,
              }),
        );
        process.exitCode = report.summary.blockers > 0 ? 1 : 0;
      } catch (err) {
        process.stderr.write(`vecrelay: ${messageOf(err)}\n`);
        process.exitCode = err instanceof ConfigError ? 2 : 1;
      }
    });
}
