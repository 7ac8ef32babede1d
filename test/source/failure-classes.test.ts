// How the source sorts its failures (no servers needed): what retrying cannot fix becomes a
// ConfigError with plan's message; a lost connection is retried; each failure is put on the right
// system (a Kafka error is never reported as PostgreSQL's); one warning per outage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { parseConfig } from '../../src/config/load.js';
import { isKafkaAuthError, kafkaAuthProblem } from '../../src/plan/kafka.js';
import { ConfigError, RetriableError, VecrelayError } from '../../src/shared/errors.js';
import type { Logger } from '../../src/shared/log.js';
import { classifyPgError } from '../../src/source/postgres/errors.js';
import { OutageLog, failedSystem } from '../../src/source/outage.js';

// kafkajs is CommonJS: its error classes are on the default export only.
const { KafkaJSConnectionError } = kafkajs;

const config = parseConfig(
  JSON.stringify({
    name: 'p',
    postgres: { host: 'db', port: 5433, database: 'app', user: 'u', slot: 's', publication: 'p' },
    kafka: { brokers: ['k1:9092', 'k2:9092'] },
    tables: [{ table: 'public.items' }],
  }),
  'p.json',
  {},
);
const target = { host: 'db', port: 5433, database: 'app', user: 'u' };
const pgError = (code: string, message: string) =>
  Object.assign(new Error(message), { code, severity: 'FATAL' });

test('a wrong password, an unknown database, a refused role: ConfigError with the connection message', () => {
  for (const [code, message] of [
    ['28P01', 'password authentication failed for user "u"'],
    ['3D000', 'database "app" does not exist'],
    ['28000', 'no pg_hba.conf entry for host'],
  ]) {
    const err = classifyPgError(
      pgError(code!, message!),
      target,
      'the password in PW (postgres.passwordEnv)',
      true,
    );
    assert.ok(err instanceof ConfigError, code);
    assert.match(err.message, /^cannot connect to PostgreSQL u@db:5433\/app: /);
    assert.ok(err.message.includes(message!));
    assert.match(err.message, /the password in PW \(postgres\.passwordEnv\)/);
  }
});

test('a restart (57P01, 57P03), a refused or reset connection: retried', () => {
  for (const err of [
    pgError('57P01', 'terminating connection due to administrator command'),
    pgError('57P03', 'the database system is starting up'),
    Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5433'), { code: 'ECONNREFUSED', port: 5433 }),
    new Error('Connection terminated unexpectedly'),
  ]) {
    const classified = classifyPgError(err, target, 'pw');
    assert.ok(classified instanceof RetriableError, err.message);
    assert.match(classified.message, /^PostgreSQL at db:5433 \(postgres\.host\/postgres\.port\)/);
  }
  const bug = new TypeError('x is not a function');
  assert.equal(classifyPgError(bug, target, 'pw'), bug, 'anything else is left as it is');
});

test('each failure is put on its system', () => {
  const kafkajs = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { broker: 'k1:9092' });
  const platformatic = Object.assign(new Error('Producing messages failed.'), { code: 'PLT_KFK_MULTIPLE' });
  const wrapped = new VecrelayError('Kafka did not store a batch: Producing messages failed.', {
    cause: platformatic,
  });
  assert.equal(failedSystem(kafkajs, config), 'Kafka');
  assert.equal(failedSystem(platformatic, config), 'Kafka');
  assert.equal(failedSystem(wrapped, config), 'Kafka');
  assert.equal(failedSystem(pgError('57P01', 'terminating connection'), config), 'PostgreSQL');
  assert.equal(
    failedSystem(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', port: 5433 }),
      config,
    ),
    'PostgreSQL',
  );
  assert.equal(failedSystem(new Error('Connection terminated unexpectedly'), config), 'PostgreSQL');
  assert.equal(failedSystem(new TypeError('oops'), config), 'unknown');
});

test('one warning per outage naming the system and its config field; retries at debug; then "back"', () => {
  const lines: Array<[string, string]> = [];
  const at = (level: string) => (_obj: unknown, msg: string) => lines.push([level, msg]);
  const log = { warn: at('warn'), debug: at('debug'), info: at('info') } as unknown as Logger;
  const outages = new OutageLog(log, config);
  const down = pgError('57P01', 'terminating connection due to administrator command');
  outages.failed(down, 500);
  outages.failed(
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', port: 5433 }),
    1000,
  );
  outages.recovered();
  outages.failed(new KafkaJSConnectionError('Connection error'), 2000);
  assert.deepEqual(
    lines.map(([level]) => level),
    ['warn', 'debug', 'info', 'warn'],
  );
  assert.equal(
    lines[0]![1],
    'PostgreSQL at db:5433 (postgres.host, postgres.port) is unavailable: terminating connection due to administrator command; reconnecting in 0.5 s',
  );
  assert.equal(lines[2]![1], 'PostgreSQL is back: resumed');
  assert.match(lines[3]![1], /^Kafka at k1:9092, k2:9092 \(kafka\.brokers\) is unavailable: /);
});

test('Kafka refusing the credentials is not an outage: named as kafka.sasl, not retried', () => {
  // Its typings declare no arguments; the class takes the message like every KafkaJSError.
  const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
  const sasl = new SaslError('SASL SCRAM SHA256 authentication failed');
  const platformatic = new VecrelayError('Kafka did not store a batch: auth', {
    cause: Object.assign(new Error('Authentication failed.'), { code: 'PLT_KFK_AUTHENTICATION' }),
  });
  assert.ok(isKafkaAuthError(sasl));
  assert.ok(isKafkaAuthError(platformatic));
  assert.ok(!isKafkaAuthError(new KafkaJSConnectionError('Connection error')));
  const problem = kafkaAuthProblem(['k1:9092'], sasl);
  assert.equal(problem.object, 'kafka.sasl');
  assert.match(
    problem.message,
    /^Kafka at k1:9092 refused the credentials: SASL SCRAM SHA256 authentication failed/,
  );
});
