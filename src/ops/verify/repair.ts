// The hook of `verify --repair`: the divergent keys of each table, handed to what re-syncs rows
// through the pipeline (`vecrelay resync`, built apart). verify finds the keys; the resync reads
// those rows again in Postgres and sends them down the pipeline (a key with no row: a delete),
// after which verify checks them again.
import type { LoadedConfig } from '../../config/load.js';
import type { ColumnValue } from '../../event/change-event.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';

/**
 * Per table ("schema.table"): the keys of its rows that differ — missing points, mismatched
 * points, and points with no row (the key the point stands for; a point no key maps to cannot be
 * re-synced and is left out).
 */
export type DivergentKeys = Map<string, Array<Record<string, ColumnValue>>>;

/**
 * Requests a resync of `keys` through the pipeline; resolves once requested (not yet applied).
 * Not wired yet: `vecrelay resync` is built apart, and the integration replaces this body with
 * its request.
 */
export async function requestResync(config: LoadedConfig, log: Logger, keys: DivergentKeys): Promise<void> {
  void config;
  log.debug({ tables: [...keys.keys()] }, 'verify: a resync was asked for');
  throw new ConfigError('verify --repair needs vecrelay resync, which this build does not have');
}
