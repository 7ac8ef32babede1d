// The operator commands' Postgres connection (src/ops/connect.ts): made by connectClient, so it
// has an 'error' listener (a terminated backend does not end the process) and a failure that
// names its own fix (postgres.ssl) is reported as it is, not as "check its address".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/log.js';
import { Unreachable, connectPostgres, openOps } from '../../src/ops/connect.js';
import { connectPg } from '../helpers/pg.js';
import { stackEnv, waitFor } from '../helpers/stack.js';

const log = createLogger({ level: 'silent' });

function loaded(postgres: Record<string, unknown>) {
  const { pg } = stackEnv();
  const raw = {
    name: 'opsconnect',
    postgres: {
      host: pg.host,
      port: pg.port,
      user: pg.user,
      database: pg.database,
      slot: 'unused',
      publication: 'unused',
      ...postgres,
    },
    kafka: { brokers: stackEnv().kafkaBrokers },
    tables: [{ table: 'public.unused' }],
  };
  return parseConfig(stringify(raw), '/etc/vecrelay/ops.yaml', {});
}

test('a backend terminated under an idle ops connection fails its next query, not the process', async () => {
  const sql = await connectPostgres(loaded({}), log);
  const admin = await connectPg();
  try {
    const pid = (await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    // pg emits 'error' on the idle client: without a listener the test process would die here.
    await waitFor(
      'the next query to fail',
      () =>
        sql.query('SELECT 1').then(
          () => false,
          () => true,
        ),
      {
        timeoutMs: 30_000,
      },
    );
  } finally {
    await sql.end().catch(() => {});
    await admin.end();
  }
});

test('postgres.ssl against a server without TLS: the message names postgres.ssl and its fix', async () => {
  // The stack's PostgreSQL runs with ssl = off.
  const config = loaded({ ssl: { mode: 'require' } });
  await assert.rejects(connectPostgres(config, log), (err: unknown) => {
    assert.ok(err instanceof Unreachable, 'status reports it beside the other systems');
    assert.match(
      err.message,
      /^\/etc\/vecrelay\/ops\.yaml: postgres\.ssl: PostgreSQL at .* does not offer TLS/,
    );
    return true;
  });
  await assert.rejects(openOps(config, log), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /postgres\.ssl\.mode: disable$/, 'its own fix, nothing appended');
    return true;
  });
});

test('a dead port: the message names PostgreSQL, where, and the config fields', async () => {
  await assert.rejects(openOps(loaded({ port: 9 }), log), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /^PostgreSQL at 127\.0\.0\.1:9 \(postgres\.host, postgres\.port\): .*ECONNREFUSED.*: check its address and credentials, and that it runs$/,
    );
    return true;
  });
});
