// Where the local stack's servers are. `npm run stack:up` writes .stack/env.json; tests read it
// here and nowhere else. QDRANT_URL (and QDRANT_API_KEY) point the Qdrant side at a real server,
// QDRANT_GRPC_URL its gRPC port (Qdrant: 6334, beside REST on 6333).
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const stackDir = process.env.VECRELAY_STACK_DIR ?? path.join(repoRoot, '.stack');

export interface StackEnv {
  pg: { host: string; port: number; user: string; database: string };
  /** libpq-style URL of the stack's superuser connection. */
  pgUrl: string;
  kafkaBrokers: string[];
  /** The Qdrant the tests talk to: QDRANT_URL when set, else the stack's test server. */
  qdrantUrl: string;
  qdrantApiKey: string | undefined;
  /** True when QDRANT_URL points at a real Qdrant rather than the bundled test server. */
  qdrantIsReal: boolean;
  /**
   * The gRPC API of the same Qdrant: QDRANT_GRPC_URL when set, else the stack's test server's
   * gRPC port. Undefined when QDRANT_URL names a real Qdrant without QDRANT_GRPC_URL (its gRPC
   * port is not guessed), or when the running test server was started by an older up.sh without
   * gRPC (restart the stack).
   */
  qdrantGrpcUrl: string | undefined;
  /** The bundled test server, always started by the stack. */
  qdrantTestServerUrl: string;
  /**
   * The broker's SASL_PLAINTEXT listener and its user (SCRAM-SHA-256/512 and PLAIN); undefined
   * when the running broker was started by an older up.sh (restart the stack to add it).
   */
  kafkaSasl: KafkaSaslListener | undefined;
}

export interface KafkaSaslListener {
  brokers: string[];
  username: string;
  password: string;
  mechanisms: Array<'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'>;
}

interface StackFile {
  pg: { host: string; port: number; user: string; database: string };
  kafka: { brokers: string[] };
  qdrantTestServer: { url: string; grpcUrl?: string };
  kafkaSasl?: KafkaSaslListener;
}

let cached: StackEnv | undefined;

export function stackEnv(): StackEnv {
  if (cached) return cached;
  const file = path.join(stackDir, 'env.json');
  let raw: StackFile;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as StackFile;
  } catch (err) {
    throw new Error(
      `The local stack is not running (${file} unreadable): start it with \`npm run stack:up\``,
      {
        cause: err,
      },
    );
  }
  const real = process.env.QDRANT_URL;
  cached = {
    pg: raw.pg,
    pgUrl: `postgresql://${raw.pg.user}@${raw.pg.host}:${raw.pg.port}/${raw.pg.database}`,
    kafkaBrokers: raw.kafka.brokers,
    qdrantUrl: real ?? raw.qdrantTestServer.url,
    qdrantApiKey: real ? process.env.QDRANT_API_KEY : undefined,
    qdrantIsReal: Boolean(real),
    qdrantGrpcUrl: process.env.QDRANT_GRPC_URL || (real ? undefined : raw.qdrantTestServer.grpcUrl),
    qdrantTestServerUrl: raw.qdrantTestServer.url,
    kafkaSasl: raw.kafkaSasl,
  };
  return cached;
}

/**
 * Points this test process at another Qdrant test server (one of its own that serves gRPC too,
 * see sink-pipeline.ts useQdrantGrpc): every helper reading stackEnv() then talks to it.
 */
export function useQdrantTestServer(url: string, grpcUrl: string | undefined): void {
  Object.assign(stackEnv(), { qdrantUrl: url, qdrantGrpcUrl: grpcUrl, qdrantTestServerUrl: url });
}

/** A name no other test (or earlier run) uses: for slots, publications, topics, collections, tables. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** Polls `check` until it returns a truthy value or the deadline passes; use instead of sleeps. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 30_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
