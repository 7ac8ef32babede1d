// Misconfigurations stop the real `vecrelay source` process loudly and precisely (DESIGN.md
// guarantee 7): exit code 2 and a message naming the object and the fix — and a preflight failure
// leaves nothing behind (no slot, no publication, no topics). Settings the stack's cluster must not
// have (wal_level = replica, one slot, a tiny max_slot_wal_keep_size) get a scratch cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { loadConfig } from '../../src/config/load.js';
import { checkTables } from '../../src/source/postgres/preflight.js';
import { topicsWithPrefix } from '../helpers/kafka.js';
import { createLoginRole, slotInfo } from '../helpers/pg.js';
import { useSourcePipelines } from '../helpers/pipeline.js';
import { scratchClusterWithVector, type ScratchCluster } from '../helpers/scratch-cluster.js';
import { writeConfig, type TestPipeline } from '../helpers/source-process.js';
import { uniqueName, waitFor } from '../helpers/stack.js';

// snapshot: never, as these tests are about the checks before streaming, not the snapshot.
const ctx = useSourcePipelines({ prefix: 'pre', defaults: { snapshot: 'never' } });
const { pipeline, startSource } = ctx;

/** Runs the source until it exits (it must, within the timeout); returns its code and output. */
async function runToExit(config: string, env: Record<string, string> = {}, timeoutMs = 90_000) {
  const proc = startSource(config, env);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`vecrelay source still running after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const exit = await Promise.race([proc.exited, timeout]);
    return { ...exit, output: readFileSync(proc.logFile, 'utf8') };
  } catch (err) {
    proc.child.kill('SIGKILL');
    await proc.exited;
    throw new Error(`${(err as Error).message}; output:\n${readFileSync(proc.logFile, 'utf8')}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Exit code 2 (a ConfigError) and, on stderr, `vecrelay: <message>` matching every pattern. */
function assertConfigFailure(run: { code: number | null; output: string }, ...patterns: RegExp[]) {
  assert.equal(run.code, 2, `exit code 2 for a misconfiguration; output:\n${run.output}`);
  const line = run.output.split('\n').find((l) => l.startsWith('vecrelay: '));
  assert.ok(line, `a "vecrelay: ..." line on stderr; output:\n${run.output}`);
  for (const p of patterns) assert.match(line, p);
}

/** A preflight failure creates nothing: no slot, no publication (on `db`), no topics. */
async function assertNothingCreated(db: pg.Client, p: TestPipeline) {
  const slots = await db.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1`, [p.slot]);
  assert.equal(slots.rowCount, 0, `no slot ${p.slot}`);
  const pubs = await db.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [p.publication]);
  assert.equal(pubs.rowCount, 0, `no publication ${p.publication}`);
  assert.deepEqual(await topicsWithPrefix(p.topicPrefix), [], 'no topics');
}

const scratchCluster = (settings: Record<string, string | number>) => scratchClusterWithVector(settings, ctx);

const onScratch = (cluster: ScratchCluster) => ({
  host: cluster.host,
  port: cluster.port,
  user: cluster.user,
  database: cluster.database,
});

/**
 * The slot held by a streaming walsender (not just the one creating it); returns that pid.
 */
async function waitStreaming(db: pg.Client, slot: string): Promise<number> {
  return waitFor(`slot ${slot} streaming`, async () => {
    const { rows } = await db.query<{ pid: number }>(
      `SELECT s.active_pid AS pid FROM pg_replication_slots s
         JOIN pg_stat_replication r ON r.pid = s.active_pid
        WHERE s.slot_name = $1 AND r.state IN ('catchup', 'streaming')`,
      [slot],
    );
    return rows[0]?.pid;
  });
}

async function createTable(db: pg.Client, table: string, columns = 'id int PRIMARY KEY, title text') {
  await db.query(`CREATE TABLE ${table} (${columns}, embedding vector(3))`);
}

const createRole = (options: string) => createLoginRole(ctx, options);

test('wal_level = replica: names the server and the setting, creates nothing', async () => {
  const { cluster, client } = await scratchCluster({ wal_level: 'replica' });
  const table = uniqueName('wal');
  await createTable(client, table);
  const p = pipeline(table, { postgres: onScratch(cluster) }, client);
  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${cluster.port} has wal_level = replica`),
    /ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL/,
  );
  await assertNothingCreated(client, p);
});

test('a table without a primary key: names the table, says add one or REPLICA IDENTITY FULL', async () => {
  const { sql } = ctx;
  const table = uniqueName('nopk');
  await createTable(sql, table, 'id int, title text');
  const p = pipeline(table);
  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(`table public\\.${table} has no primary key`),
    new RegExp(`ALTER TABLE public\\.${table} ADD PRIMARY KEY`),
    new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY FULL`),
  );
  await assertNothingCreated(sql, p);
});

test('REPLICA IDENTITY NOTHING: names the table and the fix', async () => {
  const { sql } = ctx;
  const table = uniqueName('ident');
  await createTable(sql, table);
  await sql.query(`ALTER TABLE ${table} REPLICA IDENTITY NOTHING`);
  const p = pipeline(table);
  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(`table public\\.${table} has REPLICA IDENTITY NOTHING`),
    new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY DEFAULT`),
  );
  await assertNothingCreated(sql, p);
});

test('REPLICA IDENTITY USING INDEX on a unique index that is not the key: names the table, the index and the SQL; creates nothing', async () => {
  const { sql } = ctx;
  const table = uniqueName('ridx');
  await createTable(sql, table, 'id int PRIMARY KEY, title text NOT NULL UNIQUE');
  await sql.query(`ALTER TABLE ${table} REPLICA IDENTITY USING INDEX ${table}_title_key`);
  const p = pipeline(table);
  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(
      `table public\\.${table} has REPLICA IDENTITY USING INDEX ${table}_title_key \\(title\\), which lacks id`,
    ),
    new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY DEFAULT`),
    new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY USING INDEX ${table}_pkey`),
    new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY FULL`),
  );
  await assertNothingCreated(sql, p);
});

/** The preflight's table checks on the stack's database, as `vecrelay source` runs them. */
async function checkIdentity(table: string, columns: string, setup: string[], key?: string[]) {
  const { sql } = ctx;
  await createTable(sql, table, columns);
  for (const statement of setup) await sql.query(statement);
  const p = pipeline(table, { tables: [{ table: `public.${table}`, ...(key ? { key } : {}) }] });
  return checkTables(sql, loadConfig(writeConfig(p)));
}

test('a replica identity index without every key column is refused, naming the index and the fix', async () => {
  const table = uniqueName('ridx');
  await assert.rejects(
    checkIdentity(
      table,
      'tenant int, id int, title text, PRIMARY KEY (tenant, id)',
      [
        `CREATE UNIQUE INDEX ${table}_id ON ${table} (id)`,
        `ALTER TABLE ${table} REPLICA IDENTITY USING INDEX ${table}_id`,
      ],
      ['tenant', 'id'],
    ),
    (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          `table public\\.${table} has REPLICA IDENTITY USING INDEX ${table}_id \\(id\\), which lacks tenant`,
        ),
      );
      assert.match(err.message, new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY DEFAULT`));
      assert.match(err.message, new RegExp(`REPLICA IDENTITY USING INDEX ${table}_pkey`));
      return true;
    },
  );
});

test('REPLICA IDENTITY DEFAULT with a tables[].key that is not the primary key is refused, naming a unique index of the key', async () => {
  const table = uniqueName('rdef');
  await assert.rejects(
    checkIdentity(
      table,
      'id int PRIMARY KEY, ext text NOT NULL, title text',
      [`CREATE UNIQUE INDEX ${table}_ext ON ${table} (ext)`],
      ['ext'],
    ),
    (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          `table public\\.${table}: REPLICA IDENTITY DEFAULT logs its primary key \\(id\\), which lacks ext`,
        ),
      );
      assert.match(
        err.message,
        new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY USING INDEX ${table}_ext`),
      );
      assert.match(err.message, new RegExp(`ALTER TABLE public\\.${table} REPLICA IDENTITY FULL`));
      return true;
    },
  );
});

test('a replica identity index that carries the key passes: the primary key index, another over its columns, one over tables[].key', async () => {
  const onPk = uniqueName('rok');
  const [a] = await checkIdentity(onPk, 'id int PRIMARY KEY, title text', [
    `ALTER TABLE ${onPk} REPLICA IDENTITY USING INDEX ${onPk}_pkey`,
  ]);
  assert.deepEqual([a!.key, a!.replicaIdentity], [['id'], 'index']);

  const samePk = uniqueName('rok');
  const [b] = await checkIdentity(samePk, 'id int PRIMARY KEY, title text', [
    `CREATE UNIQUE INDEX ${samePk}_id ON ${samePk} (id)`,
    `ALTER TABLE ${samePk} REPLICA IDENTITY USING INDEX ${samePk}_id`,
  ]);
  assert.deepEqual([b!.key, b!.replicaIdentity], [['id'], 'index']);

  const onKey = uniqueName('rok');
  const [c] = await checkIdentity(
    onKey,
    'id int PRIMARY KEY, ext text NOT NULL, title text',
    [
      `CREATE UNIQUE INDEX ${onKey}_ext ON ${onKey} (ext)`,
      `ALTER TABLE ${onKey} REPLICA IDENTITY USING INDEX ${onKey}_ext`,
    ],
    ['ext'],
  );
  assert.deepEqual([c!.key, c!.replicaIdentity], [['ext'], 'index']);
});

test('a role without REPLICATION: names the role and ALTER ROLE ... REPLICATION; no password shown', async () => {
  const { sql } = ctx;
  const table = uniqueName('norepl');
  await createTable(sql, table);
  const { role, password, passwordEnv, env } = await createRole('NOREPLICATION');
  await sql.query(`GRANT SELECT ON ${table} TO ${role}`);
  const p = pipeline(table, { postgres: { user: role, passwordEnv } });
  const run = await runToExit(writeConfig(p), env);
  assertConfigFailure(
    run,
    new RegExp(`role ${role} may not stream changes`),
    new RegExp(`ALTER ROLE ${role} REPLICATION`),
  );
  assert.ok(!run.output.includes(password), 'the password never appears in the output');
  await assertNothingCreated(sql, p);
});

test('a role with REPLICATION but no SELECT: names the table and GRANT SELECT; no password shown', async () => {
  const { sql } = ctx;
  const table = uniqueName('nosel');
  await createTable(sql, table);
  const { role, password, passwordEnv, env } = await createRole('REPLICATION');
  const p = pipeline(table, { postgres: { user: role, passwordEnv } });
  const run = await runToExit(writeConfig(p), env);
  assertConfigFailure(
    run,
    new RegExp(`role ${role} may not read public\\.${table}`),
    new RegExp(`GRANT SELECT ON public\\.${table} TO ${role}`),
  );
  assert.ok(!run.output.includes(password), 'the password never appears in the output');
  await assertNothingCreated(sql, p);
});

test('a role that may not create the publication: names it and the statement; once run, it streams', async () => {
  const { sql } = ctx;
  const table = uniqueName('noown');
  await createTable(sql, table);
  const { role, password, passwordEnv, env } = await createRole('REPLICATION');
  await sql.query(`GRANT SELECT ON ${table} TO ${role}`);
  const p = pipeline(table, { postgres: { user: role, passwordEnv } });
  const config = writeConfig(p);
  const run = await runToExit(config, env);
  const statement = `CREATE PUBLICATION "${p.publication}" FOR TABLE "public"."${table}" WITH (publish_via_partition_root = true)`;
  assertConfigFailure(
    run,
    new RegExp(`role ${role} may not create publication ${p.publication}`),
    new RegExp(statement.replace(/[()]/g, '\\$&')),
  );
  assert.ok(!run.output.includes(password), 'the password never appears in the output');
  await assertNothingCreated(sql, p);

  // The fix the message gives: the owner creates the publication, the role then reuses it.
  await sql.query(statement);
  const source = startSource(config, env);
  await waitStreaming(sql, p.slot);
  source.child.kill('SIGTERM');
  assert.equal((await source.exited).code, 0, 'the source streamed and stopped cleanly');
});

test('a slot streaming to another process: names the slot and its pid, leaves it alone', async () => {
  const { sql } = ctx;
  const table = uniqueName('busy');
  await createTable(sql, table);
  const p = pipeline(table);
  const first = startSource(writeConfig(p));
  const pid = await waitStreaming(sql, p.slot);

  const run = await runToExit(writeConfig({ ...p, source: { slotBusyRetries: 1 } }));
  assertConfigFailure(
    run,
    new RegExp(`replication slot ${p.slot} is in use by another process \\(pid ${pid}\\)`),
    new RegExp(`pg_terminate_backend\\(${pid}\\)`),
    /its own postgres\.slot/,
  );
  const still = await slotInfo(sql, p.slot);
  assert.equal(still?.active_pid, pid, 'the first source still holds the slot');

  first.child.kill('SIGTERM');
  assert.equal((await first.exited).code, 0, 'the first source stops cleanly');
});

test('a slot with wal_status = lost: says WAL was lost and to teardown and re-snapshot', async () => {
  const { cluster, client } = await scratchCluster({
    wal_level: 'logical',
    max_slot_wal_keep_size: "'1MB'",
    wal_keep_size: 0,
    min_wal_size: "'32MB'",
    max_wal_size: "'32MB'",
  });
  const table = uniqueName('lost');
  await createTable(client, table);
  const p = pipeline(table, { postgres: onScratch(cluster) }, client);
  await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [p.slot]);
  // Nobody reads the slot: new WAL segments and checkpoints push its restart_lsn out of
  // max_slot_wal_keep_size, and the checkpointer invalidates it.
  let i = 0;
  await waitFor('the slot to lose its WAL', async () => {
    await client.query(`INSERT INTO ${table} VALUES ($1, 'x', '[1,2,3]')`, [++i]);
    await client.query('SELECT pg_switch_wal()');
    await client.query('CHECKPOINT');
    const { rows } = await client.query<{ wal_status: string }>(
      `SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1`,
      [p.slot],
    );
    return rows[0]?.wal_status === 'lost';
  });

  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(`replication slot ${p.slot} has lost WAL it needed \\(wal_status = lost`),
    new RegExp(`vecrelay teardown\` \\(or SELECT pg_drop_replication_slot\\('${p.slot}'\\)\\)`),
    /new snapshot/,
  );
});

test('no free replication slot: names max_replication_slots, creates nothing', async () => {
  const { cluster, client } = await scratchCluster({ wal_level: 'logical', max_replication_slots: 1 });
  const table = uniqueName('slots');
  await createTable(client, table);
  await client.query(`SELECT pg_create_physical_replication_slot('someone_elses')`);
  const p = pipeline(table, { postgres: onScratch(cluster) }, client);
  const run = await runToExit(writeConfig(p));
  assertConfigFailure(
    run,
    new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${cluster.port} has no free replication slot`),
    /1 of max_replication_slots = 1 used/,
    /pg_drop_replication_slot|raise max_replication_slots/,
  );
  await assertNothingCreated(client, p);
});

test('an invalid config file: exit code 2, stderr names the file and the field', async () => {
  const table = uniqueName('cfg');
  const p = pipeline(table, { slot: 'Not_A_Slot' });
  const config = writeConfig(p);
  const run = await runToExit(config);
  const file = config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assertConfigFailure(run, new RegExp(`^vecrelay: ${file}: postgres\\.slot: a replication slot name`));
});
