// Cutover's second condition: every configured table's snapshot is complete. Read from the
// pipeline's state topic, where the source records each table's progress
// (src/event/snapshot-state.ts: key `snapshot:<schema>.<table>`, and the older pipeline-wide
// `snapshot` key that covers every table without a record of its own).
//
// A new slot's confirmed position can already lie past the target while no row of the snapshot
// is in Kafka yet (a cold start on a quiet database): without this condition cutover said "exact"
// with an empty collection.
//
// The topic is read again only when its offsets moved: joining a throwaway group takes seconds,
// fetching offsets a few milliseconds.
import type { Admin, Kafka } from 'kafkajs';
import {
  LEGACY_SNAPSHOT_KEY,
  RESYNC_KEY_PREFIX,
  snapshotComplete,
  snapshotStateKey,
  type TableSnapshotState,
} from '../event/snapshot-state.js';
import { readCompacted } from '../kafka/compacted.js';
import { bounded } from './connect.js';
import { READ_TIMEOUT_MS } from './dlq-read.js';

export interface TableName {
  schema: string;
  table: string;
}

export interface SnapshotPending {
  /** "schema.table". */
  table: string;
  /** Where its snapshot stands, for a person: "running: 1200 rows in 3 chunks so far". */
  detail: string;
}

/** What the state topic says of one table: its own record and the pipeline-wide legacy one. */
export interface SnapshotRecords {
  own: TableSnapshotState | undefined;
  legacy: { status?: string } | undefined;
}

export class SnapshotStates {
  private seen: string | undefined;
  private readonly records = new Map<string, unknown>();

  /**
   * `where` names the system in a timeout's message (kafka.brokers for an operator), and
   * `timeoutMs` bounds one read of the topic (cutover waits long; `status` answers in seconds).
   */
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    readonly topic: string,
    private readonly options: { where?: string; timeoutMs?: number } = {},
  ) {}

  /** Reads the topic again if anything was written to it since the last read. */
  async refresh(): Promise<void> {
    const where = this.options.where ?? 'Kafka';
    const exists = (await bounded(where, this.admin.listTopics())).includes(this.topic);
    const offsets = exists ? await bounded(where, this.admin.fetchTopicOffsets(this.topic)) : [];
    const now = offsets
      .map((o) => `${o.partition}:${o.low}-${o.high}`)
      .sort()
      .join(',');
    if (now === this.seen) return;
    const records = new Map<string, unknown>();
    await bounded(
      where,
      readCompacted(this.kafka, this.admin, this.topic, (message) => {
        const key = message.key?.toString('utf8');
        if (key === undefined) return;
        if (message.value === null) records.delete(key);
        else records.set(key, parseJson(message.value));
      }),
      this.options.timeoutMs ?? READ_TIMEOUT_MS,
    );
    this.records.clear();
    for (const [k, v] of records) this.records.set(k, v);
    this.seen = now;
  }

  /** A table's records as last read. */
  of(schema: string, table: string): SnapshotRecords {
    return {
      own: this.records.get(snapshotStateKey(schema, table)) as TableSnapshotState | undefined,
      legacy: this.records.get(LEGACY_SNAPSHOT_KEY) as { status?: string } | undefined,
    };
  }

  /**
   * The newest `vecrelay resync` request of a table (by its start), as last read; undefined when
   * it never had one. Each request has a record of its own (resyncStateKey).
   */
  latestResync(schema: string, table: string): TableSnapshotState | undefined {
    const name = `${schema}.${table}`;
    let latest: TableSnapshotState | undefined;
    for (const [key, value] of this.records) {
      if (!key.startsWith(RESYNC_KEY_PREFIX)) continue;
      const r = value as TableSnapshotState | null;
      if (r?.table !== name || typeof r.startedAt !== 'string') continue;
      if (!latest || r.startedAt > latest.startedAt) latest = r;
    }
    return latest;
  }

  /** The tables whose snapshot is not complete, with where each stands. */
  pending(tables: TableName[]): SnapshotPending[] {
    const out: SnapshotPending[] = [];
    for (const { schema, table } of tables) {
      const { own, legacy } = this.of(schema, table);
      if (snapshotComplete(own, legacy)) continue;
      out.push({ table: `${schema}.${table}`, detail: describe(own, legacy) });
    }
    return out;
  }
}

function describe(own: TableSnapshotState | undefined, legacy: { status?: string } | undefined): string {
  if (own)
    return (
      `${own.status} (${own.reason}): ${own.rows} rows in ${own.chunks} chunks so far` +
      (own.updatedAt ? `, last at ${own.updatedAt}` : '')
    );
  if (legacy) return `${legacy.status ?? 'unknown'} (the pipeline's snapshot record)`;
  return 'no snapshot record: the source has not started its snapshot (is it running?)';
}

function parseJson(value: Buffer): unknown {
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined; // not a record of ours: the table counts as not done
  }
}
