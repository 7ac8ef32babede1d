// `vecrelay run --config F`: source and sink in one process — the single-machine default.
// Either one failing stops both.
import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../shared/log.js';
import { runUntilSignalled } from '../lifecycle.js';
import { paceCollections } from '../../shared/gc-pacer.js';
import { metricsHostOption, serveMetrics, type MetricsOpts } from './metrics-option.js';

export function runCommand(): Command {
  return new Command('run')
    .description('run the source and the sink in one process: PostgreSQL → Kafka → Qdrant')
    .requiredOption('-c, --config <file>', 'pipeline config (YAML or JSON), e.g. connectors/example.yaml')
    .addOption(metricsHostOption())
    .action(async (opts: { config: string } & MetricsOpts) => {
      const log = createLogger();
      await runUntilSignalled(log, async (signal) => {
        paceCollections(log); // peak memory: src/shared/gc-pacer.ts
        const config = loadConfig(opts.config);
        await serveMetrics(config, opts, log);
        // Imported here, not above: each command loads only its own stage (start-up time).
        const [{ Source }, { cellDecoders }, { kafkaChangeLog }, { Sink }, { preflight }] = await Promise.all(
          [
            import('../../source/source.js'),
            import('../../source/cell-decoders.js'),
            import('../../kafka/change-log.js'),
            import('../../sink/sink.js'),
            import('../../plan/preflight.js'),
          ],
        );
        // PostgreSQL, Kafka and Qdrant checked before either part creates anything (slot,
        // publication, topics, collections): a failure retrying cannot fix leaves nothing behind.
        try {
          await preflight(config, log.child({ pipeline: config.name }), { signal });
        } catch (err) {
          if (signal.aborted) return; // stopped while waiting for a server
          throw err;
        }
        // The first part to fail stops the other, which drains (commits what it applied) before
        // the command ends with the first failure.
        const both = new AbortController();
        const stopBoth = () => both.abort(signal.reason);
        signal.addEventListener('abort', stopBoth, { once: true });
        let failure: { err: unknown } | undefined;
        const part = (p: Promise<void>) =>
          p.catch((err: unknown) => {
            const stopped =
              both.signal.aborted &&
              (err === both.signal.reason || (err as { name?: unknown }).name === 'AbortError');
            if (!stopped) failure ??= { err };
            stopBoth();
          });
        // `stage` here, `component` in the stages' own children: no key is bound twice.
        await Promise.all([
          part(
            new Source(config, log.child({ stage: 'source', pipeline: config.name }), {
              changeLog: kafkaChangeLog(config),
              decoders: cellDecoders,
              preflighted: true,
            }).run(both.signal),
          ),
          part(new Sink(config, log.child({ stage: 'sink', pipeline: config.name })).run(both.signal)),
        ]);
        if (failure) throw failure.err;
      });
    });
}
