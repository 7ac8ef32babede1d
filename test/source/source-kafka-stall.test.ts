// Backpressure (DESIGN.md guarantees 1 and 6): when Kafka stops answering, the source stops
// reading the slot — the backlog stays in Postgres, not in the source's memory — and confirms
// nothing Kafka has not stored; when Kafka answers again, every change arrives. The broker is a
// scratch one (the shared stack's must keep serving the other tests), frozen with SIGSTOP.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { changeTopic } from '../../src/kafka/topics.js';
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { readTopic } from '../helpers/kafka.js';
import { currentLsn, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { startScratchKafka, type ScratchKafka } from '../helpers/scratch-kafka.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'stall' });
let kafka: ScratchKafka;

before(async () => {
  kafka = await startScratchKafka();
});
after(async () => {
  await kafka?.stop();
});

const MiB = 1 << 20;

test('Kafka frozen: the source stops reading the slot and confirms nothing; thawed: every change arrives', async () => {
  const { sql } = ctx;
  const table = uniqueName('stall');
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(1536))`);
  const p = ctx.pipeline(table, { snapshot: 'never', source: { maxInFlightBytes: MiB } });
  const config = writeConfig(p, {
    kafka: { brokers: kafka.brokers, topicPrefix: p.topicPrefix, partitions: 3, replicationFactor: 1 },
  });
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const insert = (from: number, to: number) =>
    sql.query(
      `INSERT INTO ${table}
       SELECT i, (SELECT array_agg(random()::real) FROM generate_series(1, 1536) WHERE i > 0)::vector
         FROM generate_series($1::int, $2::int) i`,
      [from, to],
    );
  const confirmed = async () => parseLsn((await slotInfo(sql, p.slot))!.confirmed ?? '0/0');
  /** What the walsender has sent the source so far. */
  const sent = async () => {
    const { rows } = await sql.query<{ sent: string }>(
      `SELECT r.sent_lsn::text AS sent FROM pg_stat_replication r
         JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`,
      [p.slot],
    );
    return parseLsn(rows[0]!.sent);
  };

  ctx.startSource(config);
  await waitSlotStreaming(sql, p.slot);
  await insert(1, 10);
  const warm = parseLsn(await currentLsn(sql));
  await waitFor('the first rows confirmed', async () => (await confirmed()) >= warm, { timeoutMs: 60_000 });

  kafka.pause();
  // ~60 MB of WAL: sixty times source.maxInFlightBytes, far more than the socket buffers hold.
  await insert(11, 110);
  // The end of the first stalled transaction's commit record. Keepalives may still move the slot
  // up to its start (the walsender's read position: a transaction that commits there is still
  // sent after a restart), never past it before Kafka has the transaction.
  const firstCommitEnd = parseLsn(await currentLsn(sql));
  for (let t = 1; t < 100; t++) await insert(11 + t * 100, 10 + (t + 1) * 100);
  const walEnd = parseLsn(await currentLsn(sql));
  // The walsender stops once the source stops reading: what it has sent holds still.
  let last = -1n;
  const stuckAt = await waitFor(
    'the walsender to stop sending',
    async () => {
      const now = await sent();
      const still = now === last;
      last = now;
      return still ? now : null;
    },
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  assert.ok(
    walEnd - stuckAt > 30n * BigInt(MiB),
    `the source should leave the backlog in Postgres: ${walEnd - stuckAt} bytes of WAL unsent`,
  );
  const held = await confirmed();
  assert.ok(held < firstCommitEnd, `nothing Kafka has not stored is confirmed (${held} ≥ ${firstCommitEnd})`);

  kafka.resume();
  await waitFor('the whole backlog confirmed', async () => (await confirmed()) >= walEnd, {
    timeoutMs: 180_000,
    intervalMs: 500,
  });
  const records = await readTopic(topic, (r) => new Set(r.map((x) => x.key)).size >= 10_010, {
    brokers: kafka.brokers,
    timeoutMs: 120_000,
  });
  const ids = new Set(records.map((r) => Number(r.event!.key.id)));
  for (let id = 1; id <= 10_010; id++) assert.ok(ids.has(id), `row ${id} reached Kafka`);
});
