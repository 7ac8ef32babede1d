// A Qdrant test server of a test's own, as a child process on a free port (test/qdrant-server/
// main.ts), so the test can stop and start it, give it an API key, or inject faults without
// touching the shared stack's server. With `state`, its collections survive a stop, as a real
// Qdrant's storage does. With `tls`, it serves https; this helper's own requests trust its CA
// (and only them: the test process's default CAs are left alone). With `grpc`, it serves Qdrant's
// gRPC API too, on a second free port (`grpcUrl`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';
import type { StoredPoint } from './qdrant.js';
import { repoRoot, waitFor } from './stack.js';

export interface QdrantProcess {
  url: string;
  /** The gRPC front (http://127.0.0.1:PORT, https with tls) when started with `grpc`. */
  grpcUrl: string | undefined;
  /** The key requests of this helper send (api-key header); set it after a rotation. */
  apiKey: string | undefined;
  /** Starts the server (again, on the same port); resolves once it listens. */
  start(): Promise<void>;
  /** SIGTERM, and waits for the exit (its state is written then). */
  stop(): Promise<void>;
  request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; result: T }>;
  /** Every point of a collection, with payload and vectors; [] when it does not exist. */
  scrollAll(collection: string): Promise<StoredPoint[]>;
}

export interface QdrantProcessOptions {
  apiKey?: string;
  /** Keep the collections across stop/start. */
  state?: boolean;
  /** Answer as this Qdrant version (an older one ignores the write fields it does not know). */
  version?: string;
  /** Every point counts as in an optimized segment (before 1.19: upserts keep omitted vectors). */
  optimizedSegments?: boolean;
  /** Serve https with this certificate (test/helpers/tls-certs.ts); `url` is then https. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** Serve gRPC too (on a free port of its own, kept across stop/start). */
  grpc?: boolean;
}

/** Starts one; `cleanup` registers its end (the test hooks' cleanup). */
export async function startQdrantProcess(
  cleanup: (fn: () => Promise<unknown>) => void,
  options: QdrantProcessOptions = {},
): Promise<QdrantProcess> {
  const port = await freePort();
  const grpcPort = options.grpc ? await freePort() : undefined;
  const stateFile = options.state
    ? path.join(mkdtempSync(path.join(tmpdir(), 'qdrant-state-')), 'state.json')
    : undefined;
  const ca = options.tls ? readFileSync(options.tls.caFile, 'utf8') : undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const qp: QdrantProcess = {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    grpcUrl: grpcPort === undefined ? undefined : `${options.tls ? 'https' : 'http'}://127.0.0.1:${grpcPort}`,
    apiKey: options.apiKey,
    async start() {
      const args = [
        '--import',
        'tsx',
        path.join(repoRoot, 'test/qdrant-server/main.ts'),
        '--port',
        String(port),
      ];
      if (options.apiKey) args.push('--api-key', options.apiKey);
      if (stateFile) args.push('--state', stateFile);
      if (options.version) args.push('--version', options.version);
      if (options.optimizedSegments) args.push('--optimized-segments');
      if (grpcPort !== undefined) args.push('--grpc-port', String(grpcPort));
      if (options.tls) args.push('--tls-cert', options.tls.certFile, '--tls-key', options.tls.keyFile);
      const c = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
      child = c;
      exited = new Promise((resolve) => c.on('exit', () => resolve()));
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(
        `qdrant test server on port ${port}`,
        () => out.includes('listening') || c.exitCode !== null,
        {
          timeoutMs: 30_000,
          intervalMs: 50,
        },
      );
      if (c.exitCode !== null) throw new Error(`qdrant test server exited with ${c.exitCode}: ${out}`);
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async request<T>(method: string, p: string, body?: unknown) {
      const headers = { 'content-type': 'application/json', ...(qp.apiKey ? { 'api-key': qp.apiKey } : {}) };
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const { status, text } = ca
        ? await httpsRequest(`${qp.url}${p}`, method, headers, payload, ca)
        : await fetch(`${qp.url}${p}`, { method, headers, body: payload }).then(async (res) => ({
            status: res.status,
            text: await res.text(),
          }));
      let result: T;
      try {
        result = (JSON.parse(text) as { result: T }).result;
      } catch {
        result = text as T;
      }
      return { status, result };
    },
    async scrollAll(collection) {
      const out: StoredPoint[] = [];
      let offset: unknown = null;
      do {
        const { status, result } = await qp.request<{ points: StoredPoint[]; next_page_offset: unknown }>(
          'POST',
          `/collections/${collection}/points/scroll`,
          { limit: 1000, offset, with_payload: true, with_vector: true },
        );
        if (status === 404) return [];
        if (status !== 200) throw new Error(`scroll ${collection}: HTTP ${status}`);
        out.push(...result.points);
        offset = result.next_page_offset;
      } while (offset !== null && offset !== undefined);
      return out;
    },
  };
  cleanup(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  await qp.start();
  return qp;
}

/** One https request trusting `ca` (fetch has no per-request CA option). */
function httpsRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  ca: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}
