// Blue-green collections (DESIGN.md "Sink"): a table syncs into a versioned collection (say
// items_v2) while the application reads an alias (items) that still points at the old one.
// `cutover --alias items` moves the alias to the pipeline's collection once cutover is exact (and
// verified, with --verify); `rollback --alias items` moves it back to the collection recorded
// before the move (record.ts). Neither deletes a collection: the old one stays until someone
// drops it.
//
// `--alias NAME` names the alias of a one-table pipeline's collection; with several tables each
// is named, `--alias TABLE=NAME` (TABLE as in tables[].table, or without its schema when that is
// unambiguous), as many as wanted.
import type { LoadedConfig } from '../../config/load.js';
import { splitTable } from '../../config/load.js';
import { collectionName } from '../../event/names.js';
import { ConfigError, messageOf } from '../../shared/errors.js';
import type { OpsClients } from '../connect.js';
import { AliasRecords, type AliasRecord } from './record.js';
import { AliasRefused, QdrantAliases } from './qdrant.js';

export interface AliasTarget {
  /** "schema.table". */
  table: string;
  /** The pipeline's collection for it: where the alias goes. */
  collection: string;
  alias: string;
}

/** The `--alias` options as targets; a ConfigError (exit 2) naming the mistake. */
export function aliasTargets(config: LoadedConfig, specs: string[]): AliasTarget[] {
  const tables = config.tables.map((t) => {
    const { schema, table } = splitTable(t.table);
    return {
      schema,
      table,
      name: `${schema}.${table}`,
      collection: collectionName(config.qdrant?.collectionPrefix ?? '', t, schema, table),
    };
  });
  const list = tables.map((t) => t.name).join(', ');
  const targets = specs.map((spec): AliasTarget => {
    const eq = spec.indexOf('=');
    const alias = eq < 0 ? spec : spec.slice(eq + 1);
    if (!alias) throw new ConfigError(`--alias ${spec}: no alias name`);
    if (eq < 0) {
      if (tables.length !== 1)
        throw new ConfigError(
          `--alias ${spec}: the pipeline has ${tables.length} tables (${list}): say whose collection, ` +
            `--alias <table>=${alias}`,
        );
      return { table: tables[0]!.name, collection: tables[0]!.collection, alias };
    }
    const wanted = spec.slice(0, eq);
    const match = tables.filter((t) => t.name === wanted || t.table === wanted);
    if (match.length !== 1)
      throw new ConfigError(
        match.length === 0
          ? `--alias ${spec}: ${wanted} is not a table of this pipeline (it captures ${list})`
          : `--alias ${spec}: several schemas have ${wanted} (${list}): name it as schema.table`,
      );
    return { table: match[0]!.name, collection: match[0]!.collection, alias };
  });
  const seen = new Set<string>();
  for (const t of targets) {
    if (seen.has(t.alias)) throw new ConfigError(`--alias: alias ${t.alias} is named twice`);
    seen.add(t.alias);
  }
  return targets;
}

/**
 * Before cutover waits: an alias that can never be moved (it has a collection's name) is a
 * ConfigError now, not after minutes of waiting.
 */
export async function checkAliasNames(config: LoadedConfig, targets: AliasTarget[]): Promise<void> {
  if (targets.length === 0) return;
  const qdrant = new QdrantAliases(config);
  try {
    for (const t of targets) {
      if (t.alias === t.collection || (await qdrant.isCollection(t.alias)))
        throw new ConfigError(
          `--alias ${t.alias}: ${t.alias === t.collection ? `it is the collection of ${t.table}` : 'a collection of that name exists'}, ` +
            `and Qdrant does not let an alias take a collection's name: sync ${t.table} into a collection ` +
            `of another name (tables[].collection, e.g. ${t.alias}_v2) and point the alias at it`,
        );
    }
  } finally {
    qdrant.close();
  }
}

/** Lines for the report; `ok` false when an alias could not be moved (exit 1). */
export interface AliasOutcome {
  ok: boolean;
  lines: string[];
}

/** Moves each alias to its table's collection and records where it pointed before. */
export async function flipAliases(
  config: LoadedConfig,
  ops: OpsClients,
  targets: AliasTarget[],
): Promise<AliasOutcome> {
  const qdrant = new QdrantAliases(config);
  const records = new AliasRecords(config, ops.kafka, ops.admin);
  const lines: string[] = [];
  try {
    if (!(await records.ready()))
      return {
        ok: false,
        lines: [
          `cutover: no alias moved: ${records.where} does not exist (the source creates it when it starts)`,
        ],
      };
    for (const t of targets) {
      const before = await qdrant.target(t.alias);
      if (before === t.collection) {
        lines.push(`cutover: alias ${t.alias} already points at ${t.collection}: left as it is`);
        continue;
      }
      try {
        await qdrant.move(t.alias, t.collection);
      } catch (err) {
        if (!(err instanceof AliasRefused)) throw err;
        lines.push(`cutover: alias ${t.alias} NOT moved: ${err.message}`);
        return { ok: false, lines };
      }
      const record: AliasRecord = {
        alias: t.alias,
        previous: before ?? null,
        current: t.collection,
        table: t.table,
        by: 'cutover',
        flippedAt: new Date().toISOString(),
      };
      try {
        await records.write(record);
      } catch (err) {
        lines.push(
          `cutover: alias ${t.alias} → ${t.collection} (was ${before ?? 'no alias'}), but recording that in ` +
            `${records.where} failed (${messageOf(err)}): rollback will not know it; move it back by hand if needed`,
        );
        return { ok: false, lines };
      }
      lines.push(
        `cutover: alias ${t.alias} → ${t.collection} (${before ? `was ${before}` : 'new alias'}; ` +
          `\`vecrelay rollback --config ${config.file} --alias ${t.alias}\` points it back)`,
      );
    }
    return { ok: true, lines };
  } finally {
    qdrant.close();
  }
}

/** Points `alias` back at the collection recorded before its last move. */
export async function rollbackAlias(
  config: LoadedConfig,
  ops: OpsClients,
  alias: string,
): Promise<AliasOutcome> {
  const qdrant = new QdrantAliases(config);
  const records = new AliasRecords(config, ops.kafka, ops.admin);
  const refuse = (why: string): AliasOutcome => ({
    ok: false,
    lines: [`rollback: alias ${alias} not moved: ${why}`],
  });
  try {
    const record = await records.read(alias);
    if (!record)
      return refuse(
        `no move of it is recorded in ${records.where}: only an alias moved by \`vecrelay cutover --alias\` ` +
          'of this pipeline can be rolled back',
      );
    if (record.previous === null)
      return refuse(
        `it did not exist before ${record.by} pointed it at ${record.current} (${record.flippedAt}): ` +
          'there is no previous collection to point it at',
      );
    const now = await qdrant.target(alias);
    if (now === record.previous)
      return { ok: true, lines: [`rollback: alias ${alias} already points at ${record.previous}`] };
    if (now !== record.current)
      return refuse(
        `it points at ${now ?? 'nothing (the alias does not exist)'}, not at ${record.current} where ` +
          `${record.by} left it (${record.flippedAt}): it was changed outside vecrelay; left alone`,
      );
    try {
      await qdrant.move(alias, record.previous);
    } catch (err) {
      if (err instanceof AliasRefused) return refuse(err.message);
      throw err;
    }
    const back: AliasRecord = {
      alias,
      previous: record.current,
      current: record.previous,
      ...(record.table ? { table: record.table } : {}),
      by: 'rollback',
      flippedAt: new Date().toISOString(),
    };
    const line = `rollback: alias ${alias} → ${record.previous} (was ${record.current}, which is kept)`;
    try {
      await records.write(back);
    } catch (err) {
      return {
        ok: false,
        lines: [line, `rollback: recording it in ${records.where} failed: ${messageOf(err)}`],
      };
    }
    return { ok: true, lines: [line] };
  } finally {
    qdrant.close();
  }
}
