// The local stack's PostgreSQL: pgvector is installed, and a logical replication connection
// decodes a pgvector change through pgoutput in text and in binary mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';

/** pgoutput as shipped cannot ask for binary columns; the product's source subclasses it the same way. */
class BinaryPgoutputPlugin extends PgoutputPlugin {
  override start(client: pg.Client, slotName: string, lastLsn: string) {
    const options = [
      `proto_version '1'`,
      `publication_names '${this.options.publicationNames.join(',')}'`,
      `binary 'true'`,
    ];
    return client.query(`START_REPLICATION SLOT "${slotName}" LOGICAL ${lastLsn} (${options.join(', ')})`);
  }
}

const env = stackEnv();
const sql = new pg.Client({ connectionString: env.pgUrl });
const table = uniqueName('stack_items');
const publication = uniqueName('stack_pub');

before(async () => {
  await sql.connect();
  await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY, embedding vector(3), title text)`);
  await sql.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
});

after(async () => {
  await sql.query(`DROP PUBLICATION IF EXISTS ${publication}`);
  await sql.query(`DROP TABLE IF EXISTS ${table}`);
  await sql.end();
});

test('pgvector is installed and CREATE EXTENSION vector works', async () => {
  const { rows } = await sql.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'vector'`,
  );
  assert.equal(rows.length, 1);
  assert.match(rows[0]!.extversion, /^0\.\d+\.\d+$/);
  const { rows: dist } = await sql.query<{ d: number }>(
    `SELECT '[1,2,3]'::vector <-> '[1,2,4]'::vector AS d`,
  );
  assert.equal(dist[0]!.d, 1);
});

test('the cluster runs with wal_level=logical', async () => {
  const { rows } = await sql.query<{ wal_level: string }>('SHOW wal_level');
  assert.equal(rows[0]!.wal_level, 'logical');
});

/** An int4 column as pgoutput sends it: a number in text mode, 4 big-endian bytes in binary mode. */
function intColumn(value: unknown): number | undefined {
  if (Buffer.isBuffer(value)) return value.readInt32BE(0);
  return typeof value === 'number' ? value : undefined;
}

/** Streams the slot until the insert of row `id` arrives, then stops and returns it. */
async function captureInsert(
  plugin: PgoutputPlugin,
  slot: string,
  id: number,
): Promise<Pgoutput.MessageInsert> {
  const service = new LogicalReplicationService(
    { ...env.pg, replication: 'database' } as pg.ClientConfig,
    // No timer acknowledgements (they would confirm positions nobody stored); nothing is acknowledged here.
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  let found: Pgoutput.MessageInsert | undefined;
  service.on('data', (_lsn: string, msg: Pgoutput.Message) => {
    if (msg.tag === 'insert' && msg.relation.name === table && intColumn(msg.new.id) === id) found = msg;
  });
  const errors: Error[] = [];
  service.on('error', (err: Error) => errors.push(err));
  const streaming = service.subscribe(plugin, slot).catch((err: Error) => errors.push(err));
  try {
    return await waitFor(`the insert of id ${id} on slot ${slot}`, () => {
      if (errors.length) throw errors[0];
      return found;
    });
  } finally {
    await service.stop();
    await streaming;
  }
}

async function withSlot<T>(fn: (slot: string) => Promise<T>): Promise<T> {
  const slot = uniqueName('stack_slot');
  await sql.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  try {
    return await fn(slot);
  } finally {
    await waitFor(`slot ${slot} inactive`, async () => {
      const { rows } = await sql.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active`, [
        slot,
      ]);
      return rows.length === 0;
    });
    await sql.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
  }
}

test('pgoutput in text mode decodes a pgvector insert', async () => {
  await withSlot(async (slot) => {
    await sql.query(`INSERT INTO ${table} VALUES (1, '[1,2.5,-3]', 'text mode')`);
    const msg = await captureInsert(
      new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }),
      slot,
      1,
    );
    const column = msg.relation.columns.find((c) => c.name === 'embedding');
    assert.equal(column?.typeName, 'vector');
    assert.equal(column?.typeMod, 3, 'the Relation message carries the dimension as typmod');
    assert.equal(msg.new.embedding, '[1,2.5,-3]');
    assert.equal(msg.new.title, 'text mode');
  });
});

test('pgoutput in binary mode sends a pgvector column in its binary send format', async () => {
  await withSlot(async (slot) => {
    await sql.query(`INSERT INTO ${table} VALUES (2, '[1,2.5,-3]', 'binary mode')`);
    const msg = await captureInsert(
      new BinaryPgoutputPlugin({ protoVersion: 1, publicationNames: [publication] }),
      slot,
      2,
    );
    const raw = msg.new.embedding as Buffer;
    assert.ok(Buffer.isBuffer(raw), 'binary columns arrive as raw bytes');
    // vector_send: int16 dim, int16 unused, dim × float4, network byte order.
    assert.equal(raw.length, 4 + 3 * 4);
    assert.equal(raw.readInt16BE(0), 3);
    assert.equal(raw.readInt16BE(2), 0);
    assert.deepEqual(
      [0, 1, 2].map((i) => raw.readFloatBE(4 + 4 * i)),
      [1, 2.5, -3],
    );
    assert.equal(intColumn(msg.new.id), 2);
    // text's send format is its UTF-8 bytes.
    assert.equal((msg.new.title as Buffer).toString('utf8'), 'binary mode');
  });
});
