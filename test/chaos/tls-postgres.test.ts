// postgres.ssl against a server that accepts only TLS (pg_hba.conf: hostssl lines only, as RDS
// with rds.force_ssl): a scratch cluster with `ssl = on` and a self-signed CA and server
// certificate made here with openssl. The source streams through it with verify-full (snapshot
// and replication connections both encrypted); without postgres.ssl it stops at once (exit 2)
// naming postgres.ssl; each sslmode checks what libpq's does; a client certificate logs in.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { canonicalKey } from '../../src/event/key.js';
import { changeTopic } from '../../src/kafka/topics.js';
import { ConfigError } from '../../src/shared/errors.js';
import { connectClient, pgClientConfig } from '../../src/source/postgres/connect.js';
import { readTopic, topicsWithPrefix } from '../helpers/kafka.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { startScratchCluster, type ScratchCluster } from '../helpers/scratch-cluster.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';
import { makeTestCa, type TestCa } from '../helpers/tls-certs.js';
import { execVecrelay } from '../helpers/vecrelay-exec.js';

const ctx = useSourcePipelines({ prefix: 'tlspg' });
const { pipeline, startSource } = ctx;

/** The role that logs in with a client certificate (its CN) and nothing else. */
const CERT_USER = 'vecrelay_cert';

let ca: TestCa;
let client: { certFile: string; keyFile: string };
let cluster: ScratchCluster;
/** The superuser, over TLS (nothing else is accepted over TCP). */
let db: pg.Client;

before(async () => {
  ca = await makeTestCa();
  // The server answers to 127.0.0.1 and localhost; 127.0.0.2 (it listens there too) is not on
  // its certificate.
  const server = await ca.issue('server', 'localhost', 'DNS:localhost,IP:127.0.0.1');
  client = await ca.issue('client', CERT_USER);
  const hba = path.join(ca.dir, 'pg_hba.conf');
  writeFileSync(
    hba,
    [
      'local all all trust',
      `hostssl all ${CERT_USER} 127.0.0.0/8 cert`,
      'hostssl all all 127.0.0.0/8 trust',
      'hostssl replication all 127.0.0.0/8 trust',
    ].join('\n') + '\n',
  );
  await ca.handToPostgres();
  cluster = await startScratchCluster({
    listen_addresses: "'127.0.0.1,127.0.0.2'",
    wal_level: 'logical',
    ssl: 'on',
    ssl_cert_file: `'${server.certFile}'`,
    ssl_key_file: `'${server.keyFile}'`,
    ssl_ca_file: `'${ca.caFile}'`,
    hba_file: `'${hba}'`,
  });
  db = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: cluster.user,
    database: cluster.database,
    ssl: { ca: readFileSync(ca.caFile, 'utf8') },
  });
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS vector');
  await db.query(`CREATE ROLE ${CERT_USER} LOGIN`);
});

after(async () => {
  await db?.end().catch(() => {});
  await cluster?.stop();
  ca?.remove();
});

const onCluster = (ssl?: Record<string, unknown>, host = '127.0.0.1') => ({
  host,
  port: cluster.port,
  user: cluster.user,
  database: cluster.database,
  ...(ssl ? { ssl } : {}),
});

/** A loaded config for the in-process connection checks. */
function loaded(postgres: Record<string, unknown>) {
  const raw = {
    name: 'tls',
    postgres: { slot: 'unused', publication: 'unused', ...postgres },
    kafka: { brokers: ['127.0.0.1:9'] },
    tables: [{ table: 'public.unused' }],
  };
  return parseConfig(stringify(raw), '/etc/vecrelay/tls.yaml', {});
}

/** Connects as the config says; returns whether the session is encrypted, and its client DN. */
async function sessionTls(postgres: Record<string, unknown>) {
  const config = loaded(postgres);
  const c = await connectClient(pgClientConfig(config), { config });
  try {
    const { rows } = await c.query<{ ssl: boolean; client_dn: string | null }>(
      'SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    assert.ok(rows[0], 'pg_stat_ssl has the session');
    return rows[0];
  } finally {
    await c.end();
  }
}

async function connectFails(postgres: Record<string, unknown>, ...patterns: RegExp[]) {
  await assert.rejects(
    () => sessionTls(postgres),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

async function createTable(table: string) {
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(3))`);
}

test('verify-full against the CA: the source snapshots and streams through TLS, every connection encrypted', async () => {
  const table = uniqueName('tls');
  await createTable(table);
  await db.query(`INSERT INTO ${table} SELECT g, 'before ' || g, '[1,2,3]' FROM generate_series(1, 3) g`);
  const p = pipeline(table, { postgres: onCluster({ mode: 'verify-full', caFile: ca.caFile }) }, db);
  const config = writeConfig(p);
  const source = startSource(config);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const arrived = (ids: number[]) => (records: Awaited<ReturnType<typeof readTopic>>) =>
    ids.every((id) => records.some((r) => r.key === canonicalKey(['id'], { id: BigInt(id) })));
  const failed = source.exited.then(() => {
    throw new Error(`the source exited:\n${readFileSync(source.logFile, 'utf8')}`);
  });
  failed.catch(() => {});
  await Promise.race([
    waitFor('the change topic', async () => (await topicsWithPrefix(p.topicPrefix)).includes(topic), {
      timeoutMs: 60_000,
    }),
    failed,
  ]);
  await Promise.race([readTopic(topic, arrived([1, 2, 3]), { timeoutMs: 120_000 }), failed]);

  // Streaming now: the walsender and the admin session are TLS sessions.
  const sessions = await waitFor('the source streaming through a walsender', async () => {
    const { rows } = await db.query<{ backend_type: string; ssl: boolean }>(
      `SELECT a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
        WHERE a.application_name = $1`,
      [`vecrelay:${p.name}`],
    );
    return rows.some((r) => r.backend_type === 'walsender') ? rows : undefined;
  });
  assert.ok(
    sessions.every((s) => s.ssl),
    `every vecrelay session encrypted: ${JSON.stringify(sessions)}`,
  );

  await db.query(`INSERT INTO ${table} VALUES (4, 'after', '[4,5,6]'), (5, 'after', NULL)`);
  await Promise.race([readTopic(topic, arrived([4, 5]), { timeoutMs: 60_000 }), failed]);

  // The operator's commands connect the same way: status reads the slot through TLS.
  const status = await execVecrelay(['status', '--config', config, '--json'], { timeoutMs: 60_000 });
  const report = JSON.parse(status.stdout.trim().split('\n').at(-1) ?? '{}') as {
    slot?: { name: string; exists: boolean };
  };
  assert.deepEqual(
    { name: report.slot?.name, exists: report.slot?.exists },
    { name: p.slot, exists: true },
    `status saw the slot; output:\n${status.stdout}\n${status.stderr}`,
  );
});

test('no postgres.ssl, the server accepts only TLS: exit 2 naming postgres.ssl, nothing created', async () => {
  const table = uniqueName('notls');
  await createTable(table);
  const p: TestPipeline = pipeline(table, { postgres: onCluster() }, db);
  const proc = startSource(writeConfig(p));
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    proc.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the source still runs after 30 s')), 30_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const output = readFileSync(proc.logFile, 'utf8');
  assert.equal(exit.code, 2, `exit code 2; output:\n${output}`);
  assert.ok(Date.now() - started < 15_000, 'stops at once, no retries');
  const line = output.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line; output:\n${output}`);
  assert.match(line, /postgres\.ssl: PostgreSQL at 127\.0\.0\.1:\d+ accepts only TLS connections/);
  assert.match(line, /set postgres\.ssl \(mode: verify-full, caFile: /);
  const pubs = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [p.publication]);
  assert.equal(pubs.rowCount, 0, 'no publication');
  assert.deepEqual(await topicsWithPrefix(p.topicPrefix), [], 'no topics');
});

test("sslmodes check what libpq's do: the name for verify-full, the CA for verify-ca, nothing for require", async () => {
  // 127.0.0.2 is the server, but not a name on its certificate.
  await connectFails(
    onCluster({ mode: 'verify-full', caFile: ca.caFile }, '127.0.0.2'),
    /postgres\.ssl: PostgreSQL at 127\.0\.0\.2:\d+ sent a certificate for another name/,
    /postgres\.host|verify-ca/,
  );
  assert.equal(
    (await sessionTls(onCluster({ mode: 'verify-ca', caFile: ca.caFile }, '127.0.0.2'))).ssl,
    true,
  );
  assert.equal((await sessionTls(onCluster({ mode: 'require' }, '127.0.0.2'))).ssl, true);
  assert.equal((await sessionTls(onCluster({ mode: 'prefer' }))).ssl, true);
  // A CA that did not sign the server's certificate.
  const other = await makeTestCa('another CA');
  try {
    await connectFails(
      onCluster({ mode: 'verify-ca', caFile: other.caFile }),
      /postgres\.ssl: .* sent a certificate that does not verify/,
      new RegExp(`against ${other.caFile.replaceAll('.', '\\.')}`),
      /set postgres\.ssl\.caFile/,
    );
    // libpq: require with a root certificate checks the chain like verify-ca.
    await connectFails(onCluster({ mode: 'require', caFile: other.caFile }), /does not verify/);
  } finally {
    other.remove();
  }
});

test('a client certificate logs in a role that pg_hba.conf lets in only by certificate', async () => {
  const withCert = {
    mode: 'verify-full',
    caFile: ca.caFile,
    certFile: client.certFile,
    keyFile: client.keyFile,
  };
  const session = await sessionTls({ ...onCluster(withCert), user: CERT_USER });
  assert.equal(session.ssl, true);
  assert.equal(session.client_dn, `/CN=${CERT_USER}`);
  await connectFails(
    { ...onCluster({ mode: 'verify-full', caFile: ca.caFile }), user: CERT_USER },
    /postgres\.ssl: .* refused the client certificate/,
    /postgres\.ssl\.certFile and keyFile/,
  );
});
