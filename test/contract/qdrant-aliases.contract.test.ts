// Contract: collection aliases (docs/qdrant.md "Aliases"), which `cutover --alias` and `rollback`
// rely on: one POST /collections/aliases applies its actions in order with no read in between,
// reads and writes addressed to an alias reach its collection, the listings, and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueName } from '../helpers/stack.js';
import { assertError, collection, ok, raw, single } from './qdrant-helpers.js';

type AliasList = { aliases: Array<{ alias_name: string; collection_name: string }> };

const aliases = (actions: unknown[]) => raw<boolean>('POST', '/collections/aliases', { actions });
const create = (collection_name: string, alias_name: string) => ({
  create_alias: { collection_name, alias_name },
});
const remove = (alias_name: string) => ({ delete_alias: { alias_name } });

/** The collection `alias` points at, as GET /aliases says; undefined when none. */
async function targetOf(alias: string): Promise<string | undefined> {
  const { aliases: all } = await ok<AliasList>('GET', '/aliases');
  return all.find((a) => a.alias_name === alias)?.collection_name;
}

/** Two collections with one point each (id 1 in `a`, id 2 in `b`). */
async function twoCollections(t: Parameters<typeof collection>[0]) {
  const a = await collection(t, single(4, 'Dot'));
  const b = await collection(t, single(4, 'Dot'));
  await ok('PUT', `/collections/${a}/points?wait=true`, { points: [{ id: 1, vector: [1, 0, 0, 0] }] });
  await ok('PUT', `/collections/${b}/points?wait=true`, { points: [{ id: 2, vector: [0, 1, 0, 0] }] });
  return { a, b };
}

test('an alias addresses its collection for reads and writes; the listings name it', async (t) => {
  const { a, b } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  const res = await aliases([create(a, alias)]);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.result, true);

  assert.deepEqual(await ok('GET', `/collections/${alias}/exists`), { exists: true });
  const info = await ok<{ points_count: number }>('GET', `/collections/${alias}`);
  assert.equal(info.points_count, 1);
  const scrolled = await ok<{ points: Array<{ id: number }> }>(
    'POST',
    `/collections/${alias}/points/scroll`,
    {
      limit: 10,
    },
  );
  assert.deepEqual(
    scrolled.points.map((p) => p.id),
    [1],
  );
  const found = await ok<{ points: Array<{ id: number }> }>('POST', `/collections/${alias}/points/query`, {
    query: [1, 1, 0, 0],
    limit: 10,
  });
  assert.deepEqual(
    found.points.map((p) => p.id),
    [1],
  );
  // A write through the alias lands in the collection.
  await ok('PUT', `/collections/${alias}/points?wait=true`, { points: [{ id: 3, vector: [0, 0, 1, 0] }] });
  assert.deepEqual(await ok('POST', `/collections/${a}/points/count`, { exact: true }), { count: 2 });
  assert.deepEqual(await ok('POST', `/collections/${b}/points/count`, { exact: true }), { count: 1 });

  assert.equal(await targetOf(alias), a);
  assert.deepEqual(await ok<AliasList>('GET', `/collections/${a}/aliases`), {
    aliases: [{ alias_name: alias, collection_name: a }],
  });
  // Listed by the collection's own name only: not through the alias, not for another collection.
  assert.deepEqual(await ok<AliasList>('GET', `/collections/${alias}/aliases`), { aliases: [] });
  assert.deepEqual(await ok<AliasList>('GET', `/collections/${b}/aliases`), { aliases: [] });
  // An alias is not a collection.
  const { collections } = await ok<{ collections: Array<{ name: string }> }>('GET', '/collections');
  assert.ok(!collections.some((c) => c.name === alias));
});

test('delete + create in one request moves an alias; a reader of the alias never misses', async (t) => {
  const { a, b } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  let stop = false;
  const seen = new Set<number>();
  const failures: string[] = [];
  let queries = 0;
  const reader = (async () => {
    while (!stop) {
      const res = await raw<{ points: Array<{ id: number }> }>('POST', `/collections/${alias}/points/query`, {
        query: [1, 1, 0, 0],
        limit: 10,
      });
      queries++;
      if (res.status !== 200) failures.push(`${res.status} ${res.text}`);
      else {
        const ids = res.body.result!.points.map((p) => p.id);
        if (ids.length !== 1) failures.push(`points ${ids.join(',')}: one collection's, whole`);
        for (const id of ids) seen.add(id);
      }
    }
  })();
  for (let i = 0; i < 20; i++) {
    const to = i % 2 === 0 ? b : a;
    const res = await aliases([remove(alias), create(to, alias)]);
    assert.equal(res.status, 200, res.text);
    assert.equal(await targetOf(alias), to);
  }
  stop = true;
  await reader;
  assert.deepEqual(failures, [], `${failures.length} of ${queries} queries failed`);
  assert.ok(queries > 0);
  assert.deepEqual([...seen].sort(), [1, 2], 'the reader saw both collections');
});

test('create_alias re-points an existing alias; delete_alias of a missing one is no error', async (t) => {
  const { a, b } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  await ok('POST', '/collections/aliases', { actions: [create(b, alias)] });
  assert.equal(await targetOf(alias), b);
  const res = await aliases([remove(uniqueName('contract_nothing'))]);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.result, true);
});

test('rename_alias moves the name; a missing alias: 404 "Not found: Alias"', async (t) => {
  const { a } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  const renamed = uniqueName('contract_alias');
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  await ok('POST', '/collections/aliases', {
    actions: [{ rename_alias: { old_alias_name: alias, new_alias_name: renamed } }],
  });
  assert.equal(await targetOf(alias), undefined);
  assert.equal(await targetOf(renamed), a);
  const missing = await aliases([{ rename_alias: { old_alias_name: alias, new_alias_name: renamed } }]);
  assertError(missing, 404, `Not found: Alias ${alias} does not exist`);
});

test('errors: a missing collection, an alias named like a collection, a collection named like an alias', async (t) => {
  const { a, b } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  const nowhere = uniqueName('contract_missing');
  assertError(
    await aliases([create(nowhere, alias)]),
    404,
    `Not found: Collection \`${nowhere}\` doesn't exist!`,
  );
  assertError(await aliases([create(a, b)]), 409, `Wrong input: Collection \`${b}\` already exists!`);
  // An alias is not a collection: it cannot be the target of another alias.
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  const second = uniqueName('contract_alias');
  assertError(
    await aliases([create(alias, second)]),
    404,
    `Not found: Collection \`${alias}\` doesn't exist!`,
  );
  // A collection cannot take an alias's name.
  assertError(
    await raw('PUT', `/collections/${alias}`, single(4)),
    400,
    `Wrong input: Can't create collection with name ${alias}. Alias with the same name already exists`,
  );
  // A body that does not deserialise changes nothing.
  assertError(await aliases([remove(alias), { make_alias: {} }]), 400, 'Format error in JSON body:');
  assert.equal(await targetOf(alias), a);
  assertError(await raw('POST', '/collections/aliases', {}), 400, 'Format error in JSON body:');
});

test('an action that fails ends the request; the actions before it stay applied', async (t) => {
  const { a } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  const nowhere = uniqueName('contract_missing');
  assertError(await aliases([remove(alias), create(nowhere, alias)]), 404, 'Not found: Collection');
  assert.equal(await targetOf(alias), undefined, 'the delete before the failing create was applied');
  assertError(
    await raw('GET', `/collections/${alias}`),
    404,
    `Not found: Collection \`${alias}\` doesn't exist!`,
  );
});

test('DELETE /collections/{alias} deletes nothing; deleting the collection deletes its aliases', async (t) => {
  const { a } = await twoCollections(t);
  const alias = uniqueName('contract_alias');
  await ok('POST', '/collections/aliases', { actions: [create(a, alias)] });
  assert.equal(await ok('DELETE', `/collections/${alias}`), false);
  assert.deepEqual(await ok('GET', `/collections/${a}/exists`), { exists: true });
  assert.equal(await targetOf(alias), a);
  assert.equal(await ok('DELETE', `/collections/${a}`), true);
  assert.equal(await targetOf(alias), undefined);
  assert.deepEqual(await ok('GET', `/collections/${alias}/exists`), { exists: false });
});
