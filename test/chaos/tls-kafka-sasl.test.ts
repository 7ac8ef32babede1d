// kafka.sasl against the stack's SASL_PLAINTEXT listener (scripts/stack/up.sh: a SCRAM-SHA-256/512
// and PLAIN user): the source streams through it end to end; both Kafka clients (kafkajs for
// admin and small writes, @platformatic/kafka for change events) log in with every mechanism; a
// wrong password stops the source at once (exit 2) naming kafka.sasl, with nothing created.
// A broker started by an older up.sh has no such listener: the tests skip, saying so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { canonicalKey } from '../../src/event/key.js';
import { createKafka, kafkaSettings } from '../../src/kafka/client.js';
import { createEventProducer } from '../../src/kafka/event-producer.js';
import { kafkaSecurityProblem } from '../../src/kafka/security.js';
import { changeTopic } from '../../src/kafka/topics.js';
import { ConfigError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/log.js';
import { deleteTopicsWithPrefix, readTopic, topicsWithPrefix, withAdmin } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'sasl' });
const { pipeline, startSource } = ctx;

const sasl = stackEnv().kafkaSasl;
const skip = sasl
  ? false
  : 'the running Kafka has no SASL listener (started by an older scripts/stack/up.sh): restart the stack (npm run stack:down; npm run stack:up) to run this test';

type Mechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const PASSWORD_ENV = 'VECRELAY_TEST_KAFKA_PASSWORD';

/** A file holding `password` and a newline, as `echo pw > file` writes it. */
function passwordFile(password: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'vecrelay-sasl-')), 'password');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return file;
}

/** The pipeline's kafka section, on the SASL listener only. */
function kafkaSection(p: TestPipeline, login: Record<string, unknown>) {
  return {
    brokers: sasl!.brokers,
    topicPrefix: p.topicPrefix,
    partitions: 3,
    replicationFactor: 1,
    sasl: { username: sasl!.username, ...login },
  };
}

async function createTable(table: string) {
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(3))`);
}

const hasKeys = (ids: number[]) => (records: Awaited<ReturnType<typeof readTopic>>) =>
  ids.every((id) => records.some((r) => r.key === canonicalKey(['id'], { id: BigInt(id) })));

test('the source streams through the SCRAM-SHA-256 listener (password from a file)', { skip }, async () => {
  const table = uniqueName('sasl');
  await createTable(table);
  await ctx.sql.query(`INSERT INTO ${table} SELECT g, 'before', '[1,2,3]' FROM generate_series(1, 3) g`);
  const p = pipeline(table);
  const config = writeConfig(p, {
    kafka: kafkaSection(p, { mechanism: 'SCRAM-SHA-256', passwordFile: passwordFile(sasl!.password) }),
  });
  const source = startSource(config);
  const failed = source.exited.then(() => {
    throw new Error(`the source exited:\n${readFileSync(source.logFile, 'utf8')}`);
  });
  failed.catch(() => {});
  const topic = changeTopic(p.topicPrefix, 'public', table);
  await Promise.race([
    waitFor('the change topic', async () => (await topicsWithPrefix(p.topicPrefix)).includes(topic), {
      timeoutMs: 60_000,
    }),
    failed,
  ]);
  // Snapshot rows, then streamed ones: both kinds of producer went through the SASL listener.
  await Promise.race([readTopic(topic, hasKeys([1, 2, 3]), { timeoutMs: 120_000 }), failed]);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (4, 'after', '[4,5,6]')`);
  await Promise.race([readTopic(topic, hasKeys([4]), { timeoutMs: 60_000 }), failed]);
  assert.doesNotMatch(
    readFileSync(source.logFile, 'utf8'),
    new RegExp(sasl!.password),
    'no password in the log',
  );
});

for (const mechanism of ['SCRAM-SHA-512', 'PLAIN'] as Mechanism[]) {
  test(
    `${mechanism} (password from the environment): kafkajs and the event producer log in`,
    { skip },
    async () => {
      const prefix = uniqueName('saslmech');
      const topic = `${prefix}.t`;
      ctx.cleanup(() => deleteTopicsWithPrefix(prefix));
      await withAdmin((admin) =>
        admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }),
      );
      const raw = {
        name: 'sasl',
        postgres: { database: 'd', user: 'u', slot: 's', publication: 'p' },
        kafka: {
          brokers: sasl!.brokers,
          sasl: { mechanism, username: sasl!.username, passwordEnv: PASSWORD_ENV },
        },
        tables: [{ table: 'public.t' }],
      };
      const config = parseConfig(stringify(raw), '/etc/vecrelay/sasl.yaml', {
        [PASSWORD_ENV]: sasl!.password,
      });

      const admin = createKafka(kafkaSettings(config), createLogger({ level: 'silent' })).admin();
      await admin.connect();
      try {
        assert.ok((await admin.listTopics()).includes(topic));
      } finally {
        await admin.disconnect();
      }
      const producer = await createEventProducer(kafkaSettings(config));
      try {
        await producer.send([{ topic, partition: 0, key: Buffer.from('k'), value: Buffer.from(mechanism) }]);
      } finally {
        await producer.close();
      }
      assert.equal(await endOffset(topic), 1n, 'the record is stored');

      // A wrong password, to the event producer: the failure names kafka.sasl.
      const wrong = parseConfig(stringify(raw), '/etc/vecrelay/sasl.yaml', { [PASSWORD_ENV]: 'wrong' });
      const bad = await createEventProducer(kafkaSettings(wrong));
      try {
        const err = await bad.send([{ topic, partition: 0, key: Buffer.from('k'), value: null }]).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err, 'a wrong password is refused');
        const problem = kafkaSecurityProblem(err, wrong);
        assert.ok(problem instanceof ConfigError, `a ConfigError from ${String(err)}`);
        assert.match(problem.message, /kafka\.sasl: Kafka \(.*\) refused the login/);
        assert.match(problem.message, new RegExp(`the password in the variable ${PASSWORD_ENV}`));
      } finally {
        await bad.close();
      }
    },
  );
}

async function endOffset(topic: string): Promise<bigint> {
  return withAdmin(async (admin) => {
    const [p] = await admin.fetchTopicOffsets(topic);
    return BigInt(p?.high ?? '0');
  });
}

test('a wrong SASL password: exit 2 within 10 s naming kafka.sasl, nothing created', { skip }, async () => {
  const table = uniqueName('saslbad');
  await createTable(table);
  const p = pipeline(table, { snapshot: 'never' });
  const config = writeConfig(p, {
    kafka: kafkaSection(p, { mechanism: 'SCRAM-SHA-512', passwordEnv: PASSWORD_ENV }),
  });
  const started = Date.now();
  const proc = startSource(config, { [PASSWORD_ENV]: 'not-the-password' });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    proc.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the source still runs after 30 s')), 30_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const output = readFileSync(proc.logFile, 'utf8');
  assert.equal(exit.code, 2, `exit code 2; output:\n${output}`);
  assert.ok(Date.now() - started < 10_000, `exits within 10 s (took ${Date.now() - started} ms)`);
  const line = output.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line; output:\n${output}`);
  assert.match(line, /kafka\.sasl: Kafka \(127\.0\.0\.1:\d+\) refused the login/);
  assert.match(line, new RegExp(`the password in the variable ${PASSWORD_ENV}`));
  assert.doesNotMatch(output, /not-the-password/, 'the password is not shown');
  const pubs = await ctx.sql.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [p.publication]);
  assert.equal(pubs.rowCount, 0, 'no publication');
  const slots = await ctx.sql.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [p.slot]);
  assert.equal(slots.rowCount, 0, 'no slot');
  assert.deepEqual(await topicsWithPrefix(p.topicPrefix), [], 'no topics');
});
