// The sink under failure (DESIGN.md guarantees 1–3, 6, 7): a SIGKILL mid-backlog, Qdrant down
// (503) or rate-limiting (429 + Retry-After), poison records, two sink processes sharing the
// partitions, and a replay of the compacted topics into a new collection by a new group.
//
// Faults come from the bundled test server (POST /__test/faults), scoped to the test's own
// collection by `paths`, since the server is shared by parallel tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AssignerProtocol, type IHeaders } from 'kafkajs';
import { encodeEvent } from '../../src/event/avro.js';
import { SCHEMA_HEADER, SCHEMA_VERSION } from '../../src/event/versions.js';
import type { ChangeEvent } from '../../src/event/change-event.js';
import { keyBytes } from '../../src/event/key.js';
import { partitionFor } from '../../src/kafka/partition.js';
import { collectionDifferences, differences } from '../helpers/collection-sync.js';
import {
  committedOffsets,
  endOffsets,
  groupAtEnd,
  runFromBeginning,
  testKafka,
  withAdmin,
} from '../helpers/kafka.js';
import { currentLsn, lsnAtLeast, slotInfo, waitSlotActive } from '../helpers/pg.js';
import { pointCount, qdrantRequest, scrollAll } from '../helpers/qdrant.js';
import {
  lit,
  TRANSPORTS,
  useQdrantGrpc,
  useSinkPipelines,
  vec,
  type SinkPipeline,
} from '../helpers/sink-pipeline.js';
import type { RunningProcess } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines();
const noGrpc = useQdrantGrpc();

const skipFaults = stackEnv().qdrantIsReal
  ? 'QDRANT_URL points at a real Qdrant, which has no /__test/faults injection'
  : false;

const DIM = 8;

// ---- fault injection (test server only) ----

interface FaultRule {
  status: number;
  remaining: number;
  paths?: string;
}

/** The write endpoints the sink uses on one collection (reads such as scroll and count stay up). */
const writePaths = (collection: string) =>
  `^/collections/${collection.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}/points(/(delete|batch|payload|vectors))?$`;

async function addFault(fault: Record<string, unknown>): Promise<void> {
  const { status } = await qdrantRequest('POST', '/__test/faults', fault);
  assert.equal(status, 200, 'fault injected');
}

async function faultsOn(paths: string): Promise<FaultRule[]> {
  const { result } = await qdrantRequest<FaultRule[]>('GET', '/__test/faults');
  const source = new RegExp(paths).source; // the server lists a rule's regex by its source
  return result.filter((f) => f.paths === source);
}

async function clearFaults(): Promise<void> {
  await qdrantRequest('DELETE', '/__test/faults');
}

// ---- helpers ----

/** Inserts rows [from, to] (SQL-made vectors: no two alike) in one transaction. */
async function insertRows(table: string, from: number, to: number): Promise<void> {
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 't' || i, i,
       ARRAY[sin(i), cos(i), sin(2 * i), cos(2 * i), sin(3 * i), cos(3 * i), sin(5 * i), cos(5 * i)]::vector
     FROM generate_series($1::int, $2::int) i`,
    [from, to],
  );
}

/** Waits until the source has published (and Kafka acknowledged) every change committed so far. */
async function waitPublished(sp: SinkPipeline): Promise<void> {
  const lsn = await currentLsn(ctx.sql);
  await waitFor(
    `slot ${sp.p.slot} confirmed past ${lsn}`,
    async () => lsnAtLeast(ctx.sql, (await slotInfo(ctx.sql, sp.p.slot))?.confirmed, lsn),
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

const alive = (proc: RunningProcess) => proc.child.exitCode === null && proc.child.signalCode === null;

/** The pino lines of a process's log (a line still being written is left out). */
function logLines(proc: RunningProcess): Array<Record<string, unknown>> {
  return readFileSync(proc.logFile, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

interface RawRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Reads `topic` from the beginning, undecoded, until `done(records)` holds. */
async function readRaw(topic: string, done: (records: RawRecord[]) => boolean): Promise<RawRecord[]> {
  const groupId = `test-raw-${randomUUID()}`;
  const consumer = testKafka().consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  const records: RawRecord[] = [];
  const text = (headers: IHeaders | undefined) =>
    Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, String(v)]));
  await consumer.connect();
  try {
    await runFromBeginning(consumer, topic, ({ partition, message }) =>
      records.push({
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: text(message.headers),
      }),
    );
    await waitFor(`records on ${topic}`, () => done(records), { timeoutMs: 30_000, intervalMs: 100 });
    return records;
  } finally {
    await consumer.disconnect();
    await withAdmin((admin) => admin.deleteGroups([groupId]).catch(() => {}));
  }
}

/** Produces one record to `partition` of `topic`, headed as the source heads events; returns its offset. */
async function produce(topic: string, partition: number, key: Buffer, value: Buffer): Promise<string> {
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const [meta] = await producer.send({
      topic,
      acks: -1,
      messages: [{ key, value, partition, headers: { [SCHEMA_HEADER]: String(SCHEMA_VERSION) } }],
    });
    return meta!.baseOffset!;
  } finally {
    await producer.disconnect();
  }
}

/** A pipeline with rows 1..10 in sync through `vecrelay run` (sink retries kept short). */
async function syncedRun(prefix: string, options: Parameters<typeof ctx.pipeline>[1] = {}) {
  const table = uniqueName(prefix);
  await ctx.createTable(table, DIM);
  await insertRows(table, 1, 10);
  const sp = ctx.pipeline(table, options);
  const run = ctx.start(['run', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  await waitFor(`group ${sp.groupId} at the end of ${sp.topic}`, () => groupAtEnd(sp.groupId, sp.topic));
  return { table, sp, run };
}

const keyOf = (id: number) => keyBytes(['id'], { id: BigInt(id) });

// ---- 1. SIGKILL ----

test(
  'SIGKILL of the sink in the middle of a 10k-event backlog: after a restart the collection equals the table',
  { skip: skipFaults && `${skipFaults} (it slows writes down to kill the sink mid-backlog)` },
  async () => {
    const { sql } = ctx;
    const table = uniqueName('kill');
    await ctx.createTable(table, DIM);
    const sp = ctx.pipeline(table, { sink: { batchSize: 100 } });
    ctx.start(['source', '--config', sp.config]);
    await waitSlotActive(sql, sp.p.slot);

    // The backlog: 10k rows in 10 transactions, then updates of some rows (payload; vector) and
    // a few deletes — all in Kafka before the sink starts.
    for (let t = 0; t < 10; t++) await insertRows(table, t * 1000 + 1, t * 1000 + 1000);
    await sql.query(`UPDATE ${table} SET title = 'u' || id, n = n * 10 WHERE id % 7 = 0`);
    await sql.query(
      `UPDATE ${table} SET embedding = ARRAY[cos(id), 1, 2, 3, 4, 5, 6, sin(id)]::vector WHERE id % 11 = 0`,
    );
    await sql.query(`DELETE FROM ${table} WHERE id % 97 = 0`);
    await waitPublished(sp);
    const rows = (await ctx.tableRows(table)).length;

    // Slow writes (25 ms each) so that the kill lands while most of the backlog is unapplied.
    await addFault({ delay_ms: 25, count: 150, paths: writePaths(sp.collection) });
    const first = ctx.start(['sink', '--config', sp.config]);
    await waitFor('the first points written', async () => (await pointCount(sp.collection)) > 0, {
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    const written = await pointCount(sp.collection);
    assert.ok(written > 0 && written < rows, `killed mid-backlog: ${written} of ${rows} points written`);
    assert.equal(await groupAtEnd(sp.groupId, sp.topic), false, 'offsets not at the end when killed');

    // The new member waits for the killed one's session (30 s) to expire before it gets partitions.
    const second = ctx.start(['sink', '--config', sp.config]);
    await ctx.waitCollectionEqualsTable(table, sp.collection, 120_000);
    await waitFor(`group ${sp.groupId} at the end`, () => groupAtEnd(sp.groupId, sp.topic));
    second.child.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  },
);

// ---- 2. Qdrant unavailable, rate-limiting ----

test(
  'Qdrant answering 503 for a while: no offset is committed meanwhile; after it the collection equals the table and the offsets reach the end',
  { skip: skipFaults },
  async () => {
    const { sql } = ctx;
    const { table, sp, run } = await syncedRun('down', { sink: { retryMaxMs: 1000 } });
    const before = await committedOffsets(sp.groupId, sp.topic);
    const paths = writePaths(sp.collection);
    const count = 1_000_000;
    await addFault({ status: 503, count, paths });
    try {
      await insertRows(table, 11, 60);
      await sql.query(`UPDATE ${table} SET title = 'changed', n = NULL WHERE id <= 5`);
      await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id = 6`, [lit(vec(6000, DIM))]);
      await sql.query(`DELETE FROM ${table} WHERE id IN (7, 8)`);
      await waitPublished(sp);
      // The sink keeps trying (each try takes one of the fault's count) and gets 503s: the
      // committed offsets, sampled twice meanwhile, stay where they were.
      const triedAtLeast = (tries: number) =>
        waitFor(`the sink retrying against 503s (${tries} tries)`, async () => {
          const [rule] = await faultsOn(paths);
          return rule !== undefined && rule.remaining <= count - tries;
        });
      await triedAtLeast(4);
      const early = await committedOffsets(sp.groupId, sp.topic);
      await triedAtLeast(8);
      const late = await committedOffsets(sp.groupId, sp.topic);
      const ends = await endOffsets(sp.topic);
      assert.ok(
        [...ends].some(([partition, end]) => end > (before.get(partition) ?? -1n)),
        'changes are waiting in Kafka',
      );
      assert.deepEqual(early, before, 'no offset committed while Qdrant is down');
      assert.deepEqual(late, before, 'no offset committed while Qdrant is down');
      assert.equal(await pointCount(sp.collection), 10, 'nothing applied while Qdrant is down');
      assert.equal((await faultsOn(paths)).length, 1, 'Qdrant was down all along (fault still in place)');
      assert.ok(alive(run), 'the sink does not give up');
    } finally {
      await clearFaults();
    }

    await ctx.waitCollectionEqualsTable(table, sp.collection);
    await waitFor(`group ${sp.groupId} at the end of ${sp.topic}`, () => groupAtEnd(sp.groupId, sp.topic));
    assert.ok(alive(run));
  },
);

test(
  'Qdrant answering 429 with Retry-After: the sink waits as told, does not give up, and the records are applied after',
  { skip: skipFaults },
  async () => {
    // retryMaxMs 200: any wait of a second or more comes from Retry-After.
    const { table, sp, run } = await syncedRun('ratelimit', { sink: { retryMaxMs: 200 } });
    const paths = writePaths(sp.collection);
    await addFault({ status: 429, count: 3, retry_after: 1, paths });
    await insertRows(table, 11, 40);
    await ctx.sql.query(`UPDATE ${table} SET title = 'changed' WHERE id <= 5`);
    await ctx.waitCollectionEqualsTable(table, sp.collection);
    await waitFor(`group ${sp.groupId} at the end of ${sp.topic}`, () => groupAtEnd(sp.groupId, sp.topic));

    assert.deepEqual(await faultsOn(paths), [], 'every 429 was answered');
    const retries = logLines(run).filter(
      (l) => l.msg === 'Qdrant write failed; retrying' && String(l.err).includes('answered 429'),
    );
    assert.equal(retries.length, 3, 'each 429 retried');
    for (const r of retries)
      assert.ok(Number(r.delayMs) >= 1000, `waited ${String(r.delayMs)} ms ≥ Retry-After`);
    assert.ok(alive(run));
  },
);

// ---- 3. Poison records ----

const PARTITIONS = 3; // writeConfig's default

interface Poison {
  key: Buffer;
  value: Buffer;
}

/**
 * A backlog with a poison record between valid rows of its partition: rows 1..10, the poison,
 * rows 11..60 — all in Kafka before the sink starts, so its first batches hold the poison among
 * valid records (one request with all of them, split until the poison stands alone). Returns
 * where the poison went and the sink process; the collection equals the table by then.
 */
async function poisonedBacklog(prefix: string, poison: (table: string) => Poison) {
  const table = uniqueName(prefix);
  await ctx.createTable(table, DIM);
  await insertRows(table, 1, 10);
  const sp = ctx.pipeline(table);
  ctx.start(['source', '--config', sp.config]);
  await waitSlotActive(ctx.sql, sp.p.slot);
  const total = async () => [...(await endOffsets(sp.topic)).values()].reduce((a, b) => a + b, 0n);
  await waitFor('the snapshot in Kafka', async () => (await total()) >= 10n);

  const { key, value } = poison(table);
  const partition = partitionFor(sp.topic, key, PARTITIONS);
  const offset = await produce(sp.topic, partition, key, value);
  await insertRows(table, 11, 60);
  await waitFor('the backlog in Kafka: 60 rows and the poison', async () => (await total()) >= 61n);
  const before = Array.from({ length: 10 }, (_, i) => i + 1).filter(
    (id) => partitionFor(sp.topic, keyOf(id), PARTITIONS) === partition,
  );
  const after = Array.from({ length: 50 }, (_, i) => i + 11).filter(
    (id) => partitionFor(sp.topic, keyOf(id), PARTITIONS) === partition,
  );
  assert.ok(before.length > 0 && after.length > 0, 'valid rows before and after the poison in its partition');

  const sink = ctx.start(['sink', '--config', sp.config]);
  await ctx.waitCollectionEqualsTable(table, sp.collection);
  await waitFor(`group ${sp.groupId} at the end of ${sp.topic}`, () => groupAtEnd(sp.groupId, sp.topic));
  const dead = await readRaw(sp.deadLetterTopic, (rs) => rs.length >= 1);
  assert.equal(dead.length, 1, 'one dead letter');
  assert.ok(alive(sink), 'the sink goes on');
  return { dead: dead[0]!, partition, offset, key, value, sp };
}

function poisonEvent(table: string, id: number, patch: Partial<ChangeEvent>): ChangeEvent {
  return {
    op: 'c',
    source: {
      lsn: 1n,
      xid: 1,
      commitTimeMicros: BigInt(Date.now()) * 1000n,
      schema: 'public',
      table,
      snapshot: false,
      seq: 0,
    },
    key: { id: BigInt(id) },
    values: { title: 'poison', n: null },
    vectors: { embedding: { kind: 'dense', values: new Float32Array(vec(id, DIM)), half: false } },
    unchanged: [],
    ...patch,
  };
}

// (A vector of another dimension than its vector(n) column's is no record's fault: the column's
// type changed, and the sink stops — test/sink/sink-schema-change.test.ts.)
test('a record Qdrant rejects (a NaN in its vector) goes to the dead-letter topic with Qdrant’s reason and its origin; the records after it are applied', async () => {
  const { dead, sp, partition, offset, key, value } = await poisonedBacklog('nanvec', (table) => ({
    key: keyOf(1000),
    value: encodeEvent(
      poisonEvent(table, 1000, {
        vectors: { embedding: { kind: 'dense', values: new Float32Array(DIM).fill(NaN), half: false } },
      }),
    ),
  }));
  assert.match(dead.headers['vecrelay.dlq.reason']!, /Format error in JSON body/);
  assert.equal(dead.headers['vecrelay.dlq.topic'], sp.topic);
  assert.equal(dead.headers['vecrelay.dlq.partition'], String(partition));
  assert.equal(dead.headers['vecrelay.dlq.offset'], offset);
  assert.deepEqual(dead.value, value, 'the original bytes');
  assert.deepEqual(dead.key, key);
});

test('an undecodable record goes to the dead-letter topic as "undecodable" with its origin; the records after it are applied', async () => {
  const { dead, sp, partition, offset, key, value } = await poisonedBacklog('garbage', () => ({
    key: keyOf(1001),
    value: Buffer.from('garbage'),
  }));
  assert.match(dead.headers['vecrelay.dlq.reason']!, /^undecodable/);
  assert.equal(dead.headers['vecrelay.dlq.topic'], sp.topic);
  assert.equal(dead.headers['vecrelay.dlq.partition'], String(partition));
  assert.equal(dead.headers['vecrelay.dlq.offset'], offset);
  assert.deepEqual(dead.value, value, 'the original bytes');
  assert.deepEqual(dead.key, key);
});

test('an event without its key column goes to the dead-letter topic; the records after it are applied', async () => {
  const { dead, sp, partition, offset, value } = await poisonedBacklog('nokey', (table) => ({
    key: keyOf(1002),
    value: encodeEvent(poisonEvent(table, 1002, { key: { other: 1002n } })),
  }));
  assert.match(dead.headers['vecrelay.dlq.reason']!, /key column id is missing/);
  assert.equal(dead.headers['vecrelay.dlq.topic'], sp.topic);
  assert.equal(dead.headers['vecrelay.dlq.partition'], String(partition));
  assert.equal(dead.headers['vecrelay.dlq.offset'], offset);
  assert.deepEqual(dead.value, value, 'the original bytes');
});

// ---- 4. Two sink processes ----

// Over both transports: partitions move between members while each writes over its own connection.
for (const transport of TRANSPORTS)
  test(
    `[${transport}] two sink processes share the partitions: both are members with partitions, and the collection equals the table`,
    { skip: transport === 'grpc' && noGrpc },
    async () => {
      const { sql } = ctx;
      const table = uniqueName('shared');
      await ctx.createTable(table, DIM);
      const sp = ctx.pipeline(table, { partitions: 4, transport });
      ctx.start(['source', '--config', sp.config]);
      await waitSlotActive(sql, sp.p.slot);
      const sinks = [ctx.start(['sink', '--config', sp.config]), ctx.start(['sink', '--config', sp.config])];

      const admin = testKafka().admin();
      await admin.connect();
      ctx.cleanup(() => admin.disconnect());
      /** Member → its partitions of the change topic, when the group is stable. */
      const assignments = async () => {
        const { groups } = await admin.describeGroups([sp.groupId]);
        const group = groups[0];
        if (group?.state !== 'Stable') return undefined;
        return group.members.map(
          (m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[sp.topic] ?? [],
        );
      };
      const bothMembers = async () => {
        const a = await assignments();
        return a?.length === 2 && a.every((parts) => parts.length > 0) ? a : undefined;
      };
      const initial = await waitFor('two members, each with partitions', bothMembers, {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      assert.deepEqual(initial.flat().sort(), [0, 1, 2, 3]);

      for (let t = 0; t < 4; t++) await insertRows(table, t * 500 + 1, t * 500 + 500);
      await sql.query(`UPDATE ${table} SET title = 'u' || id WHERE id % 3 = 0`);
      await sql.query(`DELETE FROM ${table} WHERE id % 10 = 0`);
      await ctx.waitCollectionEqualsTable(table, sp.collection);
      await waitFor(`group ${sp.groupId} at the end of ${sp.topic}`, () => groupAtEnd(sp.groupId, sp.topic));

      for (const s of sinks) assert.ok(alive(s), 'both sink processes alive');
      const final = await bothMembers();
      assert.ok(final, 'still two members sharing the partitions');
      assert.deepEqual(final.flat().sort(), [0, 1, 2, 3]);
    },
  );

// ---- 5. Replay ----

test('replay: a new group reading the compacted topics from the beginning into a new collection rebuilds the same points', async () => {
  const { sql } = ctx;
  const { table, sp } = await syncedRun('replay');
  await insertRows(table, 11, 200);
  await sql.query(`UPDATE ${table} SET title = 'changed', n = NULL WHERE id <= 50`);
  await sql.query(`UPDATE ${table} SET embedding = $1 WHERE id BETWEEN 51 AND 60`, [lit(vec(5100, DIM))]);
  await sql.query(`DELETE FROM ${table} WHERE id BETWEEN 100 AND 120`);
  await insertRows(table, 100, 105); // deleted, then inserted again
  await ctx.waitCollectionEqualsTable(table, sp.collection);

  const replay = ctx.replayConfig(sp);
  assert.notEqual(replay.collection, sp.collection);
  const sink = ctx.start(['sink', '--config', replay.config]);
  let last: string[] = [];
  await waitFor(
    `collection ${replay.collection} = collection ${sp.collection}`,
    async () => {
      last = collectionDifferences(await scrollAll(sp.collection), await scrollAll(replay.collection));
      return last.length === 0;
    },
    { timeoutMs: 60_000, intervalMs: 300 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${last.join('; ')}`);
  });
  assert.deepEqual(differences(await ctx.tableRows(table), await scrollAll(replay.collection)), []);
  await waitFor(`group ${replay.groupId} at the end`, () => groupAtEnd(replay.groupId, sp.topic));
  sink.child.kill('SIGTERM');
  assert.equal((await sink.exited).code, 0);
});
