// `vecrelay plan`: everything a migration needs, checked read-only before anything is created —
// the server, the role, the slot and publication, every table with vector columns — and a
// pipeline config for what was found. Blockers are the conditions the source and sink refuse to
// start on (their own check functions are called); warnings are what works but deserves a look.
import pg from 'pg';
import type { TableConfig } from '../config/schema.js';
import { ConfigError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { ProblemError, type Problem } from '../shared/problems.js';
import { dimensionProblem, resolveDistance } from '../sink/collections.js';
import { listVectorIndexes, readTableInfo, type TableInfo } from '../source/postgres/catalog.js';
import {
  canSelect,
  primaryKey,
  readServerState,
  readSlot,
  selectProblem,
  tableKeyProblem,
} from '../source/postgres/preflight.js';
import {
  createPublicationStatement,
  publicationPrivilegeProblem,
  publicationProblem,
  readPublication,
} from '../source/postgres/slot.js';
import { fromProblem, ok, serverChecks, slotChecks, tableChecks } from './checks.js';
import {
  generateConfig,
  pipelineNames,
  regenerateConfig,
  type GeneratedTable,
  type PipelineNames,
} from './generate.js';
import {
  countNulls,
  discoverVectorTables,
  publicationPrivileges,
  readPgvector,
  readTableStats,
  uniqueNotNullKey,
} from './inspect.js';
import { describeTarget, type PlanTarget } from './target.js';
import { cannotConnectMessage } from '../source/postgres/errors.js';
import { newClient } from '../source/postgres/connect.js';
import { checkKafka } from './kafka.js';
import { kafkaSettings } from '../kafka/client.js';
import { checkQdrant, qdrantTarget, type QdrantTarget } from './qdrant.js';
import type { Check, PlanReport, TableReport, VectorReport } from './types.js';

export interface PlanOptions {
  target: PlanTarget;
  /** The config file's text (with --config), regenerated with what plan found. */
  configText?: string;
  /** Pipeline name for a new config (--url); default: the database name. */
  name?: string;
  brokers: string[];
  qdrantUrl: string;
  /** Qdrant's gRPC address for a new config; default: qdrantUrl's host, port 6334. */
  qdrantGrpcUrl?: string;
  /** Where kafkajs' lines go (silenced during the checks). */
  log: Logger;
}

interface InspectedTable {
  info: TableInfo;
  report: TableReport;
  checks: Check[];
  generated: GeneratedTable;
}

/** Same rule as tables[].table in src/config/schema.ts. */
const QUALIFIED = /^[^.\s]+\.[^.\s]+$/;

async function inspectTable(
  client: pg.Client,
  tableConfig: TableConfig,
  user: string,
  discovered: boolean,
): Promise<InspectedTable> {
  const name = tableConfig.table;
  let info = await readTableInfo(client, tableConfig);
  let configuredKey = tableConfig.key;
  const pk = await primaryKey(client, info.oid);
  if (discovered && pk.length === 0 && info.replicaIdentity === 'full') {
    // No primary key, but every old row is logged: a unique NOT NULL index can key it.
    configuredKey = await uniqueNotNullKey(client, info.oid);
    if (configuredKey) info = { ...info, key: configuredKey };
  } else if (discovered && pk.length === 0 && info.replicaIdentity === 'index') {
    // No primary key, but deletes carry the replica identity index: it keys the table.
    const identity = info.uniqueIndexes.find((i) => i.replicaIdentity && i.columns.length);
    if (identity) info = { ...info, key: (configuredKey = identity.columns) };
  }
  const keyProblem = tableKeyProblem(name, info, configuredKey);
  const selectable = await canSelect(client, info.oid);
  const stats = await readTableStats(client, info.oid);
  const indexes = await listVectorIndexes(client, info.oid);
  const columns = info.vectors.map((v) => v.name);
  const nulls =
    selectable && columns.length
      ? await countNulls(client, info.schema, info.table, columns, stats)
      : { rows: null, exact: false, nulls: new Map<string, number | null>() };
  const vectors = info.vectors.map((v): VectorReport => {
    const { distance, from } = resolveDistance(tableConfig.distance, v.distance);
    return {
      column: v.name,
      type: stats.types.get(v.name) ?? v.kind,
      kind: v.kind,
      dimension: v.dimension,
      nulls: nulls.nulls.get(v.name) ?? null,
      nullsExact: nulls.exact,
      distance,
      distanceFrom: from,
      index: from === 'index' ? (indexes.find((x) => x.column === v.name)?.name ?? null) : null,
    };
  });
  const report: TableReport = {
    table: name,
    rowEstimate: stats.reltuples ?? nulls.rows,
    sizeBytes: stats.totalBytes,
    primaryKey: pk,
    key: info.key,
    replicaIdentity: info.replicaIdentity,
    canSelect: selectable,
    vectors,
    indexes,
  };
  const checks = tableChecks(report, {
    key: keyProblem,
    select: selectProblem(user, name, selectable),
    dimension: info.vectors.map((v) => dimensionProblem(name, v)),
  });
  const entry: TableConfig = {
    ...tableConfig,
    ...(info.key.length ? { key: info.key } : {}),
    vectors: tableConfig.vectors ?? columns,
  };
  return { info, report, checks, generated: { entry, notes: checks.filter((c) => c.level !== 'ok') } };
}

function blockerFor(table: TableConfig, problem: Problem): { checks: Check[]; generated: GeneratedTable } {
  const check = fromProblem('blocker', problem);
  return { checks: [check], generated: { entry: table, notes: [check] } };
}

/** Publication: reused when it matches, else created by the source, which needs the privileges. */
async function publicationChecks(
  client: pg.Client,
  names: PipelineNames,
  database: string,
  superuser: boolean,
  user: string,
  tables: TableInfo[],
): Promise<Check[]> {
  const name = names.publication;
  const object = `publication ${name}`;
  const existing = await readPublication(client, name);
  if (existing) {
    const wanted = tables.map((t) => `${t.schema}.${t.table}`);
    // Tables the publication lacks are added by the source (slot.ts ensurePublication), then
    // snapshotted while the others stream.
    const missing = existing.allTables ? [] : wanted.filter((t) => !existing.tables.includes(t));
    const problem = publicationProblem(
      name,
      { ...existing, tables: [...existing.tables, ...missing] },
      wanted,
    );
    if (!problem && missing.length)
      return [
        {
          level: 'info',
          object,
          message: `exists without ${missing.join(', ')}: the source adds them and snapshots them while the others stream`,
          fix: '',
        },
      ];
    return [
      problem ? fromProblem('blocker', problem) : ok(object, 'exists and publishes every table: reused'),
    ];
  }
  if (superuser || tables.length === 0) return [ok(object, 'does not exist yet: the source creates it')];
  const privileges = await publicationPrivileges(
    client,
    tables.map((t) => t.oid),
  );
  const why = [
    ...(privileges.createOnDatabase ? [] : [`no CREATE on database ${database}`]),
    ...(privileges.notOwned.length ? [`not the owner of ${privileges.notOwned.join(', ')}`] : []),
  ];
  if (why.length === 0) return [ok(object, 'does not exist yet: the source creates it')];
  const create = createPublicationStatement(name, tables);
  return [fromProblem('blocker', publicationPrivilegeProblem(user, name, database, create, why.join('; ')))];
}

async function connect(target: PlanTarget): Promise<pg.Client> {
  const client = newClient(target.connection);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const password = target.config?.postgres.passwordEnv
      ? `the password in ${target.config.postgres.passwordEnv} (postgres.passwordEnv)`
      : 'PGPASSWORD';
    throw new ConfigError(cannotConnectMessage(target, err, password), { cause: err });
  }
  return client;
}

/**
 * Kafka and Qdrant: with --config, the pipeline's own (a failure is a blocker); with --url, the
 * addresses given for the generated config (a failure is a warning: plan may run elsewhere).
 */
async function targetChecks(options: PlanOptions, tables: TableInfo[]): Promise<Check[]> {
  const config = options.target.config;
  const level = config ? 'blocker' : 'warn';
  const kafka = await checkKafka(
    config ? kafkaSettings(config) : { brokers: options.brokers, clientId: 'vecrelay' },
    options.log,
  );
  const qdrant: QdrantTarget | undefined = config
    ? qdrantTarget(config)
    : { url: options.qdrantUrl, apiKey: undefined, apiKeyEnv: undefined, caFile: undefined };
  const checks = [kafka.check];
  if (qdrant)
    checks.push(
      ...(
        await checkQdrant(
          qdrant,
          config ?? {
            qdrant: { url: options.qdrantUrl, transport: 'rest', collectionPrefix: '', bulkLoad: true },
            tables: [],
          },
          tables,
        )
      ).map((c) => c.check),
    );
  else
    checks.push({
      level: 'info',
      object: 'qdrant',
      message: 'no qdrant section: only the source can run with this config',
      fix: 'add qdrant.url to run the sink',
    });
  return checks.map((c) => (c.level === 'blocker' ? { ...c, level } : c));
}

export async function runPlan(options: PlanOptions): Promise<PlanReport> {
  const { target } = options;
  const client = await connect(target);
  try {
    // Read-only by construction, and no query may hang the report.
    await client.query(`SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`);
    await client.query(`SET statement_timeout = '60s'`);
    const state = await readServerState(client, `${target.host}:${target.port}`);
    const pgvector = await readPgvector(client);
    const config = target.config;
    const names: PipelineNames = config
      ? { name: config.name, slot: config.postgres.slot, publication: config.postgres.publication }
      : pipelineNames(target.database, options.name);
    const slot = await readSlot(client, names.slot);
    const discovered = pgvector.installed ? await discoverVectorTables(client) : [];

    const checks: Check[] = [
      ...serverChecks(state, pgvector, target.database),
      ...slotChecks(state, names.slot, target.database, slot),
    ];
    const tableChecksList: Check[] = [];
    const inspected: InspectedTable[] = [];
    const generated: GeneratedTable[] = [];
    const wanted: Array<{ table: TableConfig; discovered: boolean }> = config
      ? config.tables.map((table) => ({ table, discovered: false }))
      : discovered.map((d) => ({ table: { table: `${d.schema}.${d.table}` }, discovered: true }));
    for (const { table, discovered: isDiscovered } of wanted) {
      if (!QUALIFIED.test(table.table)) {
        const r = blockerFor(table, {
          object: table.table,
          message: `table ${table.table} cannot be named in a pipeline config (dots or white space in its name)`,
          fix: `rename it (ALTER TABLE ... RENAME TO ...)`,
        });
        tableChecksList.push(...r.checks);
        continue;
      }
      try {
        const t = await inspectTable(client, table, state.role.name, isDiscovered);
        inspected.push(t);
        tableChecksList.push(...t.checks);
        generated.push(t.generated);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        // A discovered table dropped while plan ran is simply gone.
        if (isDiscovered) continue;
        const r = blockerFor(table, err.problem);
        tableChecksList.push(...r.checks);
        generated.push(r.generated);
      }
    }
    checks.push(
      ...(await publicationChecks(
        client,
        names,
        target.database,
        state.role.superuser,
        state.role.name,
        inspected.map((t) => t.info),
      )),
    );
    if (pgvector.installed && wanted.length === 0)
      checks.push({
        level: 'blocker',
        object: target.database,
        message: `no table in database ${target.database} has a vector, halfvec or sparsevec column: nothing to replicate`,
        fix: 'point plan at the database that holds the embeddings',
      });
    checks.push(...tableChecksList);
    checks.push(
      ...(await targetChecks(
        options,
        inspected.map((t) => t.info),
      )),
    );
    if (config) {
      const configured = new Set(config.tables.map((t) => t.table));
      for (const d of discovered) {
        const name = `${d.schema}.${d.table}`;
        if (configured.has(name)) continue;
        checks.push({
          level: 'info',
          object: name,
          message: `has vector columns (${d.vectorColumns.join(', ')}) and is not in this config`,
          fix: 'add it to tables[] to replicate it',
        });
      }
    }

    const text =
      generated.length === 0
        ? ''
        : config && options.configText !== undefined
          ? regenerateConfig(config, options.configText, generated)
          : generateConfig({
              names,
              postgres: {
                host: target.host,
                port: target.port,
                database: target.database,
                user: target.user,
              },
              brokers: options.brokers,
              qdrantUrl: options.qdrantUrl,
              qdrantGrpcUrl: options.qdrantGrpcUrl,
              tables: generated,
            });
    return {
      target: describeTarget(target),
      server: {
        host: target.host,
        port: target.port,
        database: target.database,
        user: state.role.name,
        version: state.version,
        versionNum: state.versionNum,
        walLevel: state.walLevel,
        maxReplicationSlots: state.maxReplicationSlots,
        usedReplicationSlots: state.usedReplicationSlots,
        maxWalSenders: state.maxWalSenders,
        usedWalSenders: state.usedWalSenders,
        maxSlotWalKeepSizeMb: state.maxSlotWalKeepSizeMb,
        pgvector: pgvector.installed,
        superuser: state.role.superuser,
        replication: state.role.replication,
      },
      checks,
      tables: inspected.map((t) => t.report),
      config: text,
      configFile: `connectors/${names.name}.yaml`,
      summary: {
        blockers: checks.filter((c) => c.level === 'blocker').length,
        warnings: checks.filter((c) => c.level === 'warn').length,
      },
    };
  } finally {
    await client.end().catch(() => {});
  }
}
