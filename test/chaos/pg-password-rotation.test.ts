// A Postgres password rotated under a running source. Rotated in postgres.passwordFile too (a
// Kubernetes secret volume, a Vault agent's template), the file is read again at each connection:
// when its connections end (a restart, a failover, a pooler), the source reconnects with the new
// password and streams on — no restart, no change lost, no error. Rotated in the role only, the
// next connection is refused, and since retrying cannot fix that it stops (exit 2) naming
// postgres.passwordFile. No password shows in the output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { changeTopic } from '../../src/kafka/topics.js';
import { finalState, readTopic } from '../helpers/kafka.js';
import { createLoginRole, waitSlotStreaming } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { requirePassword, scratchClusterWithVector } from '../helpers/scratch-cluster.js';
import { readLog, writeConfig } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

const ctx = useSourcePipelines({ prefix: 'pwrot' });

/** Ends every backend of `role`, as a server restart or a failover would. */
async function endConnections(db: pg.Client, role: string): Promise<void> {
  await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role]);
}

/** Replaces the file at once, as a secret volume does (the reader never sees half a file). */
function writeAtomically(file: string, text: string): void {
  writeFileSync(`${file}.next`, text);
  renameSync(`${file}.next`, file);
}

test('a Postgres password rotated in postgres.passwordFile: the source reconnects with it and streams on; rotated in the role only, it stops (exit 2) naming postgres.passwordFile', async () => {
  const { cluster, client } = await scratchClusterWithVector({ wal_level: 'logical' }, ctx);
  const { role, password } = await createLoginRole({ sql: client, cleanup: ctx.cleanup }, 'REPLICATION');
  const connection = await requirePassword(cluster, client, role);
  const table = uniqueName('pwrot');
  await client.query(`CREATE TABLE ${table} (id int PRIMARY KEY, title text, embedding vector(3))`);
  // It creates the publication: the table's owner, with CREATE on the database.
  await client.query(`ALTER TABLE ${table} OWNER TO ${role}`);
  await client.query(`GRANT CREATE ON DATABASE ${cluster.database} TO ${role}`);
  const insert = (lo: number, hi: number) =>
    client.query(
      `INSERT INTO ${table} SELECT i, 't' || i, ARRAY[i, 0, 1]::real[]::vector FROM generate_series($1::int, $2::int) i`,
      [lo, hi],
    );
  await insert(1, 50);

  const file = path.join(mkdtempSync(path.join(tmpdir(), 'vecrelay-pw-')), 'password');
  writeFileSync(file, `${password}\n`);
  const p = ctx.pipeline(table, { postgres: { ...connection, passwordFile: file } }, client);
  const source = ctx.startSource(writeConfig(p));
  await waitSlotStreaming(client, p.slot);
  const topic = changeTopic(p.topicPrefix, 'public', table);
  const ids = async (n: number) =>
    [...finalState(await readTopic(topic, (r) => finalState(r).size >= n)).values()]
      .map((e) => Number(e.key.id))
      .sort((a, b) => a - b);

  // Rotated in the role and in the file, then every connection of the source ends.
  const rotated = `pw-${randomBytes(12).toString('hex')}`;
  await client.query(`ALTER ROLE ${role} PASSWORD '${rotated}'`);
  writeAtomically(file, `${rotated}\n`);
  await endConnections(client, role);
  await insert(51, 100);
  await waitSlotStreaming(client, p.slot);
  assert.deepEqual(
    await ids(100),
    Array.from({ length: 100 }, (_, i) => i + 1),
    'every row, those written across the rotation too',
  );
  const errors = readLog(source)
    .split('\n')
    .filter((l) => l.includes('"level":50'));
  assert.deepEqual(errors, [], 'a rotation is no error');
  assert.equal(source.child.exitCode, null, 'still running');

  // Rotated in the role only: the next connection is refused, which no retry fixes.
  const unknown = `pw-${randomBytes(12).toString('hex')}`;
  await client.query(`ALTER ROLE ${role} PASSWORD '${unknown}'`);
  await endConnections(client, role);
  await waitFor('the source to stop', () => source.child.exitCode !== null, { timeoutMs: 60_000 });
  const { code } = await source.exited;
  const log = readLog(source);
  assert.equal(code, 2, `exit 2; log:\n${log.slice(-3000)}`);
  assert.match(log, /password authentication failed/);
  assert.match(
    log,
    new RegExp(`the password in ${file.replace(/[.]/g, '\\.')} \\(postgres\\.passwordFile\\)`),
  );
  for (const secret of [password, rotated, unknown])
    assert.ok(!log.includes(secret), 'no password in the output');
});
