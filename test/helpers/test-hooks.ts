// The hooks every integration test file needs: one superuser connection for the file, and the
// undoing of what each test created (processes, slots, tables, topics...) right after that test,
// so a failed test leaves nothing running into the next one.
import { after, afterEach, before } from 'node:test';
import type pg from 'pg';
import { connectPg } from './pg.js';
import { startVecrelay, type RunningProcess } from './source-process.js';

export interface TestHooks {
  /** A superuser connection to the stack's database, open for the whole file. */
  readonly sql: pg.Client;
  /** Runs `fn` after the test, before what was registered earlier (last created, first undone). */
  cleanup(fn: () => Promise<unknown>): void;
  /** A `vecrelay` process (`env` added to ours), SIGKILLed after the test if still running. */
  start(args: string[], env?: Record<string, string>): RunningProcess;
}

/** Registers the file's hooks: connect before all, clean up after each, end the connection after all. */
export function useTestHooks(): TestHooks {
  let client: pg.Client | undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  // A failing cleanup must not keep the others from running.
  const runCleanups = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  before(async () => {
    client = await connectPg();
  });
  afterEach(runCleanups);
  after(async () => {
    await runCleanups();
    await client?.end();
  });

  const hooks: TestHooks = {
    get sql() {
      if (!client) throw new Error('no connection yet: use it inside a test');
      return client;
    },
    cleanup(fn) {
      cleanups.push(fn);
    },
    start(args, env = {}) {
      const proc = startVecrelay(args, env);
      hooks.cleanup(async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
        await proc.exited;
      });
      return proc;
    },
  };
  return hooks;
}
