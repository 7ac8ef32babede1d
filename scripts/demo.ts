// The demo (README's first command: `npm run demo`). On the local stack — started by the npm
// script if needed — it creates a table of pgvector embeddings with a payload, runs the pipeline
// (`vecrelay run`), keeps inserting, updating and deleting while it syncs, shows `status`, runs
// `cutover --verify --alias` (exact, verified, then the application's alias flips to the
// collection), and ends with `vecrelay verify` as its verdict.
//   npm run demo -- [--rows 2000] [--seconds 8] [--name demo] [--keep]
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { stringify } from 'yaml';
import { repoRoot, stackDir, stackEnv } from '../test/helpers/stack.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '8' },
    name: { type: 'string', default: 'demo' },
    keep: { type: 'boolean', default: false },
  },
});
const rows = Number(args.rows);
const name = args.name!.replace(/[^a-z0-9_]/g, '_');
const dim = 384;
const env = stackEnv();
const bin = path.join(repoRoot, 'bin/vecrelay.js');
const schema = `vecrelay_${name}`;
const table = `${schema}.items`;
const collection = `${name}_items`;
const dir = path.join(stackDir, name);
const say = (s: string) => console.log(`\n== ${s}`);
const vecrelay = (...a: string[]) => execFileSync(process.execPath, [bin, ...a], { encoding: 'utf8' });
/** `vecrelay status` prints its report whatever its exit code (1: a part is not running yet). */
const status = () =>
  spawnSync(process.execPath, [bin, 'status', '--config', configFile], { encoding: 'utf8' }).stdout.trim();

say(
  env.qdrantIsReal
    ? `Qdrant: ${env.qdrantUrl} (QDRANT_URL)`
    : `Qdrant: the bundled Qdrant-compatible TEST SERVER at ${env.qdrantUrl} — set QDRANT_URL to use a real Qdrant`,
);

mkdirSync(dir, { recursive: true });
const configFile = path.join(dir, 'pipeline.yaml');
writeFileSync(
  configFile,
  stringify({
    name,
    postgres: { ...env.pg, slot: `vecrelay_${name}`, publication: `vecrelay_${name}` },
    kafka: {
      brokers: env.kafkaBrokers,
      topicPrefix: `vecrelay_${name}`,
      partitions: 3,
      replicationFactor: 1,
    },
    qdrant: {
      url: env.qdrantUrl,
      // gRPC (the default transport) where the stack's server serves it, else REST.
      ...(env.qdrantGrpcUrl ? { grpcUrl: env.qdrantGrpcUrl } : { transport: 'rest' }),
      ...(env.qdrantApiKey ? { apiKeyEnv: 'QDRANT_API_KEY' } : {}),
    },
    tables: [{ table, collection }],
    snapshot: 'initial',
    source: { heartbeatIntervalMs: 1000 },
  }),
);

const sql = new pg.Client({ connectionString: env.pgUrl });
await sql.connect();
let run: ChildProcess | undefined;
const randomVector = `(SELECT array_agg(random()::real) FROM generate_series(1, ${dim}) WHERE g > 0)::vector`;
try {
  say(`fresh start: tearing down any earlier "${name}" demo`);
  console.log(vecrelay('teardown', '--config', configFile, '--topics', '--yes').trim());
  await fetch(`${env.qdrantUrl}/collections/${collection}`, { method: 'DELETE' }).catch(() => {});
  await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.query(`CREATE SCHEMA ${schema}`);
  await sql.query(
    `CREATE TABLE ${table} (id bigint PRIMARY KEY, title text NOT NULL, category text, price numeric(10,2),
                            updated_at timestamptz NOT NULL DEFAULT now(), embedding vector(${dim}))`,
  );
  await sql.query(`CREATE INDEX ON ${table} USING hnsw (embedding vector_cosine_ops)`);
  await sql.query(
    `INSERT INTO ${table} (id, title, category, price, embedding)
     SELECT g, 'item ' || g, (ARRAY['books','games','tools'])[1 + g % 3], (g % 100) + 0.99, ${randomVector}
       FROM generate_series(1, $1::bigint) g`,
    [rows],
  );
  console.log(
    `created ${table}: ${rows} rows of vector(${dim}) with an HNSW cosine index, config ${configFile}`,
  );

  say('vecrelay run (snapshot, then streaming), while the application keeps writing');
  const runLog = path.join(dir, 'run.log');
  run = spawn(
    'bash',
    ['-c', `exec "${process.execPath}" "${bin}" run --config "${configFile}" >>"${runLog}" 2>&1`],
    {
      stdio: 'ignore',
    },
  );
  console.log(`pipeline running (pid ${run.pid}), logs in ${runLog}`);

  // The application keeps writing: inserts, vector and payload updates, deletes.
  const deadline = Date.now() + Number(args.seconds) * 1000;
  let nextId = rows + 1;
  let writes = 0;
  let statusShown = false;
  while (Date.now() < deadline) {
    const id = 1 + Math.floor(Math.random() * rows);
    await sql.query(
      `INSERT INTO ${table} (id, title, category, price, embedding) SELECT $1::bigint, 'new ' || $1::text, 'new', 1.50, ${randomVector}
         FROM (SELECT 1 AS g) s`,
      [nextId++],
    );
    await sql.query(`UPDATE ${table} SET title = title || '*', updated_at = now() WHERE id = $1`, [id]);
    await sql.query(`UPDATE ${table} SET embedding = ${randomVector} FROM (SELECT 1 AS g) s WHERE id = $1`, [
      id + 1,
    ]);
    if (writes % 10 === 0) await sql.query(`DELETE FROM ${table} WHERE id = $1`, [id + 2]);
    writes += 4;
    if (!statusShown && Date.now() > deadline - (Number(args.seconds) * 1000) / 2) {
      statusShown = true;
      say('vecrelay status (mid-sync)');
      console.log(status());
    }
  }
  console.log(`the application made ~${writes} writes while the pipeline synced`);

  // Blue-green: the application reads the alias, which cutover points at the collection only once
  // every change committed before the call is in it and verify found it equal (rollback: back).
  const alias = `${name}_items_live`;
  say(`vecrelay cutover --verify --alias ${alias}: exact, verified, then the alias flips`);
  console.log(
    vecrelay('cutover', '--config', configFile, '--timeout', '300', '--verify', '--alias', alias).trim(),
  );

  say('vecrelay status (after cutover)');
  console.log(status());

  say('verdict: vecrelay verify — every row against its point, and a sampled top-k');
  const verify = spawnSync(process.execPath, [bin, 'verify', '--config', configFile], { encoding: 'utf8' });
  console.log(verify.stdout.trim());
  const aliases = (await (await fetch(`${env.qdrantUrl}/aliases`)).json()) as {
    result: { aliases: Array<{ alias_name: string; collection_name: string }> };
  };
  const target = aliases.result.aliases.find((a) => a.alias_name === alias)?.collection_name;
  console.log(`alias ${alias} → ${target ?? '(none)'}`);
  const pass = verify.status === 0 && target === collection;
  console.log(
    pass
      ? `VERDICT: PASS — Qdrant holds exactly what Postgres committed, and ${alias} serves it`
      : 'VERDICT: FAIL',
  );

  await stopRun();
  if (!args.keep) {
    say('cleaning up (pass --keep to keep the pipeline, table and collection)');
    console.log(vecrelay('teardown', '--config', configFile, '--topics', '--yes').trim());
    await fetch(`${env.qdrantUrl}/collections/${collection}`, { method: 'DELETE' }).catch(() => {});
    await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
  process.exitCode = pass ? 0 : 1;
} finally {
  await stopRun();
  await sql.end();
}

async function stopRun() {
  if (!run || run.exitCode !== null) return;
  const exited = new Promise((resolve) => run!.on('exit', resolve));
  run.kill('SIGTERM');
  await exited;
}
