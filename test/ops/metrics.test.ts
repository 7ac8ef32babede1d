// Every long-running process serves /metrics (Prometheus), /healthz and /readyz on the
// configured port; the counters follow what the pipeline does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/free-port.js';
import { scrollAll } from '../helpers/qdrant.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'metrics' });

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
};

test('run serves /healthz, /readyz and /metrics with source, sink and Qdrant figures', async () => {
  const { sql } = ctx;
  const table = uniqueName('metrics');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(4))`);
  await sql.query(`INSERT INTO ${table} VALUES (1, 'snapshot row', '[1,2,3,4]')`);
  const port = await freePort();
  const { collection, config } = ctx.pipeline(table, { metricsPort: port });
  ctx.start(['run', '--config', config]);

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
