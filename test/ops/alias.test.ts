// Blue-green collections against real Postgres, Kafka and the Qdrant under test: the application
// reads an alias that points at an old collection while the pipeline syncs a new one;
// `cutover --alias` moves it once exact, `rollback --alias` moves it back, and a reader querying
// the alias all along gets an answer every time. `cutover --verify` flips nothing on a damaged
// collection. An alias that has a collection's name, or a rollback with nothing recorded, is
// refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.js';
import { aliasTargets } from '../../src/ops/alias/flip.js';
import { dropCollection, pointCount, qdrantRequest } from '../helpers/qdrant.js';
import { useSinkPipelines, type SinkPipeline } from '../helpers/sink-pipeline.js';
import { writeConfig } from '../helpers/source-process.js';
import { stackEnv, uniqueName, waitFor } from '../helpers/stack.js';
import { execVecrelay, execVecrelayOk } from '../helpers/vecrelay-exec.js';

const ctx = useSinkPipelines({ prefix: 'alias' });
const DIM = 8;
/** The old collection's point ids start here; the table's are 1..rows. */
const OLD = 1_000_000;

/** A table of `rows` rows and a pipeline syncing it into its own (new) collection. */
async function pipeline(rows: number): Promise<SinkPipeline> {
  const table = uniqueName('alias');
  await ctx.sql.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, version int NOT NULL, embedding vector(${DIM}))`,
  );
  ctx.cleanup(() => ctx.sql.query(`DROP TABLE IF EXISTS ${table}`));
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 0, (SELECT array_agg(sin(i * 31 + d)::real) FROM generate_series(0, ${DIM - 1}) d)::vector
     FROM generate_series(1, $1::int) i`,
    [rows],
  );
  return ctx.pipeline(table);
}

/** The collection the application read before: 5 points of ids OLD+1.. (dropped after the test). */
async function oldCollection(): Promise<string> {
  const name = uniqueName('aliasold');
  ctx.cleanup(() => dropCollection(name));
  const created = await qdrantRequest('PUT', `/collections/${name}`, {
    vectors: { size: DIM, distance: 'Cosine' },
  });
  assert.equal(created.status, 200);
  const points = Array.from({ length: 5 }, (_, i) => ({
    id: OLD + i + 1,
    vector: Array.from({ length: DIM }, (_, d) => Math.cos(i + d)),
  }));
  assert.equal((await qdrantRequest('PUT', `/collections/${name}/points?wait=true`, { points })).status, 200);
  return name;
}

async function pointAlias(alias: string, collection: string) {
  const res = await qdrantRequest('POST', '/collections/aliases', {
    actions: [{ create_alias: { collection_name: collection, alias_name: alias } }],
  });
  assert.equal(res.status, 200, JSON.stringify(res));
}

async function aliasTarget(alias: string): Promise<string | undefined> {
  const { result } = await qdrantRequest<{ aliases: Array<{ alias_name: string; collection_name: string }> }>(
    'GET',
    '/aliases',
  );
  return result.aliases.find((a) => a.alias_name === alias)?.collection_name;
}

/** Which collection a search on the alias answers from: 'old', 'new' (or 'mixed'). */
async function searchSide(alias: string): Promise<'old' | 'new' | 'mixed'> {
  const { status, result } = await qdrantRequest<{ points: Array<{ id: number }> }>(
    'POST',
    `/collections/${alias}/points/query`,
    { query: Array.from({ length: DIM }, () => 1), limit: 3 },
  );
  assert.equal(status, 200);
  const sides = new Set(result.points.map((p) => (p.id > OLD ? 'old' : 'new')));
  return sides.size === 1 ? [...sides][0]! : 'mixed';
}

/** Queries the alias until stopped, one query after another; every answer that is not a 200 is kept. */
function reader(alias: string) {
  const env = stackEnv();
  let stop = false;
  const failures: string[] = [];
  const sides = new Set<string>();
  let queries = 0;
  const done = (async () => {
    while (!stop) {
      // A short breath between queries: the test server serves every other test file too.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const res = await fetch(`${env.qdrantUrl}/collections/${alias}/points/query`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(env.qdrantApiKey ? { 'api-key': env.qdrantApiKey } : {}),
        },
        body: JSON.stringify({ query: Array.from({ length: DIM }, () => 1), limit: 3 }),
      });
      const text = await res.text();
      queries++;
      if (res.status !== 200) failures.push(`${res.status} ${text.slice(0, 200)}`);
      else
        for (const p of (JSON.parse(text) as { result: { points: Array<{ id: number }> } }).result.points)
          sides.add(p.id > OLD ? 'old' : 'new');
    }
  })();
  return {
    sides,
    async stop() {
      stop = true;
      await done;
      return { failures, queries };
    },
  };
}

test('cutover --alias moves the alias to the new collection once exact, rollback moves it back; a reader of the alias is answered every time', async () => {
  const rows = 200;
  const sp = await pipeline(rows);
  const old = await oldCollection();
  const alias = uniqueName('alias_items');
  const fresh = uniqueName('alias_fresh'); // no such alias yet
  await pointAlias(alias, old);
  const read = reader(alias);
  // Stopped whatever happens: a reader left querying would keep this file's process alive.
  ctx.cleanup(() => read.stop());
  ctx.start(['run', '--config', sp.config]);

  const cut = await execVecrelay(
    ['cutover', '--config', sp.config, '--alias', alias, '--alias', fresh, '--timeout', '240'],
    {
      timeoutMs: 300_000,
    },
  );
  assert.equal(cut.code, 0, cut.stdout + cut.stderr);
  assert.match(cut.stdout, /cutover: exact/);
  assert.ok(cut.stdout.includes(`alias ${alias} → ${sp.collection} (was ${old};`), cut.stdout);
  assert.ok(cut.stdout.includes(`alias ${fresh} → ${sp.collection} (new alias;`), cut.stdout);
  assert.equal(await aliasTarget(alias), sp.collection);
  assert.equal(await pointCount(alias), rows, 'the alias counts the new collection');
  assert.equal(await searchSide(alias), 'new');
  await waitFor('the reader to see the new collection', () => read.sides.has('new'));

  const back = await execVecrelayOk(['rollback', '--config', sp.config, '--alias', alias]);
  assert.ok(
    back.stdout.includes(`rollback: alias ${alias} → ${old} (was ${sp.collection}, which is kept)`),
    back.stdout,
  );
  assert.equal(await aliasTarget(alias), old);
  assert.equal(await searchSide(alias), 'old');
  assert.equal(await pointCount(sp.collection), rows, 'the new collection is kept');
  const { failures, queries } = await read.stop();
  assert.deepEqual(failures, [], `${failures.length} of ${queries} queries of the alias were not answered`);
  assert.ok(read.sides.has('old') && read.sides.has('new'), 'the reader saw both collections');

  // Rolled back twice, it moves forward again (the record swaps at each move); run at once, it
  // says where it already is.
  const forward = await execVecrelayOk(['rollback', '--config', sp.config, '--alias', alias]);
  assert.ok(forward.stdout.includes(`alias ${alias} → ${sp.collection}`), forward.stdout);
  assert.equal(await searchSide(alias), 'new');

  // Moved by hand since (here: deleted), it is left alone.
  await qdrantRequest('POST', '/collections/aliases', { actions: [{ delete_alias: { alias_name: alias } }] });
  const moved = await execVecrelay(['rollback', '--config', sp.config, '--alias', alias]);
  assert.equal(moved.code, 1, moved.stdout + moved.stderr);
  assert.match(
    moved.stdout,
    /it points at nothing \(the alias does not exist\), not at .* changed outside vecrelay/,
  );
  assert.equal(await aliasTarget(alias), undefined);

  // An alias cutover created has nothing to go back to.
  const none = await execVecrelay(['rollback', '--config', sp.config, '--alias', fresh]);
  assert.equal(none.code, 1, none.stdout + none.stderr);
  assert.match(
    none.stdout,
    new RegExp(`alias ${fresh} not moved: it did not exist before cutover pointed it at ${sp.collection}`),
  );
  assert.equal(await aliasTarget(fresh), sp.collection);
});

test('cutover --verify flips nothing on a damaged collection: exit 1 naming the divergence', async () => {
  const rows = 50;
  const sp = await pipeline(rows);
  const old = await oldCollection();
  const alias = uniqueName('alias_items');
  await pointAlias(alias, old);
  ctx.start(['run', '--config', sp.config]);
  await waitFor(
    `${rows} points in ${sp.collection}`,
    async () => (await pointCount(sp.collection)) === rows,
    {
      timeoutMs: 120_000,
      intervalMs: 250,
    },
  );
  // Damage behind the pipeline's back: a point deleted in Qdrant directly.
  const deleted = await qdrantRequest('POST', `/collections/${sp.collection}/points/delete?wait=true`, {
    points: [17],
  });
  assert.equal(deleted.status, 200);

  const run = await execVecrelay(
    ['cutover', '--config', sp.config, '--alias', alias, '--verify', '--timeout', '240'],
    {
      timeoutMs: 300_000,
    },
  );
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /cutover: exact/);
  assert.match(run.stdout, /missing points \(1\): 17\b/);
  assert.ok(
    run.stdout.includes(
      `verify found a divergence in public.${sp.table} (${sp.collection}): nothing flipped`,
    ),
    run.stdout,
  );
  assert.doesNotMatch(run.stdout, /alias .* →/);
  assert.equal(await aliasTarget(alias), old, 'the alias still points at the old collection');
  assert.equal(await searchSide(alias), 'old');

  // Repaired, the same command verifies and flips.
  await execVecrelayOk(['verify', '--config', sp.config, '--repair'], { timeoutMs: 300_000 });
  const again = await execVecrelayOk(
    ['cutover', '--config', sp.config, '--alias', alias, '--verify', '--timeout', '240'],
    {
      timeoutMs: 300_000,
    },
  );
  assert.match(again.stdout, /cutover: verified/);
  assert.equal(await aliasTarget(alias), sp.collection);
});

test('refused: an alias with a collection’s name (exit 2, before waiting), a rollback with nothing recorded (exit 1), a bare --alias with several tables (exit 2)', async () => {
  const sp = await pipeline(3);
  const other = await oldCollection();
  const taken = await execVecrelay(['cutover', '--config', sp.config, '--alias', other, '--timeout', '240']);
  assert.equal(taken.code, 2, taken.stdout + taken.stderr);
  assert.match(
    taken.stderr,
    new RegExp(
      `vecrelay: --alias ${other}: a collection of that name exists, and Qdrant does not let an alias take a collection's name`,
    ),
  );
  assert.doesNotMatch(taken.stderr, /waiting/);
  const own = await execVecrelay(['cutover', '--config', sp.config, '--alias', sp.collection]);
  assert.equal(own.code, 2, own.stdout + own.stderr);
  assert.match(
    own.stderr,
    new RegExp(`--alias ${sp.collection}: it is the collection of public\\.${sp.table}`),
  );

  const alias = uniqueName('alias_items');
  const none = await execVecrelay(['rollback', '--config', sp.config, '--alias', alias]);
  assert.equal(none.code, 1, none.stdout + none.stderr);
  assert.match(none.stdout, new RegExp(`rollback: alias ${alias} not moved: no move of it is recorded`));

  // Several tables: each alias names its table.
  const two = { ...sp.p, tables: [...sp.p.tables, { table: 'public.other_items', collection: 'other_v2' }] };
  const config = loadConfig(writeConfig(two, { qdrant: { url: stackEnv().qdrantUrl } }));
  assert.throws(
    () => aliasTargets(config, ['items']),
    /--alias items: the pipeline has 2 tables .*--alias <table>=items/,
  );
  assert.deepEqual(aliasTargets(config, ['other_items=items', `public.${sp.table}=mine`]), [
    { table: 'public.other_items', collection: 'other_v2', alias: 'items' },
    { table: `public.${sp.table}`, collection: sp.collection, alias: 'mine' },
  ]);
  assert.throws(() => aliasTargets(config, ['nope=items']), /nope is not a table of this pipeline/);
  assert.throws(() => aliasTargets(config, ['other_items=a', `${sp.table}=a`]), /alias a is named twice/);
});
