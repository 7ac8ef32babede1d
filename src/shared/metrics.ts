// Prometheus metrics of every long-running process (separate from logs), and the HTTP server
// that serves them with /healthz (the process is up) and /readyz (it is doing its work).
import http from 'node:http';
import { Counter, Gauge, Histogram, collectDefaultMetrics, register } from 'prom-client';
import { ConfigError } from './errors.js';
import type { Logger } from './log.js';

collectDefaultMetrics({ prefix: 'vecrelay_' });

export const metrics = {
  sourceEvents: new Counter({
    name: 'vecrelay_source_events_total',
    help: 'change events published to Kafka, by table and op (c u d r t)',
    labelNames: ['table', 'op'],
  }),
  slotLagBytes: new Gauge({
    name: 'vecrelay_source_slot_lag_bytes',
    help: "WAL bytes between the server's current position and the slot's confirmed position",
    labelNames: ['slot'],
  }),
  confirmedLsn: new Gauge({
    name: 'vecrelay_source_confirmed_lsn',
    help: 'the WAL position last confirmed to Postgres (as a number)',
    labelNames: ['slot'],
  }),
  snapshotRows: new Gauge({
    name: 'vecrelay_snapshot_rows',
    help: 'rows published by the running snapshot, and its estimated total',
    labelNames: ['kind'],
  }),
  sinkEvents: new Counter({
    name: 'vecrelay_sink_events_total',
    help: 'change events applied to Qdrant, by topic and op',
    labelNames: ['topic', 'op'],
  }),
  consumerLag: new Gauge({
    name: 'vecrelay_sink_consumer_lag',
    help: 'messages behind the end of the partition, as of the last batch',
    labelNames: ['topic', 'partition'],
  }),
  qdrantRequestSeconds: new Histogram({
    name: 'vecrelay_qdrant_request_seconds',
    help: 'Qdrant request latency',
    labelNames: ['path', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  deadLetters: new Counter({
    name: 'vecrelay_sink_dead_letters_total',
    help: 'records written to the dead-letter topic',
    labelNames: ['topic'],
  }),
  qdrantRetries: new Counter({
    name: 'vecrelay_qdrant_retries_total',
    help: 'Qdrant requests retried after a retriable failure',
    labelNames: ['status'],
  }),
  verifyRows: new Counter({
    name: 'vecrelay_verify_rows_total',
    help: '`vecrelay verify`: rows read from Postgres and points scrolled in Qdrant, by table and side',
    labelNames: ['table', 'side'],
  }),
  verifyDivergent: new Gauge({
    name: 'vecrelay_verify_divergent',
    help: '`vecrelay verify`: rows found divergent, by table and kind (missing, extra, mismatched, null_vector)',
    labelNames: ['table', 'kind'],
  }),
  verifyRecall: new Gauge({
    name: 'vecrelay_verify_recall_at_k',
    help: "`vecrelay verify`: mean recall@k of Qdrant's HNSW search against the exact kNN, by table",
    labelNames: ['table'],
  }),
};

/** Readiness flags; /readyz is 200 once every registered component said it is ready. */
const readiness = new Map<string, boolean>();
export function setReady(component: string, ready: boolean): void {
  readiness.set(component, ready);
}

/**
 * Serves /metrics, /healthz and /readyz on host:port; resolves once listening. The default host is
 * the loopback interface: the figures name tables and topics, so exposing them is a choice
 * (metrics.host: 0.0.0.0 in a container). A port in use is a ConfigError naming the field.
 */
export async function startMetricsServer(
  { port, host = '127.0.0.1' }: { port: number; host?: string },
  log: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': register.contentType });
        res.end(await register.metrics());
      } else if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok\n');
      } else if (req.url === '/readyz') {
        const waiting = [...readiness].filter(([, ready]) => !ready).map(([c]) => c);
        const ok = readiness.size > 0 && waiting.length === 0;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ok ? 'ready\n' : `not ready: ${waiting.join(', ') || 'starting'}\n`);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('try /metrics, /healthz or /readyz\n');
      }
    })().catch((err: unknown) => {
      log.warn({ err }, 'metrics request failed');
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ConfigError(
          `cannot serve metrics on ${host}:${port} (${err.code ?? err.message}): ` +
            (err.code === 'EADDRINUSE'
              ? 'the port is in use: choose another metrics.port'
              : 'check metrics.host (an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)'),
          { cause: err },
        ),
      ),
    );
    server.listen(port, host, resolve);
  });
  // Later errors (none expected once listening) are logged, never an unhandled 'error' event.
  server.on('error', (err) => log.warn({ err }, 'metrics server error'));
  const address = server.address();
  log.info(
    { host, port: typeof address === 'object' && address ? address.port : port },
    'serving /metrics, /healthz, /readyz',
  );
  server.unref();
  return server;
}
