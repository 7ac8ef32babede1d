// The operator's commands against the real stack: cutover is exact while a writer keeps
// committing, status reports consumer lag and its end, SIGTERM stops `run` within its deadline
// without losing anything, teardown drops what it says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitInSync } from '../helpers/collection-sync.js';
import { connectPg, slotInfo, waitSlotActive } from '../helpers/pg.js';
import { topicsWithPrefix } from '../helpers/kafka.js';
import { qdrantRequest, scrollAll } from '../helpers/qdrant.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay, execVecrelayOk } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'ops' });
const { start } = ctx;

/** A table of `rows` rows (id, version 0, embedding) and a pipeline over it. */
async function pipeline(rows: number) {
  const table = uniqueName('ops');
  await ctx.sql.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(8))`,
  );
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[8])::vector FROM generate_series(1, $1::int) i`,
    [rows],
  );
  return ctx.pipeline(table);
}

async function versions(table: string): Promise<Map<number, number>> {
  const { rows } = await ctx.sql.query<{ id: number; version: number }>(`SELECT id, version FROM ${table}`);
  return new Map(rows.map((r) => [r.id, r.version]));
}

async function pointVersions(collection: string): Promise<Map<number, number>> {
  return new Map((await scrollAll(collection)).map((pt) => [Number(pt.id), Number(pt.payload.version)]));
}

/** Waits until every row's version is its point's, and there are no other points. */
async function waitSynced(table: string, collection: string) {
  await waitInSync('the collection to equal the table', async () => {
    const [want, got] = [await versions(table), await pointVersions(collection)];
    const out = want.size === got.size ? [] : [`${want.size} rows vs ${got.size} points`];
    for (const [id, v] of want)
      if (got.get(id) !== v) out.push(`row ${id}: version ${v}, point ${got.get(id)}`);
    return out.slice(0, 10);
  });
}

/** Keeps committing single-row updates (synchronous_commit = off) until stopped. */
function writer(table: string, rows: number) {
  let running = true;
  let commits = 0;
  const done = (async () => {
    const c = await connectPg();
    try {
      // Each commit returns before its WAL is written: cutover's target must still cover it.
      await c.query(`SET synchronous_commit = off`);
      while (running) {
        await c.query(`UPDATE ${table} SET version = version + 1 WHERE id = $1`, [1 + (commits % rows)]);
        commits++;
      }
    } finally {
      await c.end();
    }
  })();
  return {
    get commits() {
      return commits;
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

test('cutover is exact: when it returns, every row committed before the call is in Qdrant with its latest values', async () => {
  const { p, table, collection, config } = await pipeline(100);
  start(['run', '--config', config]);
  await waitSynced(table, collection);
  // Make the sink slow, so a lag gauge alone would read zero too early.
  if (!stackEnv().qdrantIsReal)
    await qdrantRequest('POST', '/__test/faults', {
      delay_ms: 5000,
      count: 100_000,
      // Writes only: reading the collection back must not wait.
      paths: `^/collections/${collection}/points(/batch|/delete)?$`,
    });
  ctx.cleanup(() => qdrantRequest('DELETE', '/__test/faults'));
  const w = writer(table, 100);
  try {
    await waitFor('the writer to commit', () => w.commits > 200);
    const before = await versions(table); // committed before the call
    const { stdout } = await execVecrelayOk(['cutover', '--config', config, '--timeout', '120']);
    const applied = await pointVersions(collection); // read the moment cutover returns
    assert.match(stdout, /cutover: exact/);
    for (const [id, version] of before)
      assert.ok(
        (applied.get(id) ?? -1) >= version,
        `row ${id}: version ${version} committed before cutover, Qdrant has ${applied.get(id)}`,
      );
  } finally {
    await w.stop();
  }
  void p;
});

test('cutover times out with what is behind when the sink is not running', async () => {
  const { p, config } = await pipeline(20);
  start(['source', '--config', config]);
  await waitSlotActive(ctx.sql, p.slot);
  const res = await execVecrelay(['cutover', '--config', config, '--timeout', '5']);
  assert.equal(res.code, 1);
  assert.match(res.stdout, /NOT exact[\s\S]*sink: .*committed nothing, needs/);
});

test('status --json: consumer lag > 0 while a backlog exists, 0 once the sink caught up; exit 1 until the sink runs', async () => {
  const { p, table, collection, config, groupId } = await pipeline(300);
  start(['source', '--config', config]);
  await waitSlotActive(ctx.sql, p.slot);
  const status = async () => {
    const run = await execVecrelay(['status', '--config', config, '--json']);
    return {
      code: run.code,
      ...(JSON.parse(run.stdout) as {
        totalConsumerLag: number;
        tables: Array<{ rows: number; points: number | null }>;
        slot: { active: boolean };
        running: boolean;
        problems: string[];
      }),
    };
  };
  const backlog = await waitFor(
    'a backlog in Kafka',
    async () => {
      const s = await status();
      return s.totalConsumerLag >= 300 ? s : undefined;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(backlog.code, 1, 'the sink is not running: exit 1');
  assert.equal(backlog.running, false);
  assert.ok(
    backlog.problems.some((l) => l.includes(`sink group ${groupId} has no members`)),
    backlog.problems.join('\n'),
  );
  start(['sink', '--config', config]);
  await waitSynced(table, collection);
  const last = await waitFor('status to report no lag', async () => {
    const s = await status();
    return s.totalConsumerLag === 0 && s.running ? s : undefined;
  });
  assert.equal(last.code, 0, 'source and sink running: exit 0');
  assert.equal(last.tables[0]!.rows, 300);
  assert.equal(last.tables[0]!.points, 300);
  assert.equal(last.slot.active, true);
});

test('SIGTERM during streaming: `run` exits within its deadline and a restart loses nothing', async () => {
  const { p, table, collection, config } = await pipeline(50);
  const first = start(['run', '--config', config]);
  await waitSynced(table, collection);
  const w = writer(table, 50);
  await waitFor('writes in flight', () => w.commits > 100);
  const t0 = Date.now();
  first.child.kill('SIGTERM');
  const exit = await first.exited;
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - t0 < 30_000, 'stopped within the drain deadline');
  await w.stop();
  await waitFor('slot released', async () => !(await slotInfo(ctx.sql, p.slot))?.active);
  start(['run', '--config', config]);
  await waitSynced(table, collection);
});

test('teardown says what it drops and drops the slot, the publication and, asked, the topics', async () => {
  const { p, config } = await pipeline(5);
  const source = start(['source', '--config', config]);
  await waitSlotActive(ctx.sql, p.slot);
  source.child.kill('SIGTERM');
  await source.exited;
  const refused = await execVecrelay(['teardown', '--config', config, '--topics']);
  assert.equal(refused.code, 2, 'without --yes and no terminal, nothing is dropped');
  assert.ok(await slotInfo(ctx.sql, p.slot));
  const t0 = Date.now();
  const { stdout } = await execVecrelayOk(['teardown', '--config', config, '--topics', '--yes']);
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 20, `teardown took ${seconds} s`);
  assert.match(stdout, /Kafka topics deleted: .*\._state\./, 'it says the topics are gone');
  // <prefix>._tables may describe other pipelines' tables too: teardown leaves it.
  const left = (await topicsWithPrefix(p.topicPrefix)).filter((t) => !t.endsWith('._tables'));
  assert.deepEqual(left, [], 'the broker lists none of them');
  assert.match(stdout, new RegExp(`replication slot ${p.slot}`));
  assert.match(stdout, new RegExp(`publication ${p.publication}`));
  assert.match(stdout, /Kafka topic .*\._state\./);
  assert.equal(await slotInfo(ctx.sql, p.slot), undefined);
  const { rows } = await ctx.sql.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [p.publication]);
  assert.equal(rows.length, 0);
});
