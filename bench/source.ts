// Source benchmark (not a test): the vecrelay source against the raw limits of the same machine.
//   npx tsx bench/source.ts [--rows 100000] [--dim 1536]
// Needs the local stack (npm run stack:up). Prints, on one backlog of `rows` vector(dim) rows with
// a small jsonb payload:
//   streaming: pg_recvlogical (pgoutput, binary) over the WAL   vs  vecrelay slot → Kafka-acknowledged
//   snapshot:  COPY (SELECT …) TO STDOUT (FORMAT binary)          vs  vecrelay snapshot → Kafka-acknowledged
//              and the same COPY → Kafka, each row's bytes one record (bench/copy-to-kafka.ts):
//              what any snapshot into Kafka costs here, with no CDC work
// with rows/s, MB/s, their ratio, and the vecrelay process's peak RSS; also vecrelay's rate after
// its start-up (until the log says it streams / the snapshot of the table starts), the CPU seconds of
// Postgres, the broker and vecrelay in each run, and a check that the topic holds every row.
// Then the cost of whole-row events (tables[].unchangedColumns): `rows` updates in transactions of
// 10 rows, of which 0 %, 10 % or 100 % leave the TOASTed vector unchanged (payload-only: pgoutput
// does not send it, the source reads it back by key), streamed by vecrelay with rows/s and the
// CPU seconds of Postgres, the broker and vecrelay; 100 % once more with unchangedColumns: partial
// (no read-back) for reference. --mix-only skips the insert and snapshot runs, --snapshot-only
// all but the snapshot runs, --stream-only all but the insert streaming run, --skip-mix the update mix.
// The snapshot is chunked and online (streaming runs beside it) and ends at the log line
// 'snapshot of table done'; it runs twice, on the quiet table and while another client updates
// rows (10 random rows every 10 ms), each with the slot's peak retained WAL during it.
// BENCH_SOURCE='{"producers":4}' overrides source.* settings, BENCH_SNAPSHOT='{"chunkRows":5000}'
// snapshot.* settings; BENCH_LOG_LEVEL=debug keeps the source log (its path is printed); BENCH_PROFILE=DIR writes a CPU
// profile of the vecrelay process.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parseLsn } from '../src/source/pgoutput/index.js';
import { startVecrelay, writeConfig } from '../test/helpers/source-process.js';
import { stackDir, stackEnv, uniqueName, waitFor } from '../test/helpers/stack.js';
import { testKafka, withAdmin } from '../test/helpers/kafka.js';
import { processCpuSeconds, sampleProcess, statFields } from './process-stats.js';
import { changeTopic } from '../src/kafka/topics.js';
import { copyToKafka } from './copy-to-kafka.js';
import { buildDeployed, DEPLOYED_NODE_FLAGS } from './deployed.js';
import { hideKafkajsTimerWarning } from '../src/kafka/kafkajs-timer-warning.js';

hideKafkajsTimerWarning(); // the bench's own kafkajs clients

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '1536' },
    'mix-only': { type: 'boolean', default: false },
    'snapshot-only': { type: 'boolean', default: false },
    'stream-only': { type: 'boolean', default: false },
    'skip-mix': { type: 'boolean', default: false },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const env = stackEnv();
const PG_BIN = '/usr/lib/postgresql/15/bin';

// vecrelay runs as deployed: compiled, with the Node flags it is started with (bench/deployed.ts).
const compiledEntry = buildDeployed();

const sql = new pg.Client({ connectionString: env.pgUrl });
await sql.connect();
const table = uniqueName('bench_items');
const name = uniqueName('bench');
const rawSlot = `${name}_raw`;

function report(label: string, seconds: number, bytes?: number) {
  const mb = bytes === undefined ? '' : `, ${(bytes / 2 ** 20 / seconds).toFixed(1)} MB/s`;
  console.log(
    `${label.padEnd(48)} ${(rows / seconds).toFixed(0).padStart(8)} rows/s${mb}  (${seconds.toFixed(2)} s)`,
  );
  return rows / seconds;
}

// CPU seconds over each run, to see where the two cores went: Postgres (the postmaster, its live
// children — walsender, COPY backend — and the children it has reaped) and the Kafka broker.
const stackPids = {
  postgres: Number(readFileSync(path.join(stackDir, 'pg/data/postmaster.pid'), 'utf8').split('\n')[0]),
  kafka: Number(readFileSync(path.join(stackDir, 'kafka/kafka.pid'), 'utf8').trim()),
};
/** utime + stime + reaped children's, in seconds. */
const cpuSeconds = (pid: number) => processCpuSeconds(pid, true);
/** A process and its live children (a child's time moves into the parent's cutime when reaped). */
function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === pid) total += cpuSeconds(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}
function stackCpu(): { postgres: number; kafka: number } {
  return { postgres: treeCpuSeconds(stackPids.postgres), kafka: cpuSeconds(stackPids.kafka) };
}
/** Prints the CPU seconds of Postgres, the broker (and vecrelay) since `before`; returns their sum. */
async function reportCpu(
  label: string,
  before: { postgres: number; kafka: number },
  ours?: number,
): Promise<number> {
  // A backend that just exited is added to the postmaster's children time when reaped: wait.
  await new Promise((r) => setTimeout(r, 300));
  const after = stackCpu();
  const postgres = after.postgres - before.postgres;
  const kafka = after.kafka - before.kafka;
  const parts = [`postgres ${postgres.toFixed(1)} s`, `kafka ${kafka.toFixed(1)} s`];
  if (ours !== undefined) parts.push(`vecrelay ${ours.toFixed(1)} s`);
  console.log(`${label.padEnd(8)} CPU: ${parts.join(', ')}`);
  return postgres + kafka + (ours ?? 0);
}

/**
 * The best ratio to COPY that the CPU a run spent allows on this machine: its processes' CPU
 * seconds (Postgres, the broker, the client) cannot take less wall time than spread evenly over
 * every core; at that time, what fraction of COPY's rate would the run reach.
 */
function reportCpuCeiling(cpuSeconds: number, copySeconds: number) {
  const cores = availableParallelism();
  const wall = cpuSeconds / cores;
  console.log(
    `${''.padEnd(8)} CPU bound: ${cpuSeconds.toFixed(1)} CPU-s on ${cores} cores take ${wall.toFixed(2)} s at least: ` +
      `at most ${(copySeconds / wall).toFixed(2)} of COPY here`,
  );
}

/**
 * Before each timed run: Postgres writes its dirty buffers (CHECKPOINT) and the kernel its dirty
 * pages (sync), so that flushing what the previous step wrote (the backlog, 600+ MB per topic)
 * does not land in the next run's time. Every run, raw or vecrelay, starts from the same state.
 */
async function settle() {
  await sql.query('CHECKPOINT');
  execFileSync('sync');
}

/** The source's log lines (pino JSON: `msg`, `time` in ms since the epoch, fields). */
function logEntries(logFile: string): Array<{ msg?: string; time?: number; [field: string]: unknown }> {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as { msg?: string; time?: number };
      } catch {
        return {};
      }
    });
}

/**
 * Runs vecrelay source until `done` (given the process's log file), sampling its peak RSS (VmHWM)
 * from /proc. With `endedWhen`, the run ends at that log line's time rather than when `done` saw it.
 */
async function runSource(
  config: string,
  startedWhen: string,
  done: (logFile: string) => Promise<boolean>,
  endedWhen?: string,
): Promise<{ seconds: number; startupSeconds: number; peakMb: number; cpuSeconds: number }> {
  const t0 = performance.now();
  const spawnedAt = Date.now();
  // BENCH_PROFILE=DIR writes a CPU profile of the source process there.
  const profile = [...DEPLOYED_NODE_FLAGS];
  if (process.env.BENCH_PROFILE) profile.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`);
  if (process.env.BENCH_NODE_ARGS) profile.push(...process.env.BENCH_NODE_ARGS.split(' '));
  const proc = startVecrelay(
    ['source', '--config', config],
    { VECRELAY_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info' },
    profile,
    compiledEntry,
  );
  const sampler = sampleProcess(proc.child, { reaped: true });
  await waitFor(
    'the source to finish',
    async () => (await done(proc.logFile)) || proc.child.exitCode !== null,
    {
      timeoutMs: 1_800_000,
      intervalMs: 100,
    },
  );
  let seconds = (performance.now() - t0) / 1000;
  const { peakMb, cpuSeconds: cpu } = sampler.stop();
  if (process.env.BENCH_LOG_LEVEL) console.log(`source log: ${proc.logFile} (spawned at ${spawnedAt})`);
  if (proc.child.exitCode !== null && proc.child.exitCode !== 0)
    throw new Error(
      `the source exited with ${proc.child.exitCode}:\n${readFileSync(proc.logFile, 'utf8').slice(-3000)}`,
    );
  proc.child.kill('SIGTERM');
  await proc.exited;
  // Start-up: until the first log line saying work began (pino's `time`, ms since the epoch).
  const entries = logEntries(proc.logFile);
  const began = entries.find((entry) => entry.msg === startedWhen);
  if (!began?.time) throw new Error(`no "${startedWhen}" line in ${proc.logFile}`);
  if (endedWhen) {
    const ended = entries.find((entry) => entry.msg === endedWhen);
    if (!ended?.time) throw new Error(`no "${endedWhen}" line in ${proc.logFile}`);
    seconds = (ended.time - spawnedAt) / 1000;
  }
  return { seconds, startupSeconds: (began.time - spawnedAt) / 1000, peakMb, cpuSeconds: cpu };
}

function reportSteady(run: { seconds: number; startupSeconds: number }) {
  const steady = run.seconds - run.startupSeconds;
  console.log(
    `${''.padEnd(8)} start-up ${run.startupSeconds.toFixed(2)} s; after it ${(rows / steady).toFixed(0)} rows/s`,
  );
  return rows / steady;
}

/** Messages in a pipeline's change topic (each row is one insert or snapshot-read event). */
async function topicMessages(prefix: string): Promise<number> {
  const topic = changeTopic(prefix, 'public', table);
  return withAdmin(async (admin) =>
    (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0),
  );
}

const mixSlots: string[] = [];
const snapSlots: string[] = [];

try {
  await sql.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, doc jsonb, embedding vector(${dim}))`);
  await sql.query(`CREATE PUBLICATION ${name} FOR TABLE ${table}`);
  // Both slots exist before the backlog is written, so both see all of it.
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [rawSlot]);
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [name]);
  console.log(`writing ${rows} rows of vector(${dim}) + jsonb …`);
  for (let i = 0; i < rows; i += 5000) {
    await sql.query(
      `INSERT INTO ${table}
       SELECT g, jsonb_build_object('title', 'item ' || g, 'tags', jsonb_build_array('a', 'b'), 'n', g),
              (SELECT array_agg(random()::real) FROM generate_series(1, ${dim}) WHERE g > 0)::vector
         FROM generate_series($1::bigint, $2::bigint) g`,
      [i + 1, Math.min(i + 5000, rows)],
    );
  }
  const { rows: endRows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
  const endLsn = endRows[0]!.lsn;
  console.log(`backlog ready up to ${endLsn}\n`);
  if (!args['mix-only']) await insertsAndSnapshot(endLsn);
  if (!args['snapshot-only'] && !args['stream-only'] && !args['skip-mix']) await updateMix();
} finally {
  for (const s of [rawSlot, name, ...snapSlots, ...mixSlots])
    await sql
      .query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [s])
      .catch(() => {});
  await sql.query(`DROP PUBLICATION IF EXISTS ${name}`).catch(() => {});
  await sql.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
  const admin = testKafka().admin();
  await admin.connect();
  await admin
    .deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(name)) })
    .catch(() => {});
  await admin.disconnect();
  await sql.end();
}

/** The pipeline config of one streaming run from `slot` into topics under `prefix`. */
function pipelineOf(slot: string, prefix: string, unchangedColumns: 'reselect' | 'partial' = 'reselect') {
  return {
    name: slot,
    slot,
    publication: name,
    topicPrefix: prefix,
    tables: [{ table: `public.${table}`, unchangedColumns }],
    snapshot: 'never' as const,
    partitions: 6,
    source: JSON.parse(process.env.BENCH_SOURCE ?? '{}') as Record<string, number>,
  };
}

async function streamUntil(slot: string, lsn: string) {
  const target = parseLsn(lsn);
  const { rows: s } = await sql.query<{ c: string }>(
    `SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  return parseLsn(s[0]!.c) >= target;
}

/** Whole-row events: the cost of reading back unchanged vectors, at 0, 10 and 100 % payload-only updates. */
async function updateMix() {
  const runs: Array<{ pct: number; mode: 'reselect' | 'partial' }> = [
    // partial first, then reselect: an order effect (the broker warming up, say) would favour reselect.
    { pct: 100, mode: 'partial' },
    { pct: 0, mode: 'reselect' },
    { pct: 10, mode: 'reselect' },
    { pct: 100, mode: 'reselect' },
  ];
  const perTx = 10;
  for (const { pct, mode } of runs) {
    const slot = `${name}_u${pct}_${mode}`;
    mixSlots.push(slot);
    await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    // Row id is payload-only when id % 10 < pct / 10; `SET embedding = embedding` keeps the TOAST
    // pointer, which pgoutput sends as unchanged. The others get a new random (incompressible,
    // so TOASTed out of line) vector.
    for (let first = 1; first <= rows; first += perTx) {
      const vector = `[${Array.from({ length: dim }, () => Math.random().toFixed(6)).join(',')}]`;
      await sql.query(
        `UPDATE ${table} SET doc = doc || jsonb_build_object('v', $3::int),
           embedding = CASE WHEN id % 10 < $4 THEN embedding ELSE $5::vector END
         WHERE id BETWEEN $1 AND $2`,
        [first, first + perTx - 1, first, pct / 10, vector],
      );
    }
    const { rows: end } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_lsn()::text AS lsn`);
    const prefix = `${name}_m${pct}${mode[0]}`;
    await settle();
    const before = stackCpu();
    const run = await runSource(writeConfig(pipelineOf(slot, prefix, mode)), 'streaming from the slot', () =>
      streamUntil(slot, end[0]!.lsn),
    );
    report(`updates ${String(pct).padStart(3)} % payload-only, ${mode}`, run.seconds);
    reportSteady(run);
    await reportCpu('', before, run.cpuSeconds);
    const events = await topicMessages(prefix);
    if (events !== rows) throw new Error(`the change topic holds ${events} messages, not ${rows}`);
  }
}

async function insertsAndSnapshot(endLsn: string) {
  if (!args['snapshot-only']) await streaming(endLsn);
  if (!args['stream-only']) await snapshot();
}

/** The same settings for the streaming and the snapshot runs. */
function basePipeline() {
  return {
    name,
    slot: name,
    publication: name,
    topicPrefix: name,
    tables: [{ table: `public.${table}` }],
    snapshot: 'never' as const,
    partitions: 6,
    source: JSON.parse(process.env.BENCH_SOURCE ?? '{}') as Record<string, number>,
  };
}

async function streaming(endLsn: string) {
  // (a) raw: pg_recvlogical, binary pgoutput, to a file until the end of the backlog.
  const out = path.join(mkdtempSync(path.join(tmpdir(), 'bench-')), 'raw.bin');
  await settle();
  let cpuBefore = stackCpu();
  const t0 = performance.now();
  execFileSync(`${PG_BIN}/pg_recvlogical`, [
    '-h',
    env.pg.host,
    '-p',
    String(env.pg.port),
    '-U',
    env.pg.user,
    '-d',
    env.pg.database,
    '--slot',
    rawSlot,
    '--start',
    '--endpos',
    endLsn,
    '--no-loop',
    '-f',
    out,
    '-o',
    'proto_version=1',
    '-o',
    `publication_names=${name}`,
    '-o',
    'binary=true',
  ]);
  const rawSeconds = (performance.now() - t0) / 1000;
  const walBytes = statSync(out).size;
  rmSync(path.dirname(out), { recursive: true, force: true });
  const raw = report('stream  raw: pg_recvlogical binary', rawSeconds, walBytes);
  await reportCpu('', cpuBefore);

  // (b) vecrelay source, streaming only (the slot already exists), until Postgres confirms the end.
  const p = basePipeline();
  const target = parseLsn(endLsn);
  await settle();
  cpuBefore = stackCpu();
  const streamRun = await runSource(writeConfig(p), 'streaming from the slot', async () => {
    const { rows: s } = await sql.query<{ c: string }>(
      `SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots WHERE slot_name = $1`,
      [name],
    );
    return parseLsn(s[0]!.c) >= target;
  });
  const ours = report('stream  vecrelay: slot → Kafka acknowledged', streamRun.seconds, walBytes);
  const oursSteady = reportSteady(streamRun);
  await reportCpu('', cpuBefore, streamRun.cpuSeconds);
  const streamed = await topicMessages(name);
  if (streamed !== rows) throw new Error(`the change topic holds ${streamed} messages, not ${rows}`);
  console.log(
    `stream  ratio vecrelay / raw: ${(ours / raw).toFixed(2)} (${(oursSteady / raw).toFixed(2)} after start-up)` +
      `   peak RSS ${streamRun.peakMb.toFixed(0)} MB\n`,
  );
}

async function snapshot() {
  // (c) raw snapshot: binary COPY to nowhere.
  const copyClient = new pg.Client({ connectionString: env.pgUrl });
  await copyClient.connect();
  await settle();
  const cpuBefore = stackCpu();
  const t0 = performance.now();
  let copyBytes = 0;
  const copy = copyClient.query(
    copyTo(`COPY (SELECT id, doc, embedding FROM ${table}) TO STDOUT (FORMAT binary)`),
  );
  for await (const chunk of copy as AsyncIterable<Buffer>) copyBytes += chunk.length;
  const copySeconds = (performance.now() - t0) / 1000;
  await copyClient.end();
  const rawSnap = report('snapshot raw: COPY … (FORMAT binary)', copySeconds, copyBytes);
  await reportCpu('', cpuBefore);

  // (c') the floor of any snapshot into Kafka here: the same COPY, each row's bytes one record,
  // through vecrelay's Kafka client and settings (bench/copy-to-kafka.ts).
  const floorTopic = `${name}_floor`;
  await withAdmin((admin) =>
    admin.createTopics({
      topics: [{ topic: floorTopic, numPartitions: 6, replicationFactor: 1 }],
      waitForLeaders: true,
    }),
  );
  const source = JSON.parse(process.env.BENCH_SOURCE ?? '{}') as {
    producers?: number;
    requestMaxBytes?: number;
    batchMaxBytes?: number;
  };
  await settle();
  const floorCpuBefore = stackCpu();
  const benchCpuBefore = process.cpuUsage();
  const floor = await copyToKafka({
    pgUrl: env.pgUrl,
    select: `SELECT id, doc, embedding FROM ${table}`,
    brokers: env.kafkaBrokers,
    topic: floorTopic,
    partitions: 6,
    producers: source.producers ?? 2,
    requestBytes: source.requestMaxBytes ?? 4 * 2 ** 20,
    batchBytes: source.batchMaxBytes ?? 900_000,
  });
  const benchCpu = process.cpuUsage(benchCpuBefore);
  if (floor.rows !== rows) throw new Error(`COPY → Kafka sent ${floor.rows} rows, not ${rows}`);
  const rawFloor = report('snapshot raw: the same COPY → Kafka, a record a row', floor.seconds, floor.bytes);
  const floorStackCpu = await reportCpu('', floorCpuBefore);
  const clientCpu = (benchCpu.user + benchCpu.system) / 1e6;
  console.log(
    `${''.padEnd(8)} client CPU ${clientCpu.toFixed(1)} s; ratio to COPY: ${(rawFloor / rawSnap).toFixed(2)}`,
  );
  reportCpuCeiling(floorStackCpu + clientCpu, copySeconds);
  await withAdmin((admin) => admin.deleteTopics({ topics: [floorTopic] })).catch(() => {});

  // (d) vecrelay snapshot, on a quiet table, then (e) again while another client updates rows.
  await vecrelaySnapshot(`${name}_snap`, rawSnap, copySeconds, copyBytes, false, rawFloor);
  await vecrelaySnapshot(`${name}_snapw`, rawSnap, copySeconds, copyBytes, true, rawFloor);
  console.log('(vecrelay times include process start-up (compiled JavaScript, as deployed) and preflight)');
}

/**
 * vecrelay's snapshot: chunked and online (src/source/snapshot/), streaming from a slot of its own
 * all along; done at the log line 'snapshot of table done' (every chunk acknowledged by Kafka and
 * recorded). The slot's retained WAL (current position − restart_lsn) is sampled meanwhile: the
 * snapshot must not pin it. With `writes`, another client updates 10 random rows (new vectors)
 * every 10 ms until the snapshot is done.
 */
async function vecrelaySnapshot(
  snapName: string,
  rawSnap: number,
  copySeconds: number,
  copyBytes: number,
  writes: boolean,
  rawFloor: number,
) {
  const q = {
    ...basePipeline(),
    name: snapName,
    slot: snapName,
    topicPrefix: snapName,
    snapshot: { mode: 'initial' as const, ...(JSON.parse(process.env.BENCH_SNAPSHOT ?? '{}') as object) },
  };
  snapSlots.push(snapName);
  await settle();
  const cpuBefore = stackCpu();
  let peakRetained = 0;
  const writer = writes ? startWriter() : undefined;
  const snapRun = await runSource(
    writeConfig(q),
    'snapshot of table starts',
    async (logFile) => {
      const { rows: r } = await sql.query<{ retained: string | null }>(
        `SELECT (pg_current_wal_lsn() - restart_lsn)::bigint::text AS retained
           FROM pg_replication_slots WHERE slot_name = $1`,
        [snapName],
      );
      peakRetained = Math.max(peakRetained, Number(r[0]?.retained ?? 0));
      return logEntries(logFile).some((e) => e.msg === 'snapshot of table done');
    },
    'snapshot of table done',
  );
  const written = await writer?.stop();
  const label = writes
    ? 'snapshot vecrelay, rows updated meanwhile'
    : 'snapshot vecrelay: chunks → Kafka acknowledged';
  const oursSnap = report(label, snapRun.seconds, copyBytes);
  const oursSnapSteady = reportSteady(snapRun);
  const snapCpu = await reportCpu('', cpuBefore, snapRun.cpuSeconds);
  if (!writes) reportCpuCeiling(snapCpu, copySeconds); // (the writer's load would count too)
  if (written)
    console.log(
      `${''.padEnd(8)} meanwhile ${written.rows} rows updated (${(written.rows / written.seconds).toFixed(0)} rows/s), ` +
        `${(written.walBytes / 2 ** 20 / written.seconds).toFixed(1)} MB/s of WAL`,
    );
  const messages = await topicMessages(snapName);
  // Quiet: one snapshot event per row. With writes, a row changed while its chunk was read is
  // left out of the chunk (its update events are newer): at least one event per row.
  if (writes ? messages < rows : messages !== rows)
    throw new Error(`the snapshot topic holds ${messages} messages for ${rows} rows`);
  console.log(
    `snapshot ratio vecrelay / raw${writes ? ' (with writes)' : ''}: ${(oursSnap / rawSnap).toFixed(2)} (${(oursSnapSteady / rawSnap).toFixed(2)} after start-up)` +
      `   peak RSS ${snapRun.peakMb.toFixed(0)} MB   peak retained WAL of the slot ${(peakRetained / 2 ** 20).toFixed(1)} MB`,
  );
  console.log(
    `${''.padEnd(8)} vs COPY → Kafka: ${(oursSnap / rawFloor).toFixed(2)} (${(oursSnapSteady / rawFloor).toFixed(2)} after start-up)`,
  );
}

/** Updates 10 random rows (a new vector each time) every 10 ms until stopped. */
function startWriter() {
  const client = new pg.Client({ connectionString: env.pgUrl });
  let stopping = false;
  let updated = 0;
  const t0 = performance.now();
  const lsn = async () =>
    BigInt(
      (await client.query<{ b: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::bigint::text AS b`)).rows[0]!
        .b,
    );
  const loop = (async () => {
    await client.connect();
    const from = await lsn();
    for (let n = 0; !stopping; n++) {
      const ids = Array.from({ length: 10 }, () => 1 + Math.floor(Math.random() * rows));
      const r = await client.query(
        `UPDATE ${table} SET doc = doc || jsonb_build_object('w', $1::int),
           embedding = (SELECT array_agg(random()::real) FROM generate_series(1, ${dim}))::vector
         WHERE id = ANY($2::bigint[])`,
        [n, ids],
      );
      updated += r.rowCount ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return Number((await lsn()) - from);
  })();
  return {
    async stop() {
      stopping = true;
      const walBytes = await loop;
      await client.end();
      return { rows: updated, seconds: (performance.now() - t0) / 1000, walBytes };
    },
  };
}
