// The source as a real process (so tests can SIGKILL it) with a config written for the stack.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { repoRoot, stackEnv } from './stack.js';
import { vecrelayBin } from './vecrelay-exec.js';

export interface TestPipeline {
  name: string;
  slot: string;
  publication: string;
  topicPrefix: string;
  tables: Array<{
    table: string;
    key?: string[];
    vectors?: string[];
    payload?: string[];
    collection?: string;
    unchangedColumns?: 'reselect' | 'partial';
  }>;
  snapshot?:
    | 'initial'
    | 'never'
    | 'initial_only'
    | {
        mode?: 'initial' | 'never' | 'initial_only';
        parallelism?: number;
        chunkRows?: number;
        chunkBytes?: number;
      };
  partitions?: number;
  source?: Record<string, number>;
  /** Merged over the stack's connection settings (another server, user, passwordEnv...). */
  postgres?: Record<string, unknown>;
}

export function writeConfig(p: TestPipeline, extra: Record<string, unknown> = {}): string {
  const env = stackEnv();
  const dir = mkdtempSync(path.join(tmpdir(), 'vecrelay-test-'));
  const file = path.join(dir, `${p.name}.yaml`);
  const config = {
    name: p.name,
    postgres: {
      host: env.pg.host,
      port: env.pg.port,
      database: env.pg.database,
      user: env.pg.user,
      slot: p.slot,
      publication: p.publication,
      ...p.postgres,
    },
    kafka: {
      brokers: env.kafkaBrokers,
      topicPrefix: p.topicPrefix,
      partitions: p.partitions ?? 3,
      replicationFactor: 1,
    },
    tables: p.tables,
    snapshot: p.snapshot ?? 'initial',
    source: { heartbeatIntervalMs: 1000, ...p.source },
    ...extra,
  };
  // The sink writes over gRPC by default (qdrant.transport), to url's host on port 6334, where no
  // test server listens: a test that does not choose a transport writes over REST. The sink tests
  // that run over both choose it (sink-pipeline.ts qdrantSection, sink-chaos.ts).
  const qdrant = extra.qdrant as Record<string, unknown> | undefined;
  if (qdrant && qdrant.transport === undefined)
    Object.assign(config, { qdrant: { ...qdrant, transport: 'rest' } });
  writeFileSync(file, stringify(config));
  return file;
}

export interface RunningProcess {
  child: ChildProcess;
  /** stdout and stderr together; complete once `exited` resolves. */
  logFile: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startVecrelay(
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  /** The script to run: bin/vecrelay.js, or a compiled cli/main.js (bench/). */
  entry: string = vecrelayBin,
): RunningProcess {
  const logFile = path.join(mkdtempSync(path.join(tmpdir(), 'vecrelay-log-')), 'out.log');
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, [...nodeArgs, entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, VECRELAY_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Two pipes into one file: neither may end it (the other could still have data), 'close' does,
  // once both are drained; `exited` resolves when the file holds everything.
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => out.end(() => resolve({ code, signal }))),
  );
  return { child, logFile, exited };
}

/** A process's log so far (stdout and stderr). */
export const readLog = (run: RunningProcess): string => readFileSync(run.logFile, 'utf8');

/** SIGTERMs a process and asserts it exits 0 (the end of its log in the message when not). */
export async function stopCleanly(run: RunningProcess): Promise<void> {
  run.child.kill('SIGTERM');
  const { code } = await run.exited;
  assert.equal(code, 0, `stopped cleanly; log:\n${readLog(run).slice(-3000)}`);
}
