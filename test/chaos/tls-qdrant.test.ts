// qdrant.caFile against a Qdrant test server of the test's own serving https (as Qdrant does with
// service.enable_tls), its certificate signed by a CA made here with openssl. With the CA,
// `vecrelay run` syncs the table (the sink's node:https writes, @qdrant/js-client-rest creating
// the collection, the preflight's fetch) and `vecrelay status` counts the points. Without it, or
// with another CA, the certificate does not verify: `vecrelay run` exits 2 within 10 s naming
// qdrant.caFile and leaves nothing behind, and `vecrelay sink` stops with exit 2 rather than
// retrying forever.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { topicsWithPrefix } from '../helpers/kafka.js';
import { startQdrantProcess, type QdrantProcess } from '../helpers/qdrant-process.js';
import {
  collectionVsTable,
  deadLetters,
  DIM,
  insertRows,
  waitCollectionEqualsTable,
  type ChaosPipeline,
} from '../helpers/sink-chaos.js';
import { TRANSPORTS, useSinkPipelines, type SinkPipeline } from '../helpers/sink-pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'qtls' });

const LIMIT_MS = 10_000;
let ca: TestCa;
let other: TestCa;
let qdrant: QdrantProcess;

const stops: Array<() => Promise<unknown>> = [];

before(async () => {
  ca = await makeTestCa('vecrelay qdrant CA');
  other = await makeTestCa('another CA');
  const server = await ca.issue('qdrant', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  // One server for the file (a test's own cleanup would stop it after that test).
  qdrant = await startQdrantProcess((fn) => stops.push(fn), {
    tls: { ...server, caFile: ca.caFile },
    grpc: true, // https on its gRPC port too, as Qdrant's service.enable_tls does
  });
});

after(async () => {
  for (const stop of stops) await stop();
  ca?.remove();
  other?.remove();
});

/** A pipeline over a fresh table whose config points at the https server, with `qdrantExtra`. */
async function httpsPipeline(prefix: string, qdrantExtra: Record<string, unknown>): Promise<ChaosPipeline> {
  const table = uniqueName(prefix);
  await ctx.createTable(table, DIM);
  const sp: SinkPipeline = ctx.pipeline(table);
  const config = writeConfig(sp.p, { qdrant: { url: qdrant.url, ...qdrantExtra } });
  ctx.cleanup(() => qdrant.request('DELETE', `/collections/${sp.collection}`));
  return { ...sp, config, qdrant };
}

// Over gRPC, qdrant.caFile verifies the gRPC port's certificate too.
for (const transport of TRANSPORTS)
  test(`[${transport}] vecrelay run with an https qdrant.url and qdrant.caFile: the collection equals the table; status counts it`, async () => {
    assert.match(qdrant.url, /^https:/);
    const cp = await httpsPipeline('qtls', {
      caFile: ca.caFile,
      ...(transport === 'grpc' ? { transport, grpcUrl: qdrant.grpcUrl } : {}),
    });
    await insertRows(ctx, cp.table, 1, 40); // the snapshot
    const run = ctx.start(['run', '--config', cp.config]);
    const failed = run.exited.then(({ code }) => {
      throw new Error(`vecrelay run exited (${code}):\n${readFileSync(run.logFile, 'utf8')}`);
    });
    failed.catch(() => {});
    await Promise.race([waitCollectionEqualsTable(ctx, cp, 120_000), failed]);
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'changed' WHERE id <= 5`);
    await ctx.sql.query(`DELETE FROM ${cp.table} WHERE id > 35`);
    await insertRows(ctx, cp.table, 41, 60); // streamed
    await Promise.race([waitCollectionEqualsTable(ctx, cp, 120_000), failed]);
    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');

    const status = await execVecrelay(['status', '--config', cp.config, '--json'], { timeoutMs: 60_000 });
    const out = `${status.stdout}\n${status.stderr}`;
    assert.ok(status.stdout.trim().startsWith('{'), `a JSON report; output:\n${out}`);
    const report = JSON.parse(status.stdout) as {
      problems: string[];
      tables: Array<{ collectionExists: boolean | null; points: number | null }>;
    };
    assert.equal(report.tables[0]!.collectionExists, true, out);
    assert.equal(report.tables[0]!.points, 55, `the points over https; output:\n${out}`);
    assert.ok(
      !report.problems.some((l) => /qdrant/i.test(l)),
      `no Qdrant problem: ${report.problems.join('; ')}`,
    );
  });

test("without qdrant.caFile, or with a CA that did not sign the server's certificate: exit 2 within 10 s naming qdrant.caFile, nothing created", async () => {
  for (const [label, extra] of [
    ['no caFile', {}],
    ['another CA', { caFile: other.caFile }],
  ] as const) {
    const cp = await httpsPipeline('qtlsno', extra);
    await insertRows(ctx, cp.table, 1, 3);
    const started = Date.now();
    const run = await execVecrelay(['run', '--config', cp.config], { timeoutMs: 60_000 });
    const ms = Date.now() - started;
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 2, `${label}: exit code 2; output:\n${output}`);
    assert.ok(ms < LIMIT_MS, `${label}: exited within ${LIMIT_MS} ms (took ${ms} ms); output:\n${output}`);
    const line = run.stderr.split('\n').find((l) => l.startsWith('vecrelay: '));
    assert.ok(line, `${label}: a "vecrelay: ..." line on stderr; output:\n${output}`);
    assert.match(
      line,
      new RegExp(
        `Qdrant at ${qdrant.url.replaceAll('.', '\\.')} \\(qdrant\\.url\\) sent a certificate that does not verify`,
      ),
    );
    assert.match(line, /set qdrant\.caFile to the PEM file of the CA that signed Qdrant's certificate/);
    if ('caFile' in extra) assert.match(line, new RegExp(`${other.caFile} did not sign it`));

    const slots = await ctx.sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [cp.p.slot]);
    assert.equal(slots.rowCount, 0, `${label}: no slot ${cp.p.slot}`);
    const pubs = await ctx.sql.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [cp.p.publication]);
    assert.equal(pubs.rowCount, 0, `${label}: no publication ${cp.p.publication}`);
    assert.deepEqual(await topicsWithPrefix(cp.p.topicPrefix), [], `${label}: no topics`);
    assert.equal((await qdrant.request('GET', `/collections/${cp.collection}`)).status, 404, 'no collection');

    // status says the same of Qdrant (exit 2: a system did not answer as it should).
    const status = await execVecrelay(['status', '--config', cp.config], { timeoutMs: 60_000 });
    assert.equal(status.code, 2, `${label}: status exits 2; output:\n${status.stdout}\n${status.stderr}`);
    assert.match(status.stdout, /\(qdrant\.url\) sent a certificate that does not verify/);
    assert.match(status.stdout, /set qdrant\.caFile/);
  }
});

test('vecrelay sink (no preflight) without qdrant.caFile: stops with exit 2 naming qdrant.caFile, not retrying', async () => {
  const cp = await httpsPipeline('qtlssink', {});
  const sink = ctx.start(['sink', '--config', cp.config]);
  const { code } = await Promise.race([
    sink.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the sink did not stop within 30 s')), 30_000),
    ),
  ]);
  const log = readFileSync(sink.logFile, 'utf8');
  assert.equal(code, 2, `exit 2: retrying cannot fix an untrusted certificate; log:\n${log}`);
  assert.match(log, /sent a certificate that does not verify/);
  assert.match(log, /set qdrant\.caFile/);
  assert.doesNotMatch(log, /retrying/, 'no retry');
});
