// The operator's commands against the real stack: cutover is exact while a writer keeps
// committing, status reports consumer lag and its end, SIGTERM stops `run` within its deadline
// without losing anything, teardown drops what it says.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import type pg from 'pg';
import { testKafka } from '../helpers/kafka.js';
import { connectPg, dropPipeline, slotInfo, waitSlotActive } from '../helpers/pg.js';
import { dropCollection, qdrantRequest, scrollAll } from '../helpers/qdrant.js';
import {
  startVecrelay,
  writeConfig,
  type RunningProcess,
  type TestPipeline,
} from '../helpers/source-process.js';
import { repoRoot, stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const exec = promisify(execFile);
const bin = path.join(repoRoot, 'bin/vecrelay.js');
let sql: pg.Client;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  sql = await connectPg();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await sql.end();
});

interface Pipeline {
  p: TestPipeline;
  table: string;
  collection: string;
  config: string;
}

async function pipeline(rows: number): Promise<Pipeline> {
  const table = uniqueName('ops');
  const name = uniqueName('ops');
  const collection = uniqueName('opscoll');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(8))`);
  await sql.query(
    `INSERT INTO ${table} SELECT i, 0, array_fill(i::real, ARRAY[8])::vector FROM generate_series(1, $1::int) i`,
    [rows],
  );
  const p: TestPipeline = {
    name,
    slot: name,
    publication: name,
    topicPrefix: name,
    tables: [{ table: `public.${table}`, collection } as TestPipeline['tables'][number]],
  };
  const config = writeConfig(p, { qdrant: { url: stackEnv().qdrantUrl } });
  cleanups.push(async () => {
    await dropPipeline(sql, p.slot, p.publication);
    await sql.query(`DROP TABLE IF EXISTS ${table}`);
    await dropCollection(collection);
    const admin = testKafka().admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`)) })
      .catch(() => {});
    await admin.disconnect();
  });
  return { p, table, collection, config };
}

function start(args: string[]): RunningProcess {
  const proc = startVecrelay(args);
  cleanups.push(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await proc.exited;
  });
  return proc;
}

async function versions(table: string): Promise<Map<number, number>> {
  const { rows } = await sql.query<{ id: number; version: number }>(`SELECT id, version FROM ${table}`);
  return new Map(rows.map((r) => [r.id, r.version]));
}

async function pointVersions(collection: string): Promise<Map<number, number>> {
  return new Map((await scrollAll(collection)).map((pt) => [Number(pt.id), Number(pt.payload.version)]));
}

async function waitSynced(table: string, collection: string) {
  await waitFor(
    'the collection to equal the table',
    async () => {
      const [want, got] = [await versions(table), await pointVersions(collection)];
      return want.size === got.size && [...want].every(([id, v]) => got.get(id) === v);
    },
    { timeoutMs: 90_000, intervalMs: 300 },
  );
}

/** Keeps committing single-row updates until stopped. */
function writer(table: string, rows: number) {
  let running = true;
  let commits = 0;
  const done = (async () => {
    const c = await connectPg();
    try {
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
  cleanups.push(async () => void (await qdrantRequest('DELETE', '/__test/faults')));
  const w = writer(table, 100);
  try {
    await waitFor('the writer to commit', () => w.commits > 200);
    const before = await versions(table); // committed before the call
    const { stdout } = await exec(process.execPath, [bin, 'cutover', '--config', config, '--timeout', '120']);
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
  await waitSlotActive(sql, p.slot);
  const res = await exec(process.execPath, [bin, 'cutover', '--config', config, '--timeout', '5']).catch(
    (err: { code: number; stdout: string }) => err,
  );
  assert.equal((res as { code?: number }).code, 1);
  assert.match((res as { stdout: string }).stdout, /NOT exact[\s\S]*sink: .*committed nothing, needs/);
});

test('status --json: consumer lag > 0 while a backlog exists, 0 once the sink caught up', async () => {
  const { p, table, collection, config } = await pipeline(300);
  start(['source', '--config', config]);
  await waitSlotActive(sql, p.slot);
  const status = async () =>
    JSON.parse((await exec(process.execPath, [bin, 'status', '--config', config, '--json'])).stdout) as {
      totalConsumerLag: number;
      tables: Array<{ rows: number; points: number | null }>;
      slot: { active: boolean };
    };
  await waitFor('a backlog in Kafka', async () => (await status()).totalConsumerLag >= 300, {
    timeoutMs: 60_000,
  });
  start(['sink', '--config', config]);
  await waitSynced(table, collection);
  const last = await waitFor('status to report no lag', async () => {
    const s = await status();
    return s.totalConsumerLag === 0 ? s : undefined;
  });
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
  await waitFor('slot released', async () => !(await slotInfo(sql, p.slot))?.active);
  start(['run', '--config', config]);
  await waitSynced(table, collection);
});

test('teardown says what it drops and drops the slot, the publication and, asked, the topics', async () => {
  const { p, config } = await pipeline(5);
  const source = start(['source', '--config', config]);
  await waitSlotActive(sql, p.slot);
  source.child.kill('SIGTERM');
  await source.exited;
  const refused = await exec(process.execPath, [bin, 'teardown', '--config', config, '--topics']).catch(
    (err: { code: number; stdout: string }) => err,
  );
  assert.equal((refused as { code?: number }).code, 2, 'without --yes and no terminal, nothing is dropped');
  assert.ok(await slotInfo(sql, p.slot));
  const { stdout } = await exec(process.execPath, [bin, 'teardown', '--config', config, '--topics', '--yes']);
  assert.match(stdout, new RegExp(`replication slot ${p.slot}`));
  assert.match(stdout, new RegExp(`publication ${p.publication}`));
  assert.match(stdout, /Kafka topic .*\._state\./);
  assert.equal(await slotInfo(sql, p.slot), undefined);
  const { rows } = await sql.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [p.publication]);
  assert.equal(rows.length, 0);
});
