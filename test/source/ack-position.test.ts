// The position vecrelay reports to Postgres is exactly the commit end LSN it means, not the
// lsn + 1 that pg-logical-replication's acknowledge(lsn) sends (src/source/postgres/
// replication.ts): T2 begins and writes, T1 writes and commits, T2 commits. Confirming
// T1's end exactly keeps T2 — whose commit record starts there — deliverable after a restart;
// pg-logical-replication's acknowledge(lsn) would have confirmed lsn + 1 and lost T2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { parseLsn, type PgoutputMessage } from '../../src/source/pgoutput/index.js';
import { ReplicationStream } from '../../src/source/postgres/replication.js';
import { connectPg, dropPipeline, slotInfo } from '../helpers/pg.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

let sql: pg.Client;
const table = uniqueName('ackpos');
const slot = uniqueName('ackpos');
before(async () => {
  sql = await connectPg();
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(2))`);
  await sql.query(`CREATE PUBLICATION ${slot} FOR TABLE ${table}`);
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
});
after(async () => {
  await dropPipeline(sql, slot, slot);
  await sql.query(`DROP TABLE IF EXISTS ${table}`);
  await sql.end();
});

function open() {
  const { host, port, user, database } = stackEnv().pg;
  return new ReplicationStream({ host, port, user, database }, slot, slot);
}

test('confirming T1 exactly at its commit end keeps an interleaved T2 deliverable after restart', async () => {
  const t2 = await connectPg();
  try {
    await t2.query('BEGIN');
    await t2.query(`INSERT INTO ${table} VALUES (2, '[2,2]')`);
    await sql.query(`INSERT INTO ${table} VALUES (1, '[1,1]')`);
    await t2.query('COMMIT');
  } finally {
    await t2.end();
  }

  // First session: take T1 only, confirm its end, stop before T2 is processed.
  const first = open();
  let t1End: bigint | undefined;
  const done = first.run({
    onMessage: async (msg: PgoutputMessage) => {
      if (t1End !== undefined || msg.tag !== 'commit') return;
      t1End = msg.endLsn;
      await first.confirm(msg.endLsn);
    },
    onKeepalive: () => {},
    onError: () => {},
  });
  await waitFor('T1 confirmed', async () => {
    const confirmed = (await slotInfo(sql, slot))?.confirmed;
    return t1End !== undefined && confirmed ? parseLsn(confirmed) === t1End : false;
  });
  assert.equal(
    parseLsn((await slotInfo(sql, slot))!.confirmed!),
    t1End,
    'the server received exactly T1’s end LSN',
  );
  await first.stop();
  await done;
  await waitFor('slot released', async () => !(await slotInfo(sql, slot))?.active);

  // Second session: T2 must come again.
  const second = open();
  const inserted: number[] = [];
  const run2 = second.run({
    onMessage: (msg: PgoutputMessage) => {
      if (msg.tag === 'insert') {
        const cell = msg.new[0]!;
        if (cell.kind === 'binary') inserted.push(cell.bytes.readInt32BE(0));
      }
    },
    onKeepalive: () => {},
    onError: () => {},
  });
  try {
    await waitFor('T2 delivered after the restart', () => inserted.includes(2));
    assert.ok(!inserted.includes(1), 'T1, confirmed, is not delivered again');
  } finally {
    await second.stop();
    await run2;
  }
});
