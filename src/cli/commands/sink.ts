// `vecrelay sink --config F`: Kafka → Qdrant only (run several to share the partitions).
import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';
import { metricsHostOption, serveMetrics, type MetricsOpts } from './metrics-option.js';

export function sinkCommand(): Command {
  return new Command('sink')
    .description("apply the tables' change topics to Qdrant, one collection per table")
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON), e.g. connectors/example.yaml')
    .addOption(metricsHostOption())
    .action(async (opts: { config: string } & MetricsOpts) => {
      // `stage` here, `component` in the stage's own children: no key is bound twice.
      const log = createLogger().child({ stage: 'sink' });
      await runUntilSignalled(log, async (signal) => {
        const config = loadConfig(opts.config);
        await serveMetrics(config, opts, log);
        // Imported here, not above: each command loads only its own stage (start-up time).
        const { Sink } = await import('../../sink/sink.js');
        await new Sink(config, log.child({ pipeline: config.name })).run(signal);
      });
    });
}
