// The seam between the consumer and a target system (DESIGN.md "Sink"; Redpanda Connect's
// BatchOutput). consumer.ts owns the consumer group, the batch lifecycle, fencing and commits;
// an Output owns one target: it applies one partition's planned steps (plan.ts: upsert, partial,
// delete, truncate) to one table's place in the target, and classifies every failure:
//
//   record     the record's own fault (Qdrant: a 4xx that splitting isolates to one point):
//              the output hands those records to ctx.deadLetter and goes on;
//   transient  network, 5xx, 408, 429: the output retries with backoff (fencing before each try);
//   gone       the table's place in the target vanished (a dropped collection): TargetGone,
//              the consumer has the output recreate it and rebuilds it from the topic;
//   fatal      the target refuses us (credentials, permissions): ConfigError, the sink stops.
//
// A second target is a folder beside qdrant/ implementing Output, not a rewrite.
import type { TableConfig } from '../config/schema.js';
import type { KeyColumn } from '../event/key.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import { VecrelayError } from '../shared/errors.js';
import type { SinkRecord, Step } from './plan.js';

export type Fault = 'record' | 'transient' | 'gone' | 'fatal';

/** What the consumer lends an output for one batch. */
export interface BatchContext {
  /**
   * Called before every request to the target (and while waiting to retry): tells the group this
   * member is alive, and throws StaleBatch once the batch must not write any more (the partition
   * went to another member, or the sink is stopping).
   */
  fence(): Promise<void>;
  /** Records that failed for their own fault: to the dead-letter topic with the reason. */
  deadLetter(records: SinkRecord[], reason: string): Promise<void>;
  /**
   * Records now in the target (or dead-lettered for their own fault), as each request ends: on
   * a stop mid-batch the consumer commits the prefix of the batch they complete.
   */
  applied(records: SinkRecord[]): void;
  /** Aborts on stop: waits end, and a request in flight is abandoned (it is not committed). */
  signal: AbortSignal;
}

export interface OutputTable {
  descriptor: TableDescriptor;
  /** The table's entry in the config (collection name, distance, payload indexes). */
  config: TableConfig | undefined;
}

export interface TableOutput {
  /** The table's key columns: a record's point identity. */
  readonly keyColumns: string[];
  /** The same with their pg_type names: a tombstone's message key is decoded with them. */
  readonly key: readonly KeyColumn[];
  /** Where the table goes in the target, for logs (the Qdrant collection). */
  readonly target: string;
  /**
   * Applies the steps in order; returns once the target has applied each of them or the records
   * at fault were dead-lettered. Throws StaleBatch (from ctx.fence), TargetGone or ConfigError.
   */
  apply(steps: Step[], ctx: BatchContext): Promise<void>;
  /** Creates the table's place in the target again from its descriptor (after TargetGone). */
  recreate(): Promise<void>;
}

export interface Output {
  /** Makes sure the table's place in the target exists and fits the table; waits for the target. */
  open(table: OutputTable, signal: AbortSignal): Promise<TableOutput>;
  /**
   * The source described an opened table anew while the sink runs (its snapshot started or
   * finished): Qdrant restores the index of a bulk-loaded collection. Idempotent.
   */
  described?(table: OutputTable, signal: AbortSignal): Promise<void>;
  /** Whether some opened table waits for a later descriptor (a bulk load for its snapshot to finish). */
  waitsForDescriptors?(): boolean;
  close(): Promise<void>;
}

/** The batch lost its right to write: another member owns the partition now, or the sink stops. */
export class StaleBatch extends VecrelayError {}

/** The table's place in the target is gone (e.g. the collection was dropped while running). */
export class TargetGone extends VecrelayError {
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(message);
  }
}
