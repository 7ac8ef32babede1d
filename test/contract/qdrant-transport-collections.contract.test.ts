// Contract, over REST and gRPC alike (transports.ts): collections (create, info, update, exists,
// list, delete), aliases, and the error classes a client acts on — a missing collection is
// NOT_FOUND / 404, a wrong vector dimension INVALID_ARGUMENT / 400, a second create of one name
// ALREADY_EXISTS / 409 — with the same message text on both (docs/qdrant.md "gRPC").
import assert from 'node:assert/strict';
import { uniqueName } from '../helpers/stack.js';
import { collection, dropCollection, single } from './qdrant-helpers.js';
import { overBoth, TransportError, type ErrorKind, type Transport } from './transports.js';

async function fails(p: Promise<unknown>, kind: ErrorKind, prefix: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TransportError, `not a TransportError: ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.ok(err.message.startsWith(prefix), `${JSON.stringify(err.message)} does not start with ${prefix}`);
    return true;
  });
}

/** A fresh collection created through the transport under test, dropped when the test ends. */
async function created(t: Parameters<typeof collection>[0], tr: Transport, body: Record<string, unknown>) {
  const name = uniqueName('contract');
  t.after(() => dropCollection(name));
  await tr.createCollection(name, body);
  return name;
}

overBoth('create, info, exists, list, delete', async (t, tr) => {
  const name = await created(t, tr, { vectors: { size: 4, distance: 'Cosine' }, metadata: { team: 'a' } });
  const info = await tr.info(name);
  assert.deepEqual(info.vectors, { '': { size: 4, distance: 'Cosine' } });
  assert.equal(info.pointsCount, 0);
  assert.deepEqual(info.metadata, { team: 'a' });
  assert.equal(await tr.exists(name), true);
  assert.ok((await tr.list()).includes(name));
  assert.equal(await tr.deleteCollection(name), true);
  assert.equal(await tr.exists(name), false);
  assert.equal(await tr.deleteCollection(name), false, 'deleting a missing collection: false, no error');
});

overBoth('named vectors in the info; update merges hnsw_config and metadata', async (t, tr) => {
  const name = await created(t, tr, {
    vectors: { dense: { size: 3, distance: 'Dot' }, other: { size: 2, distance: 'Euclid' } },
    hnsw_config: { m: 8 },
  });
  const before = await tr.info(name);
  assert.deepEqual(before.vectors, {
    dense: { size: 3, distance: 'Dot' },
    other: { size: 2, distance: 'Euclid' },
  });
  assert.equal(before.hnswM, 8);
  await tr.updateCollection(name, { hnsw_config: { ef_construct: 123 }, metadata: { v: 1 } });
  await tr.updateCollection(name, { metadata: { w: 'two' } });
  const after = await tr.info(name);
  assert.equal(after.hnswM, 8, 'm kept');
  assert.equal(after.efConstruct, 123);
  assert.deepEqual(after.metadata, { v: 1, w: 'two' });
});

overBoth('a second create of the same name: ALREADY_EXISTS / 409', async (t, tr) => {
  const name = await created(t, tr, single(2, 'Dot'));
  await fails(
    tr.createCollection(name, single(2, 'Dot')),
    'already_exists',
    `Wrong input: Collection \`${name}\` already exists!`,
  );
});

overBoth('a missing collection: NOT_FOUND / 404 on reads, writes and info', async (_t, tr) => {
  const name = uniqueName('contract_missing');
  const message = `Not found: Collection \`${name}\` doesn't exist!`;
  await fails(tr.info(name), 'not_found', message);
  await fails(tr.upsert(name, [{ id: 1, vector: [1, 2] }]), 'not_found', message);
  await fails(tr.get(name, [1]), 'not_found', message);
  await fails(tr.count(name), 'not_found', message);
  await fails(tr.updateCollection(name, { metadata: { a: 1 } }), 'not_found', message);
});

overBoth('a wrong vector dimension: INVALID_ARGUMENT / 400, nothing written', async (t, tr) => {
  const name = await collection(t, single(3, 'Dot'));
  await fails(
    tr.upsert(name, [
      { id: 1, vector: [1, 2, 3] },
      { id: 2, vector: [1, 2] },
    ]),
    'invalid',
    'Wrong input: Vector dimension error: expected dim: 3, got 2',
  );
  assert.equal(await tr.count(name), 0);
});

overBoth('aliases: create, address the collection, rename, list, delete', async (t, tr) => {
  const a = await collection(t, single(2, 'Dot'));
  const b = await collection(t, single(2, 'Dot'));
  const alias = uniqueName('contract_alias');
  const renamed = `${alias}_r`;
  t.after(() =>
    tr.updateAliases([{ delete_alias: { alias_name: alias } }, { delete_alias: { alias_name: renamed } }]),
  );
  await tr.updateAliases([{ create_alias: { collection_name: a, alias_name: alias } }]);
  await tr.upsert(alias, [{ id: 1, vector: [1, 1] }]);
  assert.equal(await tr.count(a), 1, 'a write to the alias reaches its collection');
  assert.deepEqual(await tr.collectionAliases(a), [alias]);
  // Re-pointed and renamed in one request.
  await tr.updateAliases([
    { create_alias: { collection_name: b, alias_name: alias } },
    { rename_alias: { old_alias_name: alias, new_alias_name: renamed } },
  ]);
  assert.equal(await tr.count(renamed), 0, 'the renamed alias points at b');
  const listed = (await tr.listAliases()).filter((x) => x.alias === alias || x.alias === renamed);
  assert.deepEqual(listed, [{ alias: renamed, collection: b }]);
  await fails(
    tr.updateAliases([{ rename_alias: { old_alias_name: alias, new_alias_name: 'x' } }]),
    'not_found',
    `Not found: Alias ${alias} does not exists!`,
  );
  await tr.updateAliases([{ delete_alias: { alias_name: renamed } }]);
  assert.deepEqual(await tr.collectionAliases(b), []);
});

overBoth('a point id that is no UUID: INVALID_ARGUMENT / 400, as each front words it', async (t, tr) => {
  const name = await collection(t, single(2, 'Dot'));
  const message = tr.name === 'rest' ? 'Format error in JSON body:' : 'Unable to parse UUID: not-a-uuid';
  await fails(tr.upsert(name, [{ id: 'not-a-uuid', vector: [1, 2] }]), 'invalid', message);
  await fails(tr.get(name, ['not-a-uuid']), 'invalid', message);
  assert.equal(await tr.count(name), 0);
});
