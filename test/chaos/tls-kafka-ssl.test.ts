// kafka.ssl against a scratch broker with an SSL listener that requires a client certificate
// (mutual TLS), its certificates made here with openssl (PEM key store and trust store): the
// source streams through it end to end (kafkajs and the @platformatic/kafka event producer both
// speak TLS), SASL over TLS logs in, and a CA that did not sign the broker's certificate is named
// as kafka.ssl.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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
import { readTopic, testKafka } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { startScratchKafka, type ScratchKafka } from '../helpers/scratch-kafka.js';
import { writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';

const ctx = useSourcePipelines({ prefix: 'kssl' });
const { pipeline, startSource } = ctx;

const SASL_PASSWORD = 'tls-and-sasl';
let ca: TestCa;
let client: { certFile: string; keyFile: string };
let kafka: ScratchKafka;

before(async () => {
  ca = await makeTestCa();
  const server = await ca.issue('kafka', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  client = await ca.issue('client', 'vecrelay');
  // Kafka's PEM key store: the private key, then the certificate chain, in one file.
  const keystore = path.join(ca.dir, 'kafka-keystore.pem');
  writeFileSync(keystore, readFileSync(server.keyFile, 'utf8') + readFileSync(server.certFile, 'utf8'));
  kafka = await startScratchKafka({
    listeners: [
      { name: 'SSL', protocol: 'SSL' },
      { name: 'SASL_SSL', protocol: 'SASL_SSL' },
    ],
    properties: [
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${keystore}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${ca.caFile}`,
      'ssl.client.auth=required',
      // SASL over TLS, with a PLAIN user listed here (SCRAM users would need the storage format).
      'listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_vecrelay="${SASL_PASSWORD}";`,
    ],
  });
});

after(async () => {
  await kafka?.stop();
  ca?.remove();
});

test('the source streams to an SSL listener with mutual TLS (kafka.ssl: caFile, certFile, keyFile)', async () => {
  const table = uniqueName('kssl');
  await ctx.sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(3))`);
  await ctx.sql.query(`INSERT INTO ${table} SELECT g, 'before', '[1,2,3]' FROM generate_series(1, 3) g`);
  const p = pipeline(table);
  const config = writeConfig(p, {
    kafka: {
      brokers: kafka.listeners.SSL,
      topicPrefix: p.topicPrefix,
      partitions: 2,
      replicationFactor: 1,
      ssl: { caFile: ca.caFile, certFile: client.certFile, keyFile: client.keyFile },
    },
  });
  const source = startSource(config);
  const failed = source.exited.then(() => {
    throw new Error(`the source exited:\n${readFileSync(source.logFile, 'utf8')}`);
  });
  failed.catch(() => {});
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const admin = testKafka(kafka.brokers).admin();
  await admin.connect();
  try {
    await Promise.race([
      waitFor('the change topic', async () => (await admin.listTopics()).includes(topic), {
        timeoutMs: 90_000,
      }),
      failed,
    ]);
  } finally {
    await admin.disconnect();
  }
  const hasKeys = (ids: number[]) => (records: Awaited<ReturnType<typeof readTopic>>) =>
    ids.every((id) => records.some((r) => r.key === canonicalKey(['id'], { id: BigInt(id) })));
  // Read back through the broker's PLAINTEXT listener.
  await Promise.race([
    readTopic(topic, hasKeys([1, 2, 3]), { timeoutMs: 120_000, brokers: kafka.brokers }),
    failed,
  ]);
  await ctx.sql.query(`INSERT INTO ${table} VALUES (4, 'after', '[4,5,6]')`);
  await Promise.race([readTopic(topic, hasKeys([4]), { timeoutMs: 60_000, brokers: kafka.brokers }), failed]);
});

test("a CA that did not sign the broker's certificate: the failure names kafka.ssl", async () => {
  const other = await makeTestCa('another CA');
  try {
    const raw = {
      name: 'kssl',
      postgres: { database: 'd', user: 'u', slot: 's', publication: 'p' },
      kafka: {
        brokers: kafka.listeners.SSL,
        ssl: { caFile: other.caFile, certFile: client.certFile, keyFile: client.keyFile },
      },
      tables: [{ table: 'public.t' }],
    };
    const config = parseConfig(stringify(raw), '/etc/vecrelay/kssl.yaml', {});
    const producer = await createEventProducer(kafkaSettings(config));
    try {
      const err = await producer
        .send([{ topic: 'kssl.none', partition: 0, key: Buffer.from('k'), value: null }])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err, 'the broker is not trusted');
      const problem = kafkaSecurityProblem(err, config);
      assert.ok(problem instanceof ConfigError, `a ConfigError from ${String(err)}`);
      assert.match(
        problem.message,
        /kafka\.ssl: the certificate of Kafka \(127\.0\.0\.1:\d+\) does not verify/,
      );
      assert.match(problem.message, /set kafka\.ssl\.caFile/);
    } finally {
      await producer.close();
    }
  } finally {
    other.remove();
  }
});

test('SASL over TLS (kafka.ssl and kafka.sasl together): both clients log in', async () => {
  const raw = {
    name: 'kssl',
    postgres: { database: 'd', user: 'u', slot: 's', publication: 'p' },
    kafka: {
      brokers: kafka.listeners.SASL_SSL,
      ssl: { caFile: ca.caFile, certFile: client.certFile, keyFile: client.keyFile },
      sasl: { mechanism: 'PLAIN', username: 'vecrelay', passwordEnv: 'KSSL_PASSWORD' },
    },
    tables: [{ table: 'public.t' }],
  };
  const config = parseConfig(stringify(raw), '/etc/vecrelay/kssl.yaml', { KSSL_PASSWORD: SASL_PASSWORD });
  const topic = `${uniqueName('kssl')}.t`;
  const admin = createKafka(kafkaSettings(config), createLogger({ level: 'silent' })).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const producer = await createEventProducer(kafkaSettings(config));
  try {
    await producer.send([{ topic, partition: 0, key: Buffer.from('k'), value: Buffer.from('v') }]);
  } finally {
    await producer.close();
  }
  const plain = testKafka(kafka.brokers).admin();
  await plain.connect();
  try {
    const [offsets] = await plain.fetchTopicOffsets(topic);
    assert.equal(offsets?.high, '1', 'the record is stored');
  } finally {
    await plain.disconnect();
  }
});
