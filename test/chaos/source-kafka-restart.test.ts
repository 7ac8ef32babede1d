// The Kafka broker may die under the source (issue 9): SIGKILL while changes stream, started
// again later on the same data. The source must not die: it logs one warning naming Kafka and
// kafka.brokers, leaves the backlog in the slot (it confirms nothing Kafka did not store), backs
// off, reconnects and resumes — and in the end the topic holds exactly the table: 0 missing,
// 0 extra, 0 mismatched. The broker is a scratch one: the shared stack's must keep serving the
// other tests.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { changeTopic } from '../../src/kafka/topics.js';
import { parseLsn } from '../../src/source/pgoutput/index.js';
import { readTopic } from '../helpers/kafka.js';
import { connectPg, currentLsn, slotInfo, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { startScratchKafka, type ScratchKafka } from '../helpers/scratch-kafka.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { assertTopicEqualsTable, createWorkloadTable, startWriter } from './source-workload.js';

const ctx = useSourcePipelines({ prefix: 'kfrs' });
let kafka: ScratchKafka;

before(async () => {
  kafka = await startScratchKafka();
});
after(async () => {
  await kafka?.stop();
});

test('Kafka broker SIGKILLed and restarted while streaming: the source resumes and the topic equals the table', async () => {
  const { sql } = ctx;
  const table = uniqueName('kill');
  await createWorkloadTable(sql, table);
  const p = ctx.pipeline(table, { snapshot: 'never' });
  const config = writeConfig(p, {
    kafka: { brokers: kafka.brokers, topicPrefix: p.topicPrefix, partitions: 3, replicationFactor: 1 },
  });
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const source = ctx.startSource(config);
  await waitSlotStreaming(sql, p.slot);
  const writer = startWriter(connectPg, table, { firstId: 1 });
  try {
    await readTopic(topic, (r) => r.length > 500, { brokers: kafka.brokers, timeoutMs: 60_000 });
    await kafka.kill();
    // Changes committed while the broker is dead stay in the slot: nothing past them is confirmed.
    const before = writer.committed;
    await waitFor('writes while the broker is dead', () => writer.committed >= before + 20, {
      timeoutMs: 60_000,
    });
    const written = parseLsn(await currentLsn(sql));
    const held = parseLsn((await slotInfo(sql, p.slot))!.confirmed ?? '0/0');
    assert.ok(held < written, 'nothing Kafka did not store is confirmed');
    // The source notices and says so once, naming the system and the field.
    const where = `Kafka at ${kafka.brokers[0]} (kafka.brokers)`;
    await waitFor('the warning naming Kafka', () => readFileSync(source.logFile, 'utf8').includes(where), {
      timeoutMs: 60_000,
    });
    await kafka.start();
    const after = writer.committed;
    await waitFor('writes after the broker is back', () => writer.committed >= after + 20, {
      timeoutMs: 60_000,
    });
  } finally {
    await writer.stop();
  }
  const { rows } = await assertTopicEqualsTable(sql, table, topic, { brokers: kafka.brokers });
  assert.ok(rows > 500, `a real workload (${rows} rows)`);

  assert.equal(source.child.exitCode, null, 'the source is still running');
  const log = readFileSync(source.logFile, 'utf8');
  assert.doesNotMatch(log, /Unhandled 'error' event|uncaught/i);
  const warnings = log.split('\n').filter((l) => l.includes('"level":40') && l.includes('(kafka.brokers)'));
  assert.ok(
    warnings.length >= 1 && warnings.length <= 3,
    `one warning per outage, not one per retry (${warnings.length}):\n${warnings.join('\n')}`,
  );
  assert.match(log, /Kafka is back: resumed/);
  const errors = log.split('\n').filter((l) => l.includes('"level":50'));
  assert.deepEqual(errors, [], 'no error-level line: the outage is a warning');
  source.child.kill('SIGTERM');
  assert.equal((await source.exited).code, 0, 'the source stopped cleanly');
  if (process.env.VECRELAY_SHOW_LOG) console.log(log);
});
