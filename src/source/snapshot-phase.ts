// The initial snapshot: every configured table read as of the slot's exported snapshot and
// published as op=r events, all acknowledged by Kafka before streaming starts from the slot's
// consistent point (DESIGN.md guarantee 4: no gap, and no older row applied after a newer one).
import cliProgress from 'cli-progress';
import type { EventProducer } from '../kafka/event-producer.js';
import type { LoadedConfig } from '../config/load.js';
import { Publisher } from '../kafka/publisher.js';
import type { Logger } from '../shared/log.js';
import { ChangeBuilder, RelationPlan, type CellDecoders, type TxInfo } from './changes.js';
import type { ResolvedRelation } from './pgoutput/index.js';
import type { TableInfo } from './postgres/catalog.js';
import { pgClientConfig } from './postgres/connect.js';
import { readTableSnapshot } from './postgres/snapshot.js';
import type { RoutedTable } from './stream-session.js';
import { toMessages } from '../kafka/event-codec.js';
import { decodesBinary } from './decode/index.js';
import { logOversized, oversizedDeadLetter, oversizedMessage, rowDeadLetter } from './dead-letter-row.js';
import { isRowFailure } from './row-failure.js';
import { deadLetterTopic } from '../event/names.js';
import { metrics } from '../shared/metrics.js';

export interface SnapshotPhaseDeps {
  config: LoadedConfig;
  log: Logger;
  /** One per lane (Publisher). */
  producers: EventProducer[];
  decoders: CellDecoders;
}

/** The catalog's view of a table in the shape the stream's Relation messages have. */
export function relationFromCatalog(t: TableInfo): ResolvedRelation {
  const keys = new Set(t.key);
  return {
    oid: t.oid,
    schema: t.schema,
    name: t.table,
    replicaIdentity: t.replicaIdentity,
    columns: t.columns.map((c) => ({
      name: c.name,
      isKey: keys.has(c.name),
      typeOid: c.typeOid,
      typeMod: c.typeMod,
      typeName: c.udtName,
      typeSchema: 'pg_catalog',
    })),
    keyColumns: t.key,
  };
}

/**
 * `startOver`: an earlier snapshot of this pipeline was interrupted (a crash, a server restart).
 * The rows it published are in the topics already, and some may have been deleted since: the
 * new snapshot, read later, does not have them and the stream from its consistent point carries
 * no delete for them. So each table's rows are preceded by a truncate marker at the snapshot's
 * position: a consumer drops everything older than it (the sink by source position, DESIGN.md),
 * and the rows after it are the table as it is.
 */
export async function runSnapshot(
  deps: SnapshotPhaseDeps,
  snapshotName: string,
  consistentPoint: bigint,
  tables: Array<{ info: TableInfo; routed: RoutedTable }>,
  { startOver = false }: { startOver?: boolean } = {},
): Promise<number> {
  const { config, log } = deps;
  let failure: Error | undefined;
  const publisher = new Publisher(
    deps.producers,
    {
      batchMaxBytes: config.source.batchMaxBytes,
      requestMaxBytes: config.source.requestMaxBytes,
      maxInFlightBytes: config.source.maxInFlightBytes,
      lingerMs: 5,
    },
    (err) => (failure = err),
  );
  const builder = new ChangeBuilder(deps.decoders);
  const dlqTopic = deadLetterTopic(config.kafka.topicPrefix, config.name);
  const tx: TxInfo = {
    lsn: consistentPoint,
    xid: 0,
    commitTimeMicros: BigInt(Date.now()) * 1000n,
    snapshot: true,
    seq: 0,
  };
  const total = tables.reduce((n, t) => n + t.info.estimatedRows, 0);
  const progress = new Progress(log, total);
  const noop = () => {};
  let rows = 0;
  try {
    for (const { info, routed } of tables) {
      const plan = new RelationPlan(relationFromCatalog(info), routed.table);
      if (startOver)
        for (const m of toMessages(builder.truncate(plan, tx), plan.keyNames, routed.route))
          await publisher.publish(m, noop);
      const columns = info.columns.map((c) => c.name);
      const pages = readTableSnapshot(pgClientConfig(config), {
        snapshotName,
        schema: info.schema,
        table: info.table,
        columns,
        textColumns: new Set(info.columns.filter((c) => !decodesBinary(c.udtName)).map((c) => c.name)),
      });
      for await (const page of pages) {
        for (const row of page) {
          let messages;
          let event;
          try {
            event = builder.row('r', plan, tx, row);
            messages = toMessages(event, plan.keyNames, routed.route);
          } catch (err) {
            if (!isRowFailure(err)) throw err;
            const table = `${info.schema}.${info.table}`;
            log.warn({ table, err: err.message }, 'snapshot row dead-lettered');
            metrics.deadLetters.inc({ topic: dlqTopic });
            const origin = { table, op: 'snapshot', lsn: consistentPoint, xid: 0, columns, cells: row };
            messages = [rowDeadLetter(dlqTopic, origin, err, config.source.batchMaxBytes)];
          }
          const oversized = event && oversizedMessage(messages, config.source.batchMaxBytes);
          if (event && oversized) {
            // No batch can hold it: a bounded dead letter takes its place, and the snapshot goes on.
            logOversized(log, event, oversized, config.source.batchMaxBytes);
            metrics.deadLetters.inc({ topic: dlqTopic });
            messages = [oversizedDeadLetter(dlqTopic, event, oversized, config.source.batchMaxBytes)];
          }
          for (const m of messages) await publisher.publish(m, noop);
        }
        if (failure) throw failure;
        rows += page.length;
        metrics.sourceEvents.inc({ table: `${info.schema}.${info.table}`, op: 'r' }, page.length);
        progress.update(rows, `${info.schema}.${info.table}`);
      }
      log.info({ table: `${info.schema}.${info.table}`, rows }, 'snapshot of table read');
    }
    await publisher.drain();
  } finally {
    progress.stop(rows);
  }
  return rows;
}

/** A progress bar on a terminal; a log line every few seconds otherwise. */
class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private lastLog = Date.now();
  private readonly started = Date.now();

  constructor(
    private readonly log: Logger,
    private readonly total: number,
  ) {
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar(
        { format: 'snapshot {bar} {value}/{total} rows | {rate} rows/s | {table}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(total, 1), 0, { rate: 0, table: '' });
    }
  }

  update(rows: number, table: string) {
    metrics.snapshotRows.set({ kind: 'published' }, rows);
    metrics.snapshotRows.set({ kind: 'estimated' }, Math.max(this.total, rows));
    const rate = Math.round(rows / Math.max((Date.now() - this.started) / 1000, 0.001));
    if (this.bar) {
      if (rows > this.bar.getTotal()) this.bar.setTotal(rows);
      this.bar.update(rows, { rate, table });
    } else if (Date.now() - this.lastLog > 5000) {
      this.lastLog = Date.now();
      this.log.info({ rows, estimatedTotal: this.total, rowsPerSecond: rate, table }, 'snapshot progress');
    }
  }

  stop(rows: number) {
    this.bar?.stop();
    this.log.info({ rows, seconds: (Date.now() - this.started) / 1000 }, 'snapshot published');
  }
}
