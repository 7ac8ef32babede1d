// `vecrelay verify` against the real stack: a synced pipeline is equal (exit 0, top-k identical);
// each kind of damage done to Qdrant behind the pipeline's back is named with its key and nothing
// else is (exit 1); writes that keep coming while it runs cause no false report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitSlotActive } from '../helpers/pg.js';
import type { ColumnValue } from '../../src/event/change-event.js';
import { pipelineNamespace, pointIdOf } from '../../src/sink/qdrant/point-id.js';
import { pointCount, qdrantRequest } from '../helpers/qdrant.js';
import { lit, useSinkPipelines, vec } from '../helpers/sink-pipeline.js';
import { connectPg } from '../helpers/pg.js';
import { freePort } from '../helpers/free-port.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'verify' });
const DIM = 8;

interface TableJson {
  rows: number;
  points: number;
  missing: unknown[];
  extra: unknown[];
  mismatched: unknown[];
  nullVectorViolations: number;
  recallAtK: number | null;
  exactTopKIdentical: boolean | null;
  details: Array<{ key: unknown; problems: string[] }>;
  rechecked: number;
  unsettled: number;
  notApplied: number;
  topK: { samples: number; skipped: number };
}

async function verify(config: string, ...args: string[]) {
  const run = await execVecrelay(['verify', '--config', config, '--json', ...args], {
    timeoutMs: 300_000,
    env: { VECRELAY_LOG_LEVEL: process.env.VERIFY_LOG_LEVEL ?? 'warn' },
  });
  let report: { ok: boolean; tables: Record<string, TableJson> } | undefined;
  try {
    report = JSON.parse(run.stdout) as typeof report;
  } catch {
    assert.fail(`verify printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr.slice(-5000)}`);
  }
  return { code: run.code, report: report!, stderr: run.stderr };
}

/** The items table with `rows` rows (row 7's embedding NULL), synced by a running pipeline. */
async function synced(rows: number) {
  const table = uniqueName('verify');
  await ctx.createTable(table, DIM);
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 't' || i, i, CASE WHEN i = 7 THEN NULL ELSE
       (SELECT array_agg(sin(i * 31 + d)::real) FROM generate_series(0, ${DIM - 1}) d)::vector END
     FROM generate_series(1, $1::int) i`,
    [rows],
  );
  const sp = ctx.pipeline(table);
  const run = ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  return { ...sp, run, name: `public.${table}` };
}

test('a synced table verifies equal; then each kind of damage in Qdrant is named by its key, exit 1', async () => {
  const { config, collection, name, table, run } = await synced(40);
  const equal = await verify(config);
  assert.equal(equal.code, 0, JSON.stringify(equal.report, null, 1));
  const t0 = equal.report.tables[name]!;
  assert.equal(equal.report.ok, true);
  assert.equal(t0.rows, 40);
  assert.equal(t0.points, 40);
  assert.deepEqual([t0.missing, t0.extra, t0.mismatched], [[], [], []]);
  assert.equal(t0.nullVectorViolations, 0);
  assert.ok(t0.topK.samples > 0, 'top-k compared');
  assert.equal(t0.exactTopKIdentical, true, 'on a table synced exactly, exact search is identical');
  assert.equal(t0.recallAtK, 1);

  // Damage done to Qdrant directly, one kind per point.
  const points = `/collections/${collection}/points`;
  const ok = (r: { status: number }) => assert.equal(r.status, 200);
  ok(await qdrantRequest('POST', `${points}/delete?wait=true`, { points: [3] })); // missing
  ok(
    await qdrantRequest('PUT', `${points}?wait=true`, {
      points: [{ id: 1000, vector: vec(1000, DIM), payload: { title: 'ghost' } }], // extra
    }),
  );
  ok(
    await qdrantRequest('PUT', `${points}/vectors?wait=true`, { points: [{ id: 5, vector: vec(999, DIM) }] }),
  );
  ok(
    await qdrantRequest('POST', `${points}/payload?wait=true`, {
      payload: { title: 'tampered' },
      points: [6],
    }),
  );
  // Row 7's embedding is NULL: its point must carry no vector.
  ok(await qdrantRequest('PUT', `${points}/vectors?wait=true`, { points: [{ id: 7, vector: vec(7, DIM) }] }));

  const broken = await verify(config, '--timeout', '30');
  assert.equal(broken.code, 1, broken.stderr);
  assert.equal(broken.report.ok, false);
  const t = broken.report.tables[name]!;
  assert.deepEqual(t.missing, [3]);
  assert.deepEqual(t.extra, [1000]);
  assert.deepEqual(
    [...t.mismatched].sort((a, b) => Number(a) - Number(b)),
    [5, 6, 7],
  );
  assert.equal(t.nullVectorViolations, 1);
  const why = new Map(t.details.map((d) => [d.key, d.problems.join('; ')]));
  assert.match(why.get(5)!, /vector embedding differs/);
  assert.match(why.get(6)!, /payload differs in "title"/);
  assert.match(why.get(7)!, /NULL in the row but present/);
  assert.equal(t.rows, 40);
  assert.equal(t.points, 40, '39 of the pipeline, one extra');

  const text = await execVecrelay(['verify', '--config', config, '--sample', '0']);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /missing points \(1\): 3/);
  assert.match(text.stdout, /extra points \(1\): 1000/);
  assert.match(text.stdout, /verify: DIVERGENT/);

  // The pipeline stopped with a change it never applied: nothing can be told from a lag, so
  // nothing is named; the differences are counted as not settled (exit 1). Meanwhile the figures
  // are on /metrics.
  run.child.kill('SIGTERM');
  await run.exited;
  await ctx.sql.query(`UPDATE ${table} SET title = 'after the stop' WHERE id = 20`);
  const port = await freePort();
  const stalled = verify(config, '--timeout', '15', '--sample', '0', '--metrics-port', String(port));
  const scraped = await waitFor('verify figures on /metrics', async () => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    return text.includes(`vecrelay_verify_rows_total{table="${name}",side="postgres"} 40`) ? text : undefined;
  });
  assert.match(scraped, /vecrelay_verify_rows_total/);
  const behind = await stalled;
  const tb = behind.report.tables[name]! as TableJson & { pipelineBehind: string[] };
  assert.equal(behind.code, 1);
  assert.deepEqual([tb.missing, tb.extra, tb.mismatched], [[], [], []]);
  assert.equal(tb.notApplied, 6, 'the five damaged points and the row changed after the stop');
  assert.match(tb.pipelineBehind.join('\n'), /the slot is not active: is the source running\?/);
});

test('writes continuing during verify cause no false report', async () => {
  const rows = 300;
  const { config, name, table } = await synced(rows);
  let running = true;
  let commits = 0;
  const writer = (async () => {
    const c = await connectPg();
    try {
      for (let i = 0; running; i++) {
        const id = 1 + ((i * 37) % rows);
        // Vectors and payload change; rows come and go above the synced range.
        await c.query(`UPDATE ${table} SET n = n + 1, embedding = $2 WHERE id = $1 AND id <> 7`, [
          id,
          lit(vec(id + i, DIM)),
        ]);
        await c.query(`INSERT INTO ${table} VALUES ($1, 'new', 0, $2)`, [rows + 1 + i, lit(vec(i, DIM))]);
        if (i % 2) await c.query(`DELETE FROM ${table} WHERE id = $1`, [rows + i]);
        commits += 3;
        // A steady rate the pipeline keeps up with on a busy 2-core machine (a lag that only
        // grows would leave nothing ever applied for verify to wait for).
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await c.end();
    }
  })();
  try {
    await waitFor('writes under way', () => commits > 100);
    let rechecked = 0;
    for (let run = 0; run < 3; run++) {
      const { code, report, stderr } = await verify(config, '--sample', '10', '--timeout', '120');
      const t = report.tables[name]!;
      assert.equal(code, 0, `run ${run}: ${JSON.stringify(t, null, 1)}\n${stderr}`);
      assert.deepEqual([t.missing, t.extra, t.mismatched], [[], [], []]);
      assert.equal(t.notApplied, 0);
      assert.notEqual(t.exactTopKIdentical, false);
      rechecked += t.rechecked;
    }
    assert.ok(commits > 300, `the writer kept going (${commits} commits)`);
    // The reads did race the writes: rows seen different while reading were rechecked, and settled.
    assert.ok(rechecked > 0, 'some rows were in flight while verify read them');
  } finally {
    running = false;
    await writer;
  }
});

test('a composite text key (derived point ids), named vectors with an L2 index, typed payload: equal, then damage named', async () => {
  const table = uniqueName('verifyk');
  await ctx.sql.query(
    `CREATE TABLE ${table} (tenant text, id int, doc jsonb, price numeric, at timestamptz, tags text[],
       a vector(8), b vector(4), PRIMARY KEY (tenant, id))`,
  );
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${table}`));
  await ctx.sql.query(`CREATE INDEX ON ${table} USING hnsw (a vector_l2_ops)`);
  await ctx.sql.query(
    `INSERT INTO ${table}
     SELECT CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'it''s, "b"' END, i,
            jsonb_build_object('n', i, 'big', 9007199254740993, 'nested', jsonb_build_array(1.5, 'x')),
            i * 1.10, '2024-01-02 03:04:05.123456+00'::timestamptz + i * interval '1 hour', ARRAY['t' || i],
            (SELECT array_agg(cos(i * 7 + d)::real) FROM generate_series(0, 7) d)::vector,
            CASE WHEN i % 5 = 0 THEN NULL ELSE (SELECT array_agg(sin(i + d)::real) FROM generate_series(0, 3) d)::vector END
     FROM generate_series(1, 60) i`,
  );
  const sp = ctx.pipeline(table);
  ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await waitFor('the snapshot in Qdrant', async () => (await pointCount(sp.collection)) === 60, {
    timeoutMs: 90_000,
  });
  const name = `public.${table}`;
  const equal = await verify(sp.config);
  const t0 = equal.report.tables[name]!;
  assert.equal(equal.code, 0, JSON.stringify(t0, null, 1));
  assert.equal(t0.rows, 60);
  assert.equal(t0.exactTopKIdentical, true);

  const id = (key: Record<string, unknown>) =>
    pointIdOf(
      {
        key: [
          { name: 'tenant', type: 'text' },
          { name: 'id', type: 'int4' },
        ],
      },
      pipelineNamespace(sp.p.name),
      key as Record<string, ColumnValue>,
    ).id as string;
  const points = `/collections/${sp.collection}/points`;
  const ghost = '5f0c6a1e-8d2b-4c3a-9e7f-0a1b2c3d4e5f';
  await qdrantRequest('PUT', `${points}?wait=true`, {
    points: [{ id: ghost, vector: { a: Array(8).fill(0.5) }, payload: {} }],
  });
  await qdrantRequest('POST', `${points}/payload?wait=true`, {
    payload: { doc: { n: 4, big: 9007199254740992, nested: [1.5, 'x'] } },
    points: [id({ tenant: 'acme', id: 4n })],
  });
  const broken = await verify(sp.config, '--timeout', '30');
  const t = broken.report.tables[name]!;
  assert.equal(broken.code, 1);
  assert.deepEqual(t.extra, [ghost]);
  assert.deepEqual(t.mismatched, [['acme', 4]]);
  assert.deepEqual(t.missing, []);
  assert.match(t.details[0]!.problems.join(), /payload differs in "doc"/);
});

test('exit 2 for a table not in the config or a Qdrant that does not answer; exit 1 when the collection does not exist', async () => {
  const table = uniqueName('verifye');
  await ctx.createTable(table, DIM);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (1, 'a', 1, $1)`, [lit(vec(1, DIM))]);
  const sp = ctx.pipeline(table);

  const unknown = await execVecrelay(['verify', '--config', sp.config, '--table', 'public.nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--table public\.nope: not a table of .*tables\[\]: public\.verifye/);

  // Nothing ran: the collection was never created.
  const none = await verify(sp.config);
  assert.equal(none.code, 1);
  assert.match(
    (none.report.tables[`public.${table}`] as unknown as { error: string }).error,
    /collection .* does not exist in Qdrant/,
  );

  const port = await freePort();
  const offline = writeConfig(sp.p, { qdrant: { url: `http://127.0.0.1:${port}` } });
  const t0 = Date.now();
  const down = await execVecrelay(['verify', '--config', offline]);
  assert.equal(down.code, 2, down.stderr);
  assert.match(down.stderr, new RegExp(`Qdrant at http://127\\.0\\.0\\.1:${port} \\(qdrant\\.url\\)`));
  assert.ok(Date.now() - t0 < 30_000, 'it says so within seconds');
});

test('verify --repair re-syncs the divergent keys through the pipeline (the extra point deleted), then verifies equal', async () => {
  const { config, collection, name, run } = await synced(30);
  const points = `/collections/${collection}/points`;
  const ok = (r: { status: number }) => assert.equal(r.status, 200);
  ok(await qdrantRequest('POST', `${points}/delete?wait=true`, { points: [3] })); // missing
  ok(
    await qdrantRequest('PUT', `${points}?wait=true`, {
      points: [{ id: 1000, vector: vec(1000, DIM), payload: { title: 'ghost' } }], // extra
    }),
  );
  ok(
    await qdrantRequest('PUT', `${points}/vectors?wait=true`, { points: [{ id: 5, vector: vec(999, DIM) }] }),
  );
  const repaired = await execVecrelay(
    ['verify', '--config', config, '--repair', '--sample', '0', '--timeout', '120'],
    {
      timeoutMs: 300_000,
    },
  );
  assert.equal(repaired.code, 0, `${repaired.stdout}\n${repaired.stderr.slice(-3000)}`);
  assert.match(repaired.stdout, /repair: 3 keys re-synced through the pipeline; verifying again/);
  assert.match(
    repaired.stderr,
    new RegExp(`repair: resync of 3 keys of ${name.replace('.', '\\.')} requested`),
  );
  const after = await verify(config, '--sample', '0');
  assert.equal(after.code, 0, JSON.stringify(after.report.tables[name]));
  assert.equal(await pointCount(collection), 30, 'the extra point was deleted');
  run.child.kill('SIGTERM');
  await run.exited;
});
