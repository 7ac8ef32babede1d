// The log format: JSON lines for a collector, one readable line per entry on a terminal
// (pino-pretty), chosen by VECRELAY_LOG_FORMAT when set. Secrets are redacted in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createLogger, logFormat } from '../../src/shared/log.js';
import { repoRoot } from '../helpers/stack.js';

test('the format follows VECRELAY_LOG_FORMAT, else the terminal: pretty on a TTY, JSON on a pipe', () => {
  assert.equal(logFormat(1, { VECRELAY_LOG_FORMAT: 'json' }), 'json');
  assert.equal(logFormat(1, { VECRELAY_LOG_FORMAT: 'PRETTY' }), 'pretty');
  // The test runner's stdout is not a terminal.
  assert.equal(logFormat(1, {}), 'json');
});

/** What a child process logs with `format`: a warn with an error, an error with one, a secret. */
function logged(format: 'json' | 'pretty'): string {
  const script = `
    import { createLogger } from './src/shared/log.ts';
    const log = createLogger().child({ stage: 'sink' }).child({ component: 'writer' });
    log.warn({ err: new Error('Qdrant answered 503') }, 'retrying');
    log.error({ err: new Error('boom') }, 'stopped by an unexpected error');
    log.info({ password: 'hunter2' }, 'connected');
  `;
  return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, VECRELAY_LOG_FORMAT: format, NO_COLOR: '1' },
  });
}

test('pretty: one line per entry naming stage/component, the error message inline; a stack only at error level', () => {
  const lines = logged('pretty').split('\n').filter(Boolean);
  assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: sink\/writer: retrying \(Qdrant answered 503\)$/);
  assert.match(lines[1]!, /^\[[\d:.]+\] ERROR: sink\/writer: stopped by an unexpected error \(boom\)$/);
  assert.match(lines[2]!, /^ {4}Error: boom$/, 'the stack of an error-level entry follows, indented');
  const info = lines.find((l) => l.includes('connected'))!;
  assert.match(info, /INFO: sink\/writer: connected/);
  assert.doesNotMatch(info, /hunter2/);
  assert.ok(
    lines.every((l) => !l.startsWith('{')),
    'no JSON',
  );
});

test('json: one object per line, stage and component once each, secrets redacted', () => {
  const lines = logged('json').split('\n').filter(Boolean);
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const entry = JSON.parse(line) as { stage: string; component: string };
    assert.equal(entry.stage, 'sink');
    assert.equal(entry.component, 'writer');
    assert.equal(line.match(/"component":/g)!.length, 1);
  }
  assert.doesNotMatch(lines[2]!, /hunter2/);
});

test('json: a loaded config, a Postgres client config and Kafka settings log none of their secrets', () => {
  const lines: string[] = [];
  const log = createLogger({ stream: { write: (line: string) => void lines.push(line) } });
  // Plain objects, as a LoadedConfig (config/load.ts) would look without secrets.ts' own marks.
  const config = {
    name: 'orders',
    postgres: { host: 'db', passwordEnv: 'PGPASSWORD', ssl: { mode: 'verify-full', keyFile: '/k.pem' } },
    postgresPassword: 'pg-secret-1',
    qdrantApiKey: 'qdrant-secret-2',
    postgresSsl: { rejectUnauthorized: true, cert: 'CERT', key: 'pg-tls-key-3' },
    kafkaSecurity: {
      tls: { key: 'kafka-tls-key-4' },
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'relay', password: 'sasl-secret-5' },
    },
  };
  const secrets = /pg-secret-1|qdrant-secret-2|pg-tls-key-3|kafka-tls-key-4|sasl-secret-5/;
  log.info(config, 'the config itself');
  log.info({ config }, 'the config under a key');
  log.info({ client: { user: 'relay', password: 'pg-secret-1', ssl: { key: 'pg-tls-key-3' } } }, 'pg');
  log.info({ settings: { security: config.kafkaSecurity } }, 'kafka settings');
  assert.equal(lines.length, 4);
  for (const line of lines) assert.doesNotMatch(line, secrets, line);
  // What is not secret stays readable.
  assert.match(lines[0]!, /"keyFile":"\/k.pem"/);
  assert.match(lines[1]!, /"name":"orders"/);
});
