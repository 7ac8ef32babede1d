// Bulk load into Qdrant (issue 11, deliverable 6; src/sink/qdrant/bulk-load.ts). The test plays
// the source: it publishes the table descriptors (snapshot 'running', later 'done') and the
// change events itself, and runs `vecrelay sink` against real Kafka and Qdrant (the test server,
// or a real one with QDRANT_URL). It asserts what the collection's settings are at each step:
// created with HNSW construction deferred (m 0 on every dense vector) and marked in its
// metadata while the snapshot runs; the configured m / ef_construct back once the descriptor
// says 'done' (also when the sink was down at that moment); never 0 with qdrant.bulkLoad false;
// and a collection someone else created with m 0 is left as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeEvent } from '../../src/event/avro.js';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { keyBytes } from '../../src/event/key.js';
import { changeTopic, tablesTopic } from '../../src/event/names.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import { SCHEMA_HEADER, SCHEMA_VERSION } from '../../src/event/versions.js';
import { testKafka, withAdmin } from '../helpers/kafka.js';
import { dropCollection, pointCount, qdrantRequest } from '../helpers/qdrant.js';
import { startQdrantProcess } from '../helpers/qdrant-process.js';
import { useSinkPipelines, vec } from '../helpers/sink-pipeline.js';
import { writeConfig, type RunningProcess } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'bulk' });
const DIM = 8;
/** The pgvector index of `embedding` (the descriptor's hnsw): what its vector is restored to. */
const INDEXED = { m: 24, ef_construct: 80 };

interface Hnsw {
  m: number;
  ef_construct?: number;
}

interface CollectionInfo {
  config: {
    params: { vectors: Record<string, { hnsw_config?: Hnsw }> };
    hnsw_config: Hnsw & { ef_construct: number };
    metadata?: Record<string, unknown>;
  };
}

async function info(
  collection: string,
  request: typeof qdrantRequest = qdrantRequest,
): Promise<CollectionInfo | undefined> {
  const { status, result } = await request<CollectionInfo>('GET', `/collections/${collection}`);
  return status === 200 ? result : undefined;
}

/** The m / ef_construct each vector's index is built with: its own hnsw_config over the collection's. */
function effectiveHnsw(c: CollectionInfo): Record<string, Required<Hnsw>> {
  return Object.fromEntries(
    Object.entries(c.config.params.vectors).map(([name, v]) => [
      name,
      { ...c.config.hnsw_config, ...v.hnsw_config } as Required<Hnsw>,
    ]),
  );
}

/** One sink pipeline of `tables` (two vector columns each: `embedding` indexed, `image` not). */
function pipeline(tables: string[], qdrant: Record<string, unknown> = {}) {
  const sp = ctx.pipeline(tables[0]!, { partitions: 1 });
  const collections = tables.map(() => uniqueName('bulkcoll'));
  for (const c of collections) ctx.cleanup(() => dropCollection(c));
  const p = {
    ...sp.p,
    tables: tables.map((t, i) => ({ table: `public.${t}`, collection: collections[i] })),
  };
  const config = writeConfig(p, {
    qdrant: {
      url: stackEnv().qdrantUrl,
      ...(stackEnv().qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
      ...qdrant,
    },
  });
  const topics = tables.map((t) => changeTopic(p.topicPrefix, 'public', t));
  return { prefix: p.topicPrefix, config, tables, collections, topics };
}
type Pipeline = ReturnType<typeof pipeline>;

/** The topics the source would create: one partition each, so descriptors keep their order. */
async function createTopics(pl: Pipeline): Promise<void> {
  await withAdmin((admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [tablesTopic(pl.prefix), ...pl.topics].map((topic) => ({
        topic,
        numPartitions: 1,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      })),
    }),
  );
}

function descriptor(pl: Pipeline, i: number, snapshot: TableDescriptor['snapshot']): TableDescriptor {
  return {
    schema: 'public',
    table: pl.tables[i]!,
    topic: pl.topics[i]!,
    key: [{ name: 'id', type: 'int4' }],
    vectors: [
      {
        name: 'embedding',
        kind: 'vector',
        dimension: DIM,
        distance: 'Cosine',
        hnsw: { m: INDEXED.m, efConstruction: INDEXED.ef_construct },
      },
      { name: 'image', kind: 'vector', dimension: DIM, distance: null, hnsw: null },
    ],
    payload: ['title'],
    ...(snapshot ? { snapshot } : {}),
  };
}

async function send(topic: string, messages: Array<{ key: Buffer; value: Buffer; headers?: object }>) {
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: messages as never });
  } finally {
    await producer.disconnect();
  }
}

async function describe(pl: Pipeline, i: number, snapshot: TableDescriptor['snapshot']): Promise<void> {
  const d = descriptor(pl, i, snapshot);
  await send(tablesTopic(pl.prefix), [
    { key: Buffer.from(`${d.schema}.${d.table}`), value: Buffer.from(JSON.stringify(d)) },
  ]);
}

/** Rows [from, to] of table i: snapshot reads ('r') or inserts from the stream ('c'). */
async function rows(pl: Pipeline, i: number, from: number, to: number, op: 'r' | 'c'): Promise<void> {
  const messages = [];
  for (let id = from; id <= to; id++) {
    const event: ChangeEvent = {
      op,
      source: {
        lsn: BigInt(1000 + id),
        xid: op === 'r' ? 0 : id,
        commitTimeMicros: BigInt(Date.now()) * 1000n,
        schema: 'public',
        table: pl.tables[i]!,
        snapshot: op === 'r',
        seq: op === 'r' ? id : 0,
      },
      key: { id: BigInt(id) },
      values: { title: `t${id}` },
      vectors: {
        embedding: { kind: 'dense', values: new Float32Array(vec(id, DIM)), half: false },
        image: { kind: 'dense', values: new Float32Array(vec(-id, DIM)), half: false },
      },
      unchanged: [],
    };
    messages.push({
      key: keyBytes(['id'], event.key),
      value: encodeEvent(event),
      headers: { [SCHEMA_HEADER]: String(SCHEMA_VERSION) },
    });
  }
  await send(pl.topics[i]!, messages);
}

const points = (collection: string, n: number) =>
  waitFor(`${n} points in ${collection}`, async () => (await pointCount(collection)) === n, {
    timeoutMs: 90_000,
  });

async function stop(sink: RunningProcess): Promise<void> {
  sink.child.kill('SIGTERM');
  assert.equal((await sink.exited).code, 0, 'the sink stops cleanly');
}

/** Waits until both vectors of the collection are indexed as configured, and its mark is gone. */
async function restored(collection: string): Promise<CollectionInfo> {
  return waitFor(
    `the index of ${collection} restored`,
    async () => {
      const c = await info(collection);
      if (!c) return undefined;
      const hnsw = effectiveHnsw(c);
      return hnsw.embedding?.m === INDEXED.m && hnsw.image?.m !== 0 && !c.config.metadata?.vecrelay_bulk_load
        ? c
        : undefined;
    },
    { timeoutMs: 90_000 },
  );
}

function assertConfigured(c: CollectionInfo, what: string): void {
  const hnsw = effectiveHnsw(c);
  assert.equal(hnsw.embedding!.m, INDEXED.m, `${what}: embedding's m from its pgvector index`);
  assert.equal(hnsw.embedding!.ef_construct, INDEXED.ef_construct, `${what}: and its ef_construction`);
  // `image` has no index: its vector gets what the collection has (Qdrant's default, 16 / 100).
  assert.equal(hnsw.image!.m, c.config.hnsw_config.m, `${what}: image as the collection`);
  assert.equal(hnsw.image!.ef_construct, c.config.hnsw_config.ef_construct);
  assert.ok(c.config.hnsw_config.m > 0, `${what}: the collection's own m is not 0`);
}

test("snapshot 'running': the collection is created with m 0 on every vector; after 'done' each vector has its configured m and ef_construct", async () => {
  const table = uniqueName('bulk');
  const pl = pipeline([table]);
  const [collection] = pl.collections as [string];
  await createTopics(pl);
  await describe(pl, 0, 'running');
  await rows(pl, 0, 1, 40, 'r');
  const sink = ctx.start(['sink', '--config', pl.config]);
  await points(collection, 40);

  const loading = (await info(collection))!;
  for (const [name, h] of Object.entries(effectiveHnsw(loading)))
    assert.equal(h.m, 0, `vector ${name}: HNSW construction deferred`);
  assert.equal(
    loading.config.params.vectors.embedding?.hnsw_config?.ef_construct,
    INDEXED.ef_construct,
    'ef_construct as it will be',
  );
  assert.deepEqual(loading.config.metadata?.vecrelay_bulk_load, {
    restore: { embedding: INDEXED, image: null },
  });

  // Streamed changes between the snapshot's rows: still a bulk load.
  await rows(pl, 0, 41, 50, 'c');
  await rows(pl, 0, 51, 60, 'r');
  await points(collection, 60);
  assert.equal(effectiveHnsw((await info(collection))!).embedding!.m, 0, 'still deferred');

  await describe(pl, 0, 'done');
  assertConfigured(await restored(collection), "after 'done'");

  // A restart finds no mark, and changes nothing.
  await stop(sink);
  const again = ctx.start(['sink', '--config', pl.config]);
  await rows(pl, 0, 61, 70, 'c');
  await points(collection, 70);
  assertConfigured((await info(collection))!, 'after a restart');
  await stop(again);
});

test('the sink was down when the snapshot finished: at its next start it restores the index', async () => {
  const table = uniqueName('bulkdown');
  const pl = pipeline([table]);
  const [collection] = pl.collections as [string];
  await createTopics(pl);
  await describe(pl, 0, 'running');
  await rows(pl, 0, 1, 30, 'r');
  const sink = ctx.start(['sink', '--config', pl.config]);
  await points(collection, 30);
  await stop(sink);
  assert.equal(effectiveHnsw((await info(collection))!).embedding!.m, 0, 'deferred when it stopped');

  await rows(pl, 0, 31, 40, 'r');
  await describe(pl, 0, 'done');
  const back = ctx.start(['sink', '--config', pl.config]);
  assertConfigured(await restored(collection), 'at start');
  await points(collection, 40);
  await stop(back);
});

test('qdrant.bulkLoad false: the collection is created with its configured index, never m 0', async () => {
  const table = uniqueName('bulkoff');
  const pl = pipeline([table], { bulkLoad: false });
  const [collection] = pl.collections as [string];
  await createTopics(pl);
  await describe(pl, 0, 'running');
  await rows(pl, 0, 1, 30, 'r');
  const sink = ctx.start(['sink', '--config', pl.config]);
  await points(collection, 30);
  const c = (await info(collection))!;
  assert.equal(effectiveHnsw(c).embedding!.m, INDEXED.m, 'indexed from the start');
  assert.notEqual(effectiveHnsw(c).image!.m, 0);
  assert.equal(c.config.metadata?.vecrelay_bulk_load, undefined, 'no mark');
  await describe(pl, 0, 'done');
  await rows(pl, 0, 31, 40, 'c');
  await points(collection, 40);
  assertConfigured((await info(collection))!, "after 'done'");
  await stop(sink);
});

test('a collection created beforehand with m 0 (no mark) is never changed; the one the sink bulk-loads is restored', async () => {
  const own = uniqueName('bulkown');
  const loaded = uniqueName('bulkload');
  const pl = pipeline([own, loaded]);
  const [ownCollection, loadedCollection] = pl.collections as [string, string];
  // The user's collection: m 0 on purpose (say, multitenancy with payload_m only).
  const created = await qdrantRequest('PUT', `/collections/${ownCollection}`, {
    vectors: {
      embedding: { size: DIM, distance: 'Cosine', hnsw_config: { m: 0 } },
      image: { size: DIM, distance: 'Cosine', hnsw_config: { m: 0 } },
    },
  });
  assert.equal(created.status, 200);
  await createTopics(pl);
  await describe(pl, 0, 'running');
  await describe(pl, 1, 'running');
  await rows(pl, 0, 1, 20, 'r');
  await rows(pl, 1, 1, 20, 'r');
  const sink = ctx.start(['sink', '--config', pl.config]);
  await points(ownCollection, 20);
  await points(loadedCollection, 20);
  // 'done' for the user's table first: the sink follows descriptors in order, so once the second
  // table's index is back, the first's 'done' has been seen.
  await describe(pl, 0, 'done');
  await describe(pl, 1, 'done');
  assertConfigured(await restored(loadedCollection), 'the bulk-loaded collection');
  const ownInfo = (await info(ownCollection))!;
  for (const [name, h] of Object.entries(effectiveHnsw(ownInfo)))
    assert.equal(h.m, 0, `the user's collection keeps m 0 on ${name}`);
  assert.equal(ownInfo.config.metadata, undefined);
  await stop(sink);
});

test('Qdrant before 1.16 (no collection metadata): no bulk load, the collection is indexed from the start', async () => {
  const qdrant = await startQdrantProcess(ctx.cleanup, { version: '1.15.4' });
  const table = uniqueName('bulkold');
  const pl = pipeline([table], { url: qdrant.url });
  const [collection] = pl.collections as [string];
  await createTopics(pl);
  await describe(pl, 0, 'running');
  await rows(pl, 0, 1, 20, 'r');
  const sink = ctx.start(['sink', '--config', pl.config]);
  const c = await waitFor(`collection ${collection}`, () => info(collection, (...a) => qdrant.request(...a)));
  assert.equal(effectiveHnsw(c).embedding!.m, INDEXED.m, 'indexed from the start');
  assert.notEqual(effectiveHnsw(c).image!.m, 0);
  assert.equal(c.config.metadata, undefined, 'no mark');
  await waitFor('the sink to say why', () =>
    readFileSync(sink.logFile, 'utf8').includes(
      'Qdrant before 1.16 has no collection metadata: no bulk load',
    ),
  );
  await stop(sink);
});
