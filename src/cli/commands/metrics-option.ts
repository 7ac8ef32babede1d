// The metrics server of the long-running commands (run, source, sink): metrics.port and
// metrics.host from the config, the host overridable on the command line — docker-compose.yml runs
// connectors/example.yaml with --metrics-host 0.0.0.0, while the same file on a host stays on
// loopback.
import { Option } from 'commander';
import type { LoadedConfig } from '../../config/load.js';
import type { Logger } from '../../shared/log.js';
import { startMetricsServer } from '../../shared/metrics.js';

export interface MetricsOpts {
  metricsHost?: string;
}

export const metricsHostOption = () =>
  new Option('--metrics-host <address>', 'address of /metrics, /healthz, /readyz (overrides metrics.host)');

/** Starts the metrics server when the config has a metrics section; a port in use stops the command. */
export async function serveMetrics(config: LoadedConfig, opts: MetricsOpts, log: Logger): Promise<void> {
  if (!config.metrics) return;
  await startMetricsServer({ port: config.metrics.port, host: opts.metricsHost ?? config.metrics.host }, log);
}
