// `vecrelay verify`: proves, independently of the pipeline's own bookkeeping (offsets, slot
// position), that every configured table equals its Qdrant collection row by row — DESIGN.md
// guarantee 5 — and how Qdrant's search answers compare with an exact kNN in Postgres.
//
// Exit codes: 0 equal; 1 a divergence (or a collection that does not exist); 2 a configuration or
// connection error (ConfigError, through the command's lifecycle).
import type pg from 'pg';
import { splitTable, type LoadedConfig } from '../../config/load.js';
import type { TableConfig } from '../../config/schema.js';
import { changeTopic, collectionName, sinkGroupId } from '../../event/names.js';
import { formatLsn } from '../../event/lsn.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import { ConfigError, VecrelayError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { collectionVectors, VectorMapping } from '../../sink/qdrant/layout.js';
import { pipelineNamespace } from '../../sink/qdrant/point-id.js';
import { readTableInfo } from '../../source/postgres/catalog.js';
import { connectPostgres, openOps, postgresWhere, unreachable, type OpsClients } from '../connect.js';
import { walInsertLsn } from './applied.js';
import { vectorParams } from './compare.js';
import type { TableContext } from './context.js';
import { CollectionReader } from './qdrant.js';
import type { DivergentKeys } from './repair.js';
import { TableReader } from './rows.js';
import { tableOk, verifyTable, type TableReport, type VerifyOptions } from './table.js';

export interface VerifyReport {
  ok: boolean;
  /** The WAL insert position at the start: changes below it are in what was compared. */
  startLsn: string;
  elapsedMs: number;
  tables: Record<string, TableReport>;
}

export interface VerifyRunOptions extends VerifyOptions {
  /** Only this table (schema.table, or a table of the public schema by its name). */
  table?: string;
  /** How long to wait for the pipeline to apply past a recheck's position. */
  waitTimeoutMs: number;
  signal?: AbortSignal;
  /** Called as rows and points are read: the table, and rows + points so far. */
  onProgress?: (table: string, done: number, estimated: number) => void;
}

/** The configured tables `--table` selects; a ConfigError naming the choices when none. */
export function selectTables(config: LoadedConfig, wanted: string | undefined): TableConfig[] {
  if (!wanted) return config.tables;
  const norm = (t: string) => {
    const { schema, table } = splitTable(t);
    return `${schema}.${table}`;
  };
  const picked = config.tables.filter((t) => norm(t.table) === norm(wanted));
  if (!picked.length)
    throw new ConfigError(
      `--table ${wanted}: not a table of ${config.file} (tables[]: ${config.tables.map((t) => t.table).join(', ')})`,
    );
  return picked;
}

export const verifyExitCode = (r: VerifyReport): number => (r.ok ? 0 : 1);

export async function verifyPipeline(
  config: LoadedConfig,
  log: Logger,
  options: VerifyRunOptions,
): Promise<{ report: VerifyReport; keys: DivergentKeys }> {
  const started = Date.now();
  if (!config.qdrant) throw new ConfigError(`${config.file}: qdrant: verify needs qdrant.url`);
  const tables = selectTables(config, options.table);
  const ops = await openOps(config, log);
  // Two connections for reading: rows on one, the sampled top-k's scans beside them on the other.
  const clients: pg.Client[] = [];
  const close = async () => {
    const ends = Promise.all(clients.map((c) => c.end().catch(() => {})));
    await Promise.race([ends, new Promise((r) => setTimeout(r, 2000).unref())]);
    await ops.close();
  };
  try {
    for (let i = 0; i < 2; i++) clients.push(await connectPostgres(config, log, { queryTimeoutMs: null }));
  } catch (err) {
    await close();
    throw unreachable(err);
  }
  const [data, knn] = clients as [pg.Client, pg.Client];
  try {
    return await compareTables(config, log, options, tables, ops, data, knn, started);
  } catch (err) {
    throw lostConnection(config, err);
  } finally {
    await close();
  }
}

/**
 * A Postgres error or a lost connection while reading: exit 2 naming the server (a privilege
 * revoked, the server gone), not an unexpected error.
 */
function lostConnection(config: LoadedConfig, err: unknown): unknown {
  if (err instanceof VecrelayError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  const fromServer = typeof (err as { severity?: unknown }).severity === 'string';
  const network = typeof code === 'string' && /^E[A-Z]+$/.test(code);
  if (!fromServer && !network && !/Connection terminated/i.test(err.message)) return err;
  return new ConfigError(`${postgresWhere(config)}: ${err.message}`, { cause: err });
}

async function compareTables(
  config: LoadedConfig,
  log: Logger,
  options: VerifyRunOptions,
  tables: TableConfig[],
  ops: OpsClients,
  data: pg.Client,
  knn: pg.Client,
  started: number,
): Promise<{ report: VerifyReport; keys: DivergentKeys }> {
  const qdrant = config.qdrant!;
  const start = await walInsertLsn(ops.sql);
  const report: VerifyReport = { ok: true, startLsn: formatLsn(start), elapsedMs: 0, tables: {} };
  const keys: DivergentKeys = new Map();
  for (const t of tables) {
    const { schema, table } = splitTable(t.table);
    const name = `${schema}.${table}`;
    const info = await readTableInfo(data, t);
    const collection = collectionName(qdrant.collectionPrefix, t, schema, table);
    const reader = new CollectionReader(
      { url: qdrant.url, apiKey: config.qdrantApiKey, caFile: qdrant.caFile, signal: options.signal },
      collection,
    );
    const params = await reader.params();
    if (!params) {
      report.tables[name] = emptyReport(collection, report.startLsn, options.topK, {
        error: `collection ${collection} does not exist in Qdrant: the sink creates it when it starts`,
      });
      report.ok = false;
      continue;
    }
    const types = new Map(info.columns.map((c) => [c.name, c.udtName]));
    const topic = changeTopic(config.kafka.topicPrefix, schema, table);
    const descriptor: TableDescriptor = {
      schema,
      table,
      topic,
      key: info.key.map((k) => ({ name: k, type: types.get(k)! })),
      vectors: info.vectors,
      payload: info.payload,
    };
    const ctx: TableContext = {
      table: name,
      data,
      reader: new TableReader(data, info, t),
      knn: { data: knn, reader: new TableReader(knn, info, t) },
      qdrant: reader,
      descriptor,
      namespace: pipelineNamespace(config.name),
      mapping: new VectorMapping(collection, descriptor, t.vectors, collectionVectors(params)),
      params: vectorParams(params),
      pipeline: {
        sql: ops.sql,
        admin: ops.admin,
        slot: config.postgres.slot,
        groupId: sinkGroupId(config),
        topics: [topic],
      },
      waitTimeoutMs: options.waitTimeoutMs,
      log: log.child({ component: 'verify', table: name }),
      ...(options.signal ? { signal: options.signal } : {}),
      state: { rechecked: 0, unsettled: 0, notApplied: 0 },
    };
    const result = await verifyTable(ctx, options, report.startLsn, (done) =>
      options.onProgress?.(name, done, 2 * info.estimatedRows),
    );
    report.tables[name] = result.report;
    if (result.keys.length) keys.set(name, result.keys);
    if (!tableOk(result.report)) report.ok = false;
  }
  report.elapsedMs = Date.now() - started;
  return { report, keys };
}

function emptyReport(
  collection: string,
  startLsn: string,
  k: number,
  extra: Partial<TableReport>,
): TableReport {
  return {
    collection,
    rows: 0,
    points: 0,
    missing: [],
    extra: [],
    mismatched: [],
    nullVectorViolations: 0,
    recallAtK: null,
    exactTopKIdentical: null,
    counts: { missing: 0, extra: 0, mismatched: 0 },
    details: [],
    topK: { k, samples: 0, skipped: 0, differing: [] },
    rechecked: 0,
    unsettled: 0,
    notApplied: 0,
    startLsn,
    ...extra,
  };
}
