// The per-test pipeline of the source integration tests: a unique slot, publication and topic
// prefix for one table, a `vecrelay source` process, and the cleanup of all of it (process, slot,
// publication, table, topics) after each test.
import { after, afterEach, before } from 'node:test';
import type pg from 'pg';
import { testKafka, watchTopic, type TopicWatch } from './kafka.js';
import { connectPg, dropPipeline } from './pg.js';
import { startVecrelay, type RunningProcess, type TestPipeline } from './source-process.js';
import { uniqueName } from './stack.js';

export interface SourcePipelines {
  /** A superuser connection to the stack's database, open for the whole file. */
  readonly sql: pg.Client;
  /** A pipeline over `public.<table>`; slot, publication, table and topics are dropped after the test. */
  pipeline(table: string, extra?: Partial<TestPipeline>): TestPipeline;
  /** `vecrelay source --config <config>`, SIGKILLed after the test if still running. */
  startSource(config: string): RunningProcess;
  /** A reader of `topic` from its beginning, closed after the test. */
  watch(topic: string): Promise<TopicWatch>;
  /** Runs `fn` after the test, before what was registered earlier (e.g. the pipeline's cleanup). */
  cleanup(fn: () => Promise<unknown>): void;
}

/**
 * Registers the hooks of the current test file: a connection before, the cleanup of what each
 * test created after it (last created first), and the connection's end after all.
 */
export function useSourcePipelines(): SourcePipelines {
  let client: pg.Client | undefined;
  const cleanups: Array<() => Promise<void>> = [];
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

  const ctx: SourcePipelines = {
    get sql() {
      if (!client) throw new Error('useSourcePipelines: no connection yet (use it inside a test)');
      return client;
    },
    pipeline(table, extra = {}) {
      const name = uniqueName('src');
      const p: TestPipeline = {
        name,
        slot: name,
        publication: name,
        topicPrefix: name,
        tables: [{ table: `public.${table}` }],
        ...extra,
      };
      cleanups.push(async () => {
        await dropPipeline(ctx.sql, p.slot, p.publication);
        await ctx.sql.query(`DROP TABLE IF EXISTS ${table}`);
        const admin = testKafka().admin();
        await admin.connect();
        try {
          const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${p.topicPrefix}.`));
          if (topics.length) await admin.deleteTopics({ topics }).catch(() => {});
        } finally {
          await admin.disconnect();
        }
      });
      return p;
    },
    startSource(config) {
      const proc = startVecrelay(['source', '--config', config]);
      cleanups.push(async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
        await proc.exited;
      });
      return proc;
    },
    async watch(topic) {
      const w = await watchTopic(topic);
      cleanups.push(() => w.close());
      return w;
    },
    cleanup(fn) {
      cleanups.push(async () => {
        await fn();
      });
    },
  };
  return ctx;
}
