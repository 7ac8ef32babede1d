// Sink benchmark (not a test): `vecrelay sink` against the raw ingest limit of the same Qdrant.
//   npx tsx bench/sink.ts [--rows 100000] [--dim 1536] [--partitions 6] [--tune-rows 6000]
//                         [--batch B --concurrency C]   (skip the baseline's tuning)
//                         [--raw-after 0]               (no second raw run after the sink's)
// Needs the local stack (npm run stack:up); Qdrant is QDRANT_URL when set, else the stack's test
// server. On one topic backlog of `rows` events of vector(dim) + a small payload, written straight
// to Kafka in the source's message format (Avro value, canonical key, murmur2 partition, table
// descriptor in <prefix>._tables), it prints rows/s of
//   (a) raw: the same points upserted with @qdrant/js-client-rest (wait=true, number[] vectors) at
//       its best batch size × concurrency (tuned on the first --tune-rows rows, then run on all);
//   (b) vecrelay sink: the real process, from Kafka to Qdrant-acknowledged (until the collection
//       holds every point), with its peak RSS (VmHWM);
// and their ratio. BENCH_PROFILE=DIR writes a CPU profile of the sink process there.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { QdrantClient } from '@qdrant/js-client-rest';
import type { Producer } from 'kafkajs';
import { encodeEvent } from '../src/event/avro.js';
import { SCHEMA_HEADER, SCHEMA_VERSION } from '../src/event/versions.js';
import type { ChangeEvent } from '../src/event/change-event.js';
import { keyBytes } from '../src/event/key.js';
import { tablesTopic, type TableDescriptor } from '../src/event/table-descriptor.js';
import { partitionFor } from '../src/kafka/partition.js';
import { changeTopic } from '../src/kafka/topics.js';
import { sinkGroupId } from '../src/sink/sink.js';
import { LSN_FIELD } from '../src/sink/qdrant/points.js';
import { testKafka } from '../test/helpers/kafka.js';
import { dropCollection, qdrantRequest } from '../test/helpers/qdrant.js';
import { startVecrelay, writeConfig } from '../test/helpers/source-process.js';
import { stackDir, stackEnv, uniqueName, waitFor } from '../test/helpers/stack.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '1536' },
    partitions: { type: 'string', default: '6' },
    'tune-rows': { type: 'string' },
    batch: { type: 'string' },
    concurrency: { type: 'string' },
    'raw-after': { type: 'string', default: '1' },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const partitions = Number(args.partitions);
const tuneRows = Math.min(rows, Number(args['tune-rows'] ?? 6000));
const env = stackEnv();

const name = uniqueName('bsink');
const schema = 'public';
const table = 'items';
const topic = changeTopic(name, schema, table);
const rawCollection = `${name}_raw`;
const sinkCollection = `${name}_sink`;
const LSN0 = 0x1_0000_0000n;

// --- the rows: generated from their id, so both sides see the same points without holding them --

/** Row i (0-based): id i+1, a deterministic vector in [-1, 1), and a small payload. */
function vectorOf(i: number): Float32Array {
  const v = new Float32Array(dim);
  let s = (Math.imul(i + 1, 0x9e3779b1) ^ 0x5bd1e995) >>> 0 || 1;
  for (let k = 0; k < dim; k++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[k] = (s >>> 0) / 2 ** 31 - 1;
  }
  return v;
}
const docOf = (i: number) => ({ tags: ['a', 'b'], n: i });

function eventOf(i: number): ChangeEvent {
  return {
    op: 'r',
    source: {
      lsn: LSN0,
      xid: 0,
      commitTimeMicros: 1_700_000_000_000_000n,
      schema,
      table,
      snapshot: true,
      seq: 0,
    },
    key: { id: BigInt(i + 1) },
    values: { title: `item ${i}`, doc: { kind: 'json', json: JSON.stringify(docOf(i)) }, n: BigInt(i) },
    vectors: { embedding: { kind: 'dense', values: vectorOf(i), half: false } },
    unchanged: [],
  };
}

/** The point the sink writes for row i, as the JS client takes it. */
function pointOf(i: number) {
  return {
    id: i + 1,
    vector: Array.from(vectorOf(i)),
    payload: { title: `item ${i}`, doc: docOf(i), n: i, [LSN_FIELD]: Number(LSN0) },
  };
}

const descriptor: TableDescriptor = {
  schema,
  table,
  topic,
  key: [{ name: 'id', type: 'int8' }],
  vectors: [{ name: 'embedding', kind: 'vector', dimension: dim, distance: 'Cosine', hnsw: null }],
  payload: ['title', 'doc', 'n'],
};

// --- helpers -------------------------------------------------------------------------------------

function report(label: string, n: number, seconds: number): number {
  console.log(
    `${label.padEnd(52)} ${(n / seconds).toFixed(0).padStart(7)} rows/s  (${seconds.toFixed(2)} s)`,
  );
  return n / seconds;
}

/** The backlog: `rows` events in the source's message format, ≤ ~600 KB per partition per send. */
async function produceBacklog(producer: Producer) {
  const chunk = 100 * partitions;
  const headers = { [SCHEMA_HEADER]: String(SCHEMA_VERSION) }; // as the source writes events
  const inFlight: Array<Promise<unknown>> = [];
  for (let start = 0; start < rows; start += chunk) {
    const messages = [];
    for (let i = start; i < Math.min(start + chunk, rows); i++) {
      const e = eventOf(i);
      const key = keyBytes(['id'], e.key);
      messages.push({ key, value: encodeEvent(e), partition: partitionFor(topic, key, partitions), headers });
    }
    inFlight.push(producer.send({ topic, acks: -1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

async function pointCount(collection: string): Promise<number> {
  const { status, result } = await qdrantRequest<{ count: number }>(
    'POST',
    `/collections/${collection}/points/count`,
    { exact: true },
  );
  return status === 200 ? result.count : 0;
}

const qdrant = new QdrantClient({
  url: env.qdrantUrl,
  apiKey: env.qdrantApiKey,
  checkCompatibility: false,
  timeout: 600_000,
});

/** A fresh collection configured as the sink creates it (Cosine, the LSN payload index). */
async function freshCollection(collection: string) {
  await dropCollection(collection);
  await qdrant.createCollection(collection, { vectors: { size: dim, distance: 'Cosine' } });
  await qdrant.createPayloadIndex(collection, { field_name: LSN_FIELD, field_schema: 'integer', wait: true });
}

/** Upserts rows [0, n) with the JS client: `concurrency` workers, each `batch` points a request. */
async function rawUpsert(n: number, batch: number, concurrency: number) {
  await freshCollection(rawCollection);
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const start = next;
        if (start >= n) return;
        next = Math.min(start + batch, n);
        const points = [];
        for (let i = start; i < next; i++) points.push(pointOf(i));
        await qdrant.upsert(rawCollection, { wait: true, points });
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const count = await pointCount(rawCollection);
  if (count !== n) throw new Error(`raw: ${count} points after upserting ${n}`);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** utime + stime of a process (all its threads), from /proc/PID/stat. */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks: USER_HZ is 100 on Linux
}

/** The stack's Qdrant test server's CPU use from now on (null with QDRANT_URL or no pid file). */
function serverCpu() {
  let pid = 0;
  try {
    if (!env.qdrantIsReal)
      pid = Number(readFileSync(path.join(stackDir, 'qdrant-test-server', 'server.pid'), 'utf8'));
  } catch {
    /* not known */
  }
  const start = pid ? processCpuSeconds(pid) : 0;
  return {
    /** Fraction of `seconds` the server spent on a CPU. */
    busy: (seconds: number): number | null => (pid ? (processCpuSeconds(pid) - start) / seconds : null),
  };
}

/** Runs `vecrelay sink` until the collection holds every row, sampling its peak RSS (VmHWM). */
async function runSink(config: string, groupId: string) {
  const profile = process.env.BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`]
    : [];
  // BENCH_NODE_ARGS="…" adds node options to the sink process (e.g. --import a memory logger).
  profile.push(...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []));
  const t0 = performance.now();
  const proc = startVecrelay(['sink', '--config', config], { VECRELAY_LOG_LEVEL: 'info' }, profile);
  let peakKb = 0;
  let cpuSeconds = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
      cpuSeconds = processCpuSeconds(proc.child.pid!);
    } catch {
      /* exited */
    }
  }, 100);
  let firstPoint: number | undefined;
  try {
    await waitFor(
      'the sink to write every point',
      async () => {
        if (proc.child.exitCode !== null) return true;
        const count = await pointCount(sinkCollection);
        if (count > 0 && firstPoint === undefined) firstPoint = performance.now();
        return count >= rows;
      },
      { timeoutMs: 3_600_000, intervalMs: 200 },
    );
    const seconds = (performance.now() - t0) / 1000;
    if (proc.child.exitCode !== null)
      throw new Error(
        `the sink exited with ${proc.child.exitCode}:\n${readFileSync(proc.logFile, 'utf8').slice(-3000)}`,
      );
    // Not timed: the offsets past the last batch are committed right after Qdrant's ack.
    const admin = testKafka().admin();
    await admin.connect();
    const committed = await waitFor('the sink to commit every offset', async () => {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = offsets!.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      return total >= rows ? total : false;
    });
    await admin.disconnect();
    return {
      seconds,
      steadySeconds: firstPoint === undefined ? seconds : (performance.now() - firstPoint) / 1000,
      committed,
      peakMb: peakKb / 1024,
      cpuSeconds,
      proc,
    };
  } finally {
    clearInterval(sample);
    if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
    await proc.exited;
    if (process.env.BENCH_NODE_ARGS) console.log(`sink log: ${proc.logFile}`);
  }
}

// --- the run -------------------------------------------------------------------------------------

const kafka = testKafka();
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
const pipeline = {
  name,
  slot: name,
  publication: name,
  topicPrefix: name,
  tables: [{ table: `${schema}.${table}`, collection: sinkCollection }],
  partitions,
};
const config = writeConfig(pipeline, {
  qdrant: { url: env.qdrantUrl, ...(env.qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}) },
});
const groupId = sinkGroupId({ name, sink: {} } as Parameters<typeof sinkGroupId>[0]);
try {
  // --- the backlog
  console.log(`Qdrant: ${env.qdrantUrl}${env.qdrantIsReal ? '' : ' (test server)'}`);
  console.log(`writing ${rows} events of vector(${dim}) + payload to ${topic} (${partitions} partitions) …`);
  const t0 = performance.now();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
      {
        topic: tablesTopic(name),
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  await producer.send({
    topic: tablesTopic(name),
    acks: -1,
    messages: [{ key: `${schema}.${table}`, value: JSON.stringify(descriptor) }],
  });
  await produceBacklog(producer);
  console.log(`backlog ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  // --- (a) raw: tune batch × concurrency on a prefix, then the best on every row
  let best: { batch: number; concurrency: number; rate: number } | undefined;
  if (args.batch && args.concurrency) {
    best = { batch: Number(args.batch), concurrency: Number(args.concurrency), rate: 0 };
  } else {
    console.log(`raw: tuning on ${tuneRows} rows`);
    for (const batch of [64, 128, 256])
      for (const concurrency of [1, 2, 4]) {
        const { seconds } = await rawUpsert(tuneRows, batch, concurrency);
        const rate = report(`  batch ${batch} × concurrency ${concurrency}`, tuneRows, seconds);
        if (!best || rate > best.rate) best = { batch, concurrency, rate };
      }
  }
  // The machine may be shared: the raw run is repeated after the sink's (--raw-after 0 to skip),
  // and the ratio uses their mean; the Qdrant test server's CPU shows how busy it was kept.
  const rawLabel = `raw: js-client upsert, batch ${best!.batch} × concurrency ${best!.concurrency}`;
  const rawRuns: Array<{ seconds: number; cpuSeconds: number; serverBusy: number | null }> = [];
  const runRaw = async () => {
    const server = serverCpu();
    const r = await rawUpsert(rows, best!.batch, best!.concurrency);
    rawRuns.push({ ...r, serverBusy: server.busy(r.seconds) });
    report(rawLabel, rows, r.seconds);
    await dropCollection(rawCollection); // the test server keeps points in memory
  };
  await runRaw();

  // --- (b) vecrelay sink
  const server = serverCpu();
  const run = await runSink(config, groupId);
  const sinkServerBusy = server.busy(run.seconds);
  const ours = report('vecrelay sink: Kafka → Qdrant acknowledged', rows, run.seconds);
  report('  from its first point on (start-up excluded)', rows, run.steadySeconds);
  await dropCollection(sinkCollection);

  if (args['raw-after'] !== '0') await runRaw();
  const raw = rows / (rawRuns.reduce((sum, r) => sum + r.seconds, 0) / rawRuns.length);
  const busy = (b: number | null) => (b === null ? '' : `, test server ${(b * 100).toFixed(0)}% busy`);
  console.log(
    `\nraw ${rawRuns.map((r) => (rows / r.seconds).toFixed(0)).join(' / ')} rows/s (mean ${raw.toFixed(0)})` +
      rawRuns.map((r) => busy(r.serverBusy)).join(''),
  );
  console.log(
    `ratio vecrelay / raw: ${(ours / raw).toFixed(2)} (${(rows / run.steadySeconds / raw).toFixed(2)} start-up excluded)` +
      `${busy(sinkServerBusy)}   sink peak RSS ${run.peakMb.toFixed(0)} MB   committed ${run.committed} offsets`,
  );
  const rawCpu = rawRuns.reduce((sum, r) => sum + r.cpuSeconds, 0) / rawRuns.length;
  console.log(
    `client CPU per 1000 rows: raw ${((rawCpu / rows) * 1000).toFixed(2)} s (this process), ` +
      `vecrelay sink ${((run.cpuSeconds / rows) * 1000).toFixed(2)} s (the whole process, start-up included)`,
  );
  console.log('(the sink time includes process start-up, reading the table descriptor, and group join)');
} finally {
  await producer.disconnect().catch(() => {});
  await dropCollection(rawCollection);
  await dropCollection(sinkCollection);
  await admin.deleteGroups([groupId]).catch(() => {});
  await admin
    .deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`)) })
    .catch(() => {});
  await admin.disconnect();
}
