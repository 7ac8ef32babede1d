// `vecrelay source --config F`: Postgres → Kafka only (the sink runs elsewhere).
import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';
import { paceCollections } from '../../shared/gc-pacer.js';
import { metricsHostOption, serveMetrics, type MetricsOpts } from './metrics-option.js';

export function sourceCommand(): Command {
  return new Command('source')
    .description('snapshot (when due) and stream the configured tables from PostgreSQL to Kafka')
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON), e.g. connectors/example.yaml')
    .addOption(metricsHostOption())
    .action(async (opts: { config: string } & MetricsOpts) => {
      // `stage` here, `component` in the stage's own children: no key is bound twice.
      const log = createLogger().child({ stage: 'source' });
      await runUntilSignalled(log, async (signal) => {
        paceCollections(log); // peak memory: src/shared/gc-pacer.ts
        const config = loadConfig(opts.config);
        await serveMetrics(config, opts, log);
        // Imported here, not above: each command loads only its own stage (start-up time).
        const { Source } = await import('../../source/source.js');
        const { cellDecoders } = await import('../../source/cell-decoders.js');
        const { kafkaChangeLog } = await import('../../kafka/change-log.js');
        await new Source(config, log.child({ pipeline: config.name }), {
          changeLog: kafkaChangeLog(config),
          decoders: cellDecoders,
        }).run(signal);
      });
    });
}
