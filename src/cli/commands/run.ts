// `vecrelay run --config F`: source and sink in one process — the single-machine default.
// Either one failing stops both.
import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';
import { startMetricsServer } from '../../shared/metrics.js';

export function runCommand(): Command {
  return new Command('run')
    .description('run the source and the sink in one process: PostgreSQL → Kafka → Qdrant')
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON), e.g. connectors/example.yaml')
    .action(async (opts: { config: string }) => {
      const log = createLogger();
      await runUntilSignalled(log, async (signal) => {
        const config = loadConfig(opts.config);
        if (config.metrics) startMetricsServer(config.metrics.port, log);
        // Imported here, not above: each command loads only its own stage (start-up time).
        const [{ Source }, { cellDecoders }, { Sink }, { preflight }] = await Promise.all([
          import('../../source/source.js'),
          import('../../source/cell-decoders.js'),
          import('../../sink/sink.js'),
          import('../../plan/preflight.js'),
        ]);
        // PostgreSQL, Kafka and Qdrant checked before either part creates anything (slot,
        // publication, topics, collections): a failure retrying cannot fix leaves nothing behind.
        try {
          await preflight(config, log.child({ pipeline: config.name }), { signal });
        } catch (err) {
          if (signal.aborted) return; // stopped while waiting for a server
          throw err;
        }
        const both = new AbortController();
        const stopBoth = () => both.abort(signal.reason);
        signal.addEventListener('abort', stopBoth, { once: true });
        const part = (p: Promise<void>) =>
          p.catch((err: unknown) => {
            stopBoth();
            throw err;
          });
        await Promise.all([
          part(
            new Source(config, log.child({ component: 'source', pipeline: config.name }), {
              decoders: cellDecoders,
              preflighted: true,
            }).run(both.signal),
          ),
          part(new Sink(config, log.child({ component: 'sink', pipeline: config.name })).run(both.signal)),
        ]);
      });
    });
}
