// Every long-running process serves /metrics (Prometheus), /healthz and /readyz on the
// configured port; the counters follow what the pipeline does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type pg from 'pg';
import { testKafka } from '../helpers/kafka.js';
import { connectPg, dropPipeline } from '../helpers/pg.js';
import { dropCollection, scrollAll } from '../helpers/qdrant.js';
import { startVecrelay, writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

let sql: pg.Client;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  sql = await connectPg();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await sql.end();
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

test('run serves /healthz, /readyz and /metrics with source, sink and Qdrant figures', async () => {
  const table = uniqueName('metrics');
  const name = uniqueName('metrics');
  const collection = uniqueName('metricscoll');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(4))`);
  await sql.query(`INSERT INTO ${table} VALUES (1, 'snapshot row', '[1,2,3,4]')`);
  const port = await freePort();
  const p: TestPipeline = {
    name,
    slot: name,
    publication: name,
    topicPrefix: name,
    tables: [{ table: `public.${table}`, collection } as TestPipeline['tables'][number]],
  };
  const config = writeConfig(p, { qdrant: { url: stackEnv().qdrantUrl }, metrics: { port } });
  const proc = startVecrelay(['run', '--config', config]);
  cleanups.push(async () => {
    proc.child.kill('SIGKILL');
    await proc.exited;
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

  await waitFor('/healthz', async () => (await get(port, '/healthz')).status === 200);
  await waitFor(
    '/readyz to turn ready once streaming and consuming',
    async () => (await get(port, '/readyz')).status === 200,
  );
  await sql.query(`INSERT INTO ${table} VALUES (2, 'streamed', '[4,3,2,1]')`);
  await waitFor('both rows in Qdrant', async () => (await scrollAll(collection)).length === 2);

  const body = await waitFor('the counters', async () => {
    const { text } = await get(port, '/metrics');
    return /vecrelay_sink_events_total\{[^}]*op="c"[^}]*\} [1-9]/.test(text) ? text : undefined;
  });
  assert.match(body, new RegExp(`vecrelay_source_events_total\\{table="public.${table}",op="r"\\} 1`));
  assert.match(body, new RegExp(`vecrelay_source_events_total\\{table="public.${table}",op="c"\\} 1`));
  assert.match(body, /vecrelay_qdrant_request_seconds_count\{[^}]*outcome="ok"\} [1-9]/);
  assert.match(body, /vecrelay_process_resident_memory_bytes \d+/);
  assert.equal((await get(port, '/nope')).status, 404);
});
