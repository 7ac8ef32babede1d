// Verify benchmark (not a test): a full `vecrelay verify` against the raw cost of reading both sides.
//   npx tsx bench/verify.ts [--rows 100000] [--dim 1536] [--sample 20] [--page 1000]
// Needs the local stack (npm run stack:up); Qdrant is QDRANT_URL when set, else a test server of
// the bench's own (test/qdrant-server). A table of `rows` rows of vector(dim) + a small jsonb
// payload is synced into its collection by the real pipeline (`vecrelay run`, snapshot then
// streaming: the points are exactly what the sink writes, ids, payload and `_vecrelay_lsn`
// included), which keeps running, as it does in production while verify checks it. Then, in the
// same run, it prints rows/s of
//   (a) raw Postgres: COPY (SELECT … ORDER BY id) TO STDOUT (FORMAT binary), the bytes counted;
//   (b) raw Qdrant: a full scroll of the collection with vectors and payload (`--page` points a
//       page, the answers parsed), through the same Qdrant;
//   (c) raw both: rows / (a + b seconds), each side read once, one after the other; measured
//       before verify and again after it (the ratio uses the mean), all after one untimed scroll
//       (the test server's first read of a point is several times slower than the next ones);
//   (d) vecrelay verify --sample S (default 20, the command's own default: top-k included), the
//       real process, compiled as deployed, with its peak RSS (VmHWM) and CPU seconds; and once
//       more with --sample 0 (rows and points only) unless --sample is 0;
// and the ratio verify / raw both (aim ≥ 0.7, RSS < 300 MB). BENCH_PROFILE=DIR writes a CPU
// profile of each verify process there; BENCH_NODE_ARGS adds node options to it.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { sinkGroupId } from '../src/event/names.js';
import { deleteTopicsWithPrefix, withAdmin } from '../test/helpers/kafka.js';
import { dropPipeline } from '../test/helpers/pg.js';
import { dropCollection, qdrantRequest } from '../test/helpers/qdrant.js';
import { startQdrantProcess, type QdrantProcess } from '../test/helpers/qdrant-process.js';
import { startVecrelay, writeConfig, type RunningProcess } from '../test/helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../test/helpers/stack.js';
import { sampleProcess } from './process-stats.js';
import { buildDeployed, DEPLOYED_NODE_FLAGS } from './deployed.js';
import { hideKafkajsTimerWarning } from '../src/kafka/kafkajs-timer-warning.js';

hideKafkajsTimerWarning(); // the bench's own kafkajs clients

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '1536' },
    sample: { type: 'string', default: '20' },
    page: { type: 'string', default: '1000' },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const sample = Number(args.sample);
const page = Number(args.page);

// Without QDRANT_URL, a Qdrant test server of this bench's own, with room for the points (100k of
// 1536 dimensions are over a GB of JavaScript heap): the stack's shared one is left to the tests.
const cleanups: Array<() => Promise<unknown>> = [];
let server: QdrantProcess | undefined;
if (!process.env.QDRANT_URL) {
  process.env.NODE_OPTIONS = '--max-old-space-size=8192'; // the server's only: removed below
  server = await startQdrantProcess((fn) => cleanups.push(fn));
  delete process.env.NODE_OPTIONS;
  process.env.QDRANT_URL = server.url;
}
const env = stackEnv();

// vecrelay runs as deployed: compiled, with the Node flags it is started with (bench/deployed.ts).
const compiledEntry = buildDeployed();

const name = uniqueName('bverify');
const table = name;
const collection = name;
const sql = new pg.Client({ connectionString: env.pgUrl });
await sql.connect();

const load = () => `load ${loadavg()[0]!.toFixed(2)}`;
function report(label: string, seconds: number, extra = ''): number {
  console.log(
    `${label.padEnd(52)} ${(rows / seconds).toFixed(0).padStart(7)} rows/s  (${seconds.toFixed(2)} s${extra}, ${load()})`,
  );
  return rows / seconds;
}

/** utime + stime of a process (all its threads), from /proc/PID/stat. */
async function pointCount(): Promise<number> {
  const { status, result } = await qdrantRequest<{ count: number }>(
    'POST',
    `/collections/${collection}/points/count`,
    { exact: true },
  );
  return status === 200 ? result.count : 0;
}

/** (a) The table in key order, binary COPY, every byte read. */
async function rawCopy(): Promise<{ seconds: number; bytes: number }> {
  const client = new pg.Client({ connectionString: env.pgUrl });
  await client.connect();
  const t0 = performance.now();
  let bytes = 0;
  const copy = client.query(
    copyTo(`COPY (SELECT id, doc, embedding FROM ${table} ORDER BY id) TO STDOUT (FORMAT binary)`),
  );
  for await (const chunk of copy as AsyncIterable<Buffer>) bytes += chunk.length;
  const seconds = (performance.now() - t0) / 1000;
  await client.end();
  return { seconds, bytes };
}

/** (b) The collection scrolled with vectors and payload, each answer parsed. */
async function rawScroll(): Promise<{ seconds: number; points: number }> {
  const t0 = performance.now();
  let points = 0;
  let offset: unknown = null;
  do {
    const res = await fetch(`${env.qdrantUrl}/collections/${collection}/points/scroll`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(env.qdrantApiKey ? { 'api-key': env.qdrantApiKey } : {}),
      },
      body: JSON.stringify({ limit: page, offset, with_payload: true, with_vector: true }),
    });
    const { result } = (await res.json()) as { result: { points: unknown[]; next_page_offset: unknown } };
    points += result.points.length;
    offset = result.next_page_offset;
  } while (offset !== null && offset !== undefined);
  return { seconds: (performance.now() - t0) / 1000, points };
}

interface VerifyJson {
  ok: boolean;
  tables: Record<string, { rows: number; points: number; rechecked: number; topK: { samples: number } }>;
}

/** `vecrelay verify --json`, compiled, sampling its peak RSS (VmHWM) and CPU. */
async function runVerify(config: string, samples: number) {
  const nodeArgs = [...DEPLOYED_NODE_FLAGS];
  if (process.env.BENCH_PROFILE) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`);
  // BENCH_NODE_ARGS="…" adds node options to the verify process (e.g. --trace-gc).
  nodeArgs.push(...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []));
  const t0 = performance.now();
  const proc = startVecrelay(
    ['verify', '--config', config, '--json', '--sample', String(samples)],
    { VECRELAY_LOG_LEVEL: 'warn' },
    nodeArgs,
    compiledEntry,
  );
  const sampler = sampleProcess(proc.child);
  const { code } = await proc.exited;
  const seconds = (performance.now() - t0) / 1000;
  const { peakMb, cpuSeconds } = sampler.stop();
  if (process.env.BENCH_NODE_ARGS) console.log(`verify log: ${proc.logFile}`);
  const out = readFileSync(proc.logFile, 'utf8');
  const line = out.split('\n').find((l) => l.startsWith('{"ok"'));
  if (code !== 0 || !line) throw new Error(`verify exited with ${code}:\n${out.slice(-3000)}`);
  const t = Object.values((JSON.parse(line) as VerifyJson).tables)[0]!;
  if (t.rows !== rows || t.points !== rows)
    throw new Error(`verify read ${t.rows} rows and ${t.points} points, not ${rows}`);
  return { seconds, peakMb, cpuSeconds, table: t };
}

let run: RunningProcess | undefined;
const groupId = sinkGroupId({ name, sink: {} });
try {
  console.log(`Qdrant: ${env.qdrantUrl}${server ? ' (a test server of its own)' : ''}`);
  console.log(`writing ${rows} rows of vector(${dim}) + jsonb to ${table} … (${load()})`);
  await sql.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, doc jsonb, embedding vector(${dim}))`);
  for (let i = 0; i < rows; i += 5000) {
    await sql.query(
      `INSERT INTO ${table}
       SELECT g, jsonb_build_object('title', 'item ' || g, 'tags', jsonb_build_array('a', 'b'), 'n', g),
              (SELECT array_agg(random()::real) FROM generate_series(1, ${dim}) WHERE g > 0)::vector
         FROM generate_series($1::bigint, $2::bigint) g`,
      [i + 1, Math.min(i + 5000, rows)],
    );
  }
  await sql.query(`CREATE PUBLICATION ${name} FOR TABLE ${table}`);

  // The collection, filled by the pipeline itself; `run` keeps running through the measurements.
  const config = writeConfig(
    {
      name,
      slot: name,
      publication: name,
      topicPrefix: name,
      tables: [{ table: `public.${table}`, collection }],
      partitions: 6,
    },
    { qdrant: { url: env.qdrantUrl, ...(env.qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}) } },
  );
  let t0 = performance.now();
  run = startVecrelay(
    ['run', '--config', config],
    { VECRELAY_LOG_LEVEL: 'info' },
    DEPLOYED_NODE_FLAGS,
    compiledEntry,
  );
  const started = run;
  await waitFor(
    'the pipeline to sync every row',
    async () => started.child.exitCode !== null || (await pointCount()) >= rows,
    { timeoutMs: 3_600_000, intervalMs: 500 },
  );
  if (started.child.exitCode !== null)
    throw new Error(
      `run exited with ${started.child.exitCode}:\n${readFileSync(started.logFile, 'utf8').slice(-3000)}`,
    );
  console.log(`synced by vecrelay run in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  // A first read of every point is several times slower on the test server than later ones
  // (30 s vs 5 s for a scroll of 20k points): one untimed scroll first, so neither side pays it.
  await rawScroll();

  // (a) + (b): raw reads of both sides, before verify and again after it (the machine may be
  // shared: the ratio uses their mean).
  const rawRuns: Array<{ pg: number; qdrant: number; both: number }> = [];
  const readRaw = async () => {
    const copy = await rawCopy();
    const pgRate = report(
      'raw Postgres: COPY … ORDER BY id (FORMAT binary)',
      copy.seconds,
      `, ${(copy.bytes / 2 ** 20 / copy.seconds).toFixed(0)} MB/s`,
    );
    const scroll = await rawScroll();
    if (scroll.points !== rows) throw new Error(`the scroll read ${scroll.points} points, not ${rows}`);
    const qdrantRate = report(`raw Qdrant: scroll with vectors, ${page} a page`, scroll.seconds);
    const both = report('raw both: COPY + scroll, one after the other', copy.seconds + scroll.seconds);
    rawRuns.push({ pg: pgRate, qdrant: qdrantRate, both: 1 / both });
  };
  await readRaw();

  // (d) verify, full; then rows and points only.
  const runs = [sample, ...(sample > 0 ? [0] : [])];
  const results: Array<{ samples: number; rate: number; peakMb: number; cpuSeconds: number }> = [];
  for (const s of runs) {
    t0 = performance.now();
    const v = await runVerify(config, s);
    const rate = report(`vecrelay verify --sample ${s}`, v.seconds);
    console.log(
      `${''.padEnd(8)} peak RSS ${v.peakMb.toFixed(0)} MB, CPU ${v.cpuSeconds.toFixed(1)} s, ` +
        `top-k samples ${v.table.topK.samples}, rechecked ${v.table.rechecked}`,
    );
    results.push({ samples: s, rate, peakMb: v.peakMb, cpuSeconds: v.cpuSeconds });
  }
  await readRaw();

  const mean = (f: (r: (typeof rawRuns)[number]) => number) =>
    rawRuns.reduce((sum, r) => sum + f(r), 0) / rawRuns.length;
  // Rates are averaged through their times (seconds per row), as one run's figure is.
  const raw = 1 / mean((r) => r.both);
  console.log(
    `\nraw: Postgres ${rawRuns.map((r) => r.pg.toFixed(0)).join(' / ')} rows/s, ` +
      `Qdrant ${rawRuns.map((r) => r.qdrant.toFixed(0)).join(' / ')} rows/s, ` +
      `both ${rawRuns.map((r) => (1 / r.both).toFixed(0)).join(' / ')} rows/s (mean ${raw.toFixed(0)})`,
  );
  for (const r of results)
    console.log(
      `ratio verify --sample ${r.samples} / raw both: ${(r.rate / raw).toFixed(2)}   ` +
        `peak RSS ${r.peakMb.toFixed(0)} MB   CPU ${r.cpuSeconds.toFixed(1)} s`,
    );
  console.log('(verify times include process start-up (compiled JavaScript, as deployed) and connecting)');
} finally {
  if (run && run.child.exitCode === null) run.child.kill('SIGTERM');
  await run?.exited;
  await dropPipeline(sql, name, name).catch(() => {});
  await sql.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  await sql.end();
  await dropCollection(collection);
  await withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => {});
  await deleteTopicsWithPrefix(name).catch(() => {});
  await server?.stop();
}
