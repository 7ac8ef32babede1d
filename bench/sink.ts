// Sink benchmark (not a test): `vecrelay sink` over REST and over gRPC against the raw ingest
// limit of the same Qdrant, reached with the clients users would pick.
//   npx tsx bench/sink.ts [--rows 100000] [--dim 1536] [--partitions 6] [--tune-rows 6000]
//                         [--batch B --concurrency C]   (skip the baselines' tuning)
//                         [--raw-after 0]               (no second raw runs after the sinks')
//                         [--transports rest,grpc]      (the sink runs)
//                         [--sink-batch N --sink-partitions N] (sink.batchSize, partitionsConsumedConcurrently)
// Needs the local stack (npm run stack:up); Qdrant is QDRANT_URL + QDRANT_GRPC_URL when set, else
// the stack's test server when it serves gRPC, else a test server the bench starts (REST + gRPC).
// On one topic backlog of `rows` events of vector(dim) + a small payload, written straight to
// Kafka in the source's message format (Avro value, canonical key, murmur2 partition, table
// descriptor in <prefix>._tables), it prints rows/s of
//   (a) raw REST: the points upserted with @qdrant/js-client-rest (wait=true, number[] vectors),
//   (b) raw gRPC: the same with @qdrant/js-client-grpc (wait=true, number[] vectors, uncompressed),
//       each at its best batch size × concurrency (tuned on the first --tune-rows rows);
//   (c) vecrelay sink, qdrant.transport rest and grpc: the real process, from Kafka to
//       Qdrant-acknowledged (until the collection holds every point), with its peak RSS (VmHWM);
// their ratios, and client CPU per 1,000 rows. BENCH_PROFILE=DIR writes CPU profiles of the sinks.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
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
import { startVecrelay, writeConfig } from '../test/helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../test/helpers/stack.js';
import { benchQdrant, processCpu, rawUpsert, type RawClient } from './sink-clients.js';
import { buildDeployed, DEPLOYED_NODE_FLAGS } from './deployed.js';
import { sampleProcess } from './process-stats.js';
import { hideKafkajsTimerWarning } from '../src/kafka/kafkajs-timer-warning.js';

hideKafkajsTimerWarning(); // the bench's own kafkajs clients

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '1536' },
    partitions: { type: 'string', default: '6' },
    'tune-rows': { type: 'string' },
    batch: { type: 'string' },
    concurrency: { type: 'string' },
    'raw-after': { type: 'string', default: '1' },
    transports: { type: 'string', default: 'rest,grpc' },
    'sink-batch': { type: 'string' },
    'sink-partitions': { type: 'string' },
  },
});
const rows = Number(args.rows);
const dim = Number(args.dim);
const partitions = Number(args.partitions);
const tuneRows = Math.min(rows, Number(args['tune-rows'] ?? 6000));
const env = stackEnv();
// vecrelay runs as deployed: compiled, with the Node flags it is started with (bench/deployed.ts).
const compiledEntry = buildDeployed();

const name = uniqueName('bsink');
const schema = 'public';
const table = 'items';
const topic = changeTopic(name, schema, table);
const rawCollection = `${name}_raw`;
const sinkCollection = (transport: string) => `${name}_sink_${transport}`;
const transports = args.transports.split(',') as Array<'rest' | 'grpc'>;
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

const q = await benchQdrant(env);

const { count: pointCount, drop: dropCollection } = q;
/** A fresh collection configured as the sink creates it (Cosine, the LSN payload index). */
const freshCollection = (collection: string) => q.fresh(collection, dim, LSN_FIELD);

/** Rows [0, n) upserted into a fresh collection with a raw client; checks they all arrived. */
async function rawRun(client: RawClient, n: number, batch: number, concurrency: number) {
  await freshCollection(rawCollection);
  const r = await rawUpsert(q, client, rawCollection, pointOf, n, batch, concurrency);
  const count = await pointCount(rawCollection);
  if (count !== n) throw new Error(`raw ${client}: ${count} points after upserting ${n}`);
  await dropCollection(rawCollection); // the test server keeps points in memory
  return r;
}

const serverCpu = () => processCpu(q.pid);

/** Runs `vecrelay sink` until the collection holds every row, sampling its peak RSS (VmHWM). */
async function runSink(config: string, groupId: string, collection: string) {
  const profile = [...DEPLOYED_NODE_FLAGS];
  if (process.env.BENCH_PROFILE) profile.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`);
  // BENCH_NODE_ARGS="…" adds node options to the sink process (e.g. --import a memory logger).
  profile.push(...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []));
  const t0 = performance.now();
  const proc = startVecrelay(
    ['sink', '--config', config],
    { VECRELAY_LOG_LEVEL: 'info' },
    profile,
    compiledEntry,
  );
  const sampler = sampleProcess(proc.child);
  let firstPoint: number | undefined;
  try {
    await waitFor(
      'the sink to write every point',
      async () => {
        if (proc.child.exitCode !== null) return true;
        const count = await pointCount(collection);
        if (count > 0 && firstPoint === undefined) firstPoint = performance.now();
        return count >= rows;
      },
      { timeoutMs: 3_600_000, intervalMs: 200 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const { peakMb, cpuSeconds } = sampler.stop();
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
      peakMb,
      cpuSeconds,
      proc,
    };
  } finally {
    sampler.stop();
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
const pipeline = (transport: string) => ({
  name,
  slot: name,
  publication: name,
  topicPrefix: name,
  tables: [{ table: `${schema}.${table}`, collection: sinkCollection(transport) }],
  partitions,
});
const groupOf = (transport: string) =>
  `${sinkGroupId({ name, sink: {} } as Parameters<typeof sinkGroupId>[0])}-${transport}`;
const configOf = (transport: 'rest' | 'grpc') =>
  writeConfig(pipeline(transport), {
    qdrant: {
      url: q.url,
      transport,
      grpcUrl: q.grpcUrl,
      ...(q.apiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
    },
    sink: {
      groupId: groupOf(transport),
      ...(args['sink-batch'] ? { batchSize: Number(args['sink-batch']) } : {}),
      ...(args['sink-partitions'] ? { partitionsConsumedConcurrently: Number(args['sink-partitions']) } : {}),
    },
  });
const perK = (cpuSeconds: number) => `${((cpuSeconds / rows) * 1000).toFixed(3)} s`;
try {
  // --- the backlog
  console.log(`Qdrant: REST ${q.url}, gRPC ${q.grpcUrl}${env.qdrantIsReal ? '' : ' (test server)'}`);
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

  // --- (a, b) raw clients: tune batch × concurrency on a prefix, then the best on every row.
  // The machine may be shared: each raw run is repeated after the sinks' (--raw-after 0 to skip),
  // and ratios use their mean; the Qdrant test server's CPU shows how busy it was kept.
  const raws = new Map<
    RawClient,
    {
      label: string;
      batch: number;
      concurrency: number;
      runs: Array<{ seconds: number; cpuSeconds: number; busy: number | null }>;
    }
  >();
  for (const client of ['rest', 'grpc'] as const) {
    let best: { batch: number; concurrency: number; rate: number } | undefined;
    if (args.batch && args.concurrency) {
      best = { batch: Number(args.batch), concurrency: Number(args.concurrency), rate: 0 };
    } else {
      console.log(`raw ${client}: tuning on ${tuneRows} rows`);
      for (const batch of [64, 128, 256])
        for (const concurrency of [1, 2, 4]) {
          const { seconds } = await rawRun(client, tuneRows, batch, concurrency);
          const rate = report(`  batch ${batch} × concurrency ${concurrency}`, tuneRows, seconds);
          if (!best || rate > best.rate) best = { batch, concurrency, rate };
        }
    }
    raws.set(client, {
      label: `raw ${client}: js-client-${client} upsert, batch ${best!.batch} × ${best!.concurrency}`,
      ...best!,
      runs: [],
    });
  }
  const runRaw = async (client: RawClient) => {
    const r = raws.get(client)!;
    const server = serverCpu();
    const run = await rawRun(client, rows, r.batch, r.concurrency);
    r.runs.push({ ...run, busy: server.busy(run.seconds) });
    report(r.label, rows, run.seconds);
  };
  for (const client of raws.keys()) await runRaw(client);

  // --- (c) vecrelay sink, on each transport
  const sinks = new Map<
    string,
    {
      rate: number;
      steady: number;
      busy: number | null;
      peakMb: number;
      cpuSeconds: number;
      committed: number;
    }
  >();
  for (const transport of transports) {
    const server = serverCpu();
    const run = await runSink(configOf(transport), groupOf(transport), sinkCollection(transport));
    const busy = server.busy(run.seconds);
    const rate = report(`vecrelay sink (${transport}): Kafka → Qdrant acknowledged`, rows, run.seconds);
    const steady = report('  from its first point on (start-up excluded)', rows, run.steadySeconds);
    sinks.set(transport, {
      rate,
      steady,
      busy,
      peakMb: run.peakMb,
      cpuSeconds: run.cpuSeconds,
      committed: run.committed,
    });
    await dropCollection(sinkCollection(transport));
  }

  if (args['raw-after'] !== '0') for (const client of raws.keys()) await runRaw(client);
  const busy = (b: number | null) => (b === null ? '' : `, test server ${(b * 100).toFixed(0)}% busy`);
  console.log('');
  const rawRate = new Map<string, number>();
  for (const [client, r] of raws) {
    const mean = rows / (r.runs.reduce((sum, x) => sum + x.seconds, 0) / r.runs.length);
    const cpu = r.runs.reduce((sum, x) => sum + x.cpuSeconds, 0) / r.runs.length;
    rawRate.set(client, mean);
    console.log(
      `${r.label}: ${r.runs.map((x) => (rows / x.seconds).toFixed(0)).join(' / ')} rows/s (mean ${mean.toFixed(0)})` +
        `${r.runs.map((x) => busy(x.busy)).join('')}; client CPU per 1000 rows ${perK(cpu)}`,
    );
  }
  for (const [transport, s] of sinks) {
    const vs = (client: string) =>
      `${(s.rate / rawRate.get(client)!).toFixed(2)} (${(s.steady / rawRate.get(client)!).toFixed(2)} start-up excluded)`;
    console.log(
      `vecrelay sink (${transport}): ${s.rate.toFixed(0)} rows/s${busy(s.busy)}; vs raw gRPC ${vs('grpc')}, vs raw REST ${vs('rest')}; ` +
        `client CPU per 1000 rows ${perK(s.cpuSeconds)} (whole process, start-up included); peak RSS ${s.peakMb.toFixed(0)} MB; ` +
        `committed ${s.committed} offsets`,
    );
  }
  console.log('(the sink time includes process start-up, reading the table descriptor, and group join)');
} finally {
  await producer.disconnect().catch(() => {});
  await dropCollection(rawCollection);
  for (const t of transports) await dropCollection(sinkCollection(t));
  await admin.deleteGroups(transports.map(groupOf)).catch(() => {});
  await admin
    .deleteTopics({ topics: (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`)) })
    .catch(() => {});
  await admin.disconnect();
}
await q.close();
