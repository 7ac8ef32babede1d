// The per-test pipeline of the integration tests: a unique slot, publication and topic prefix for
// one table, `vecrelay source` processes, and the cleanup of all of it (process, slot,
// publication, table, topics) after each test. The sink's pipelines (sink-pipeline.ts) build on it.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { deleteTopicsWithPrefix, watchTopic, type TopicWatch } from './kafka.js';
import { dropPipeline } from './pg.js';
import { readLog, type RunningProcess, type TestPipeline } from './source-process.js';
import { uniqueName } from './stack.js';
import { useTestHooks, type TestHooks } from './test-hooks.js';

export interface SourcePipelinesOptions {
  /** Starts the pipelines' names (slot, publication, topic prefix): shows which file left one. */
  prefix?: string;
  /** Settings of every pipeline of the file, under those a test passes. */
  defaults?: Partial<TestPipeline>;
}

export interface SourcePipelines extends TestHooks {
  /**
   * A pipeline over `public.<table>`; slot, publication, table and topics are dropped after the
   * test — slot, publication and table on `db` (a scratch cluster's, say) when given.
   */
  pipeline(table: string, extra?: Partial<TestPipeline>, db?: pg.Client): TestPipeline;
  /** `vecrelay source --config <config>` (`env` added), SIGKILLed after the test if still running. */
  startSource(config: string, env?: Record<string, string>): RunningProcess;
  /**
   * `vecrelay resync --config <config> --table <table> --where <where> --wait`, run to its end:
   * asserts it exits 0 (with its log when not) and returns it, its log complete.
   */
  resync(config: string, table: string, where: string): Promise<RunningProcess>;
  /** A reader of `topic` from its beginning, closed after the test. */
  watch(topic: string): Promise<TopicWatch>;
}

/** Registers the hooks of the current test file (see useTestHooks) and returns its pipelines. */
export function useSourcePipelines({
  prefix = 'src',
  defaults = {},
}: SourcePipelinesOptions = {}): SourcePipelines {
  const hooks = useTestHooks();
  return {
    get sql() {
      return hooks.sql;
    },
    cleanup: hooks.cleanup,
    start: hooks.start,
    pipeline(table, extra = {}, db) {
      const name = uniqueName(prefix);
      const p: TestPipeline = {
        name,
        slot: name,
        publication: name,
        topicPrefix: name,
        tables: [{ table: `public.${table}` }],
        ...defaults,
        ...extra,
      };
      hooks.cleanup(async () => {
        const sql = db ?? hooks.sql;
        await dropPipeline(sql, p.slot, p.publication);
        await sql.query(`DROP TABLE IF EXISTS ${table}`);
        await deleteTopicsWithPrefix(p.topicPrefix);
      });
      return p;
    },
    startSource(config, env = {}) {
      return hooks.start(['source', '--config', config], env);
    },
    async resync(config, table, where) {
      const run = hooks.start(['resync', '--config', config, '--table', table, '--where', where, '--wait']);
      const { code } = await run.exited;
      assert.equal(code, 0, readLog(run));
      return run;
    },
    async watch(topic) {
      const w = await watchTopic(topic);
      hooks.cleanup(() => w.close());
      return w;
    },
  };
}
