// Where the source's changes go: the one seam between the source and Kafka. The source (stream
// sessions, snapshots) hands over change events and learns when each is stored; it knows nothing
// of topics, partitions, producers or record formats — src/kafka/change-log.ts implements this
// (the caller, src/cli, picks the implementation). Zero-cache's ChangeSource → {changes, acks},
// turned around: the source pushes, the log answers with acknowledgements.
//
// The acknowledgement rule stays in one place, the source's AckTracker (ack-tracker.ts): a position
// is confirmed to Postgres only once the log has stored every change below it. The log's part is
// to call, for each record it sends, the function `track()` returned — once that record is stored.
import type { ChangeEvent } from '../event/change-event.js';
import type { PipelineIdentity } from '../event/identity.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import type { Logger } from '../shared/log.js';

/** A table as the log knows it: by name. */
export interface TableName {
  schema: string;
  table: string;
}

/** What the source says of a table to the consumers (the log adds where its events are). */
export type TableDescription = Omit<TableDescriptor, 'topic'>;

/**
 * Registers one record about to be sent and returns what to call once it is stored. An event may
 * become several records (a delete and its tombstone, a truncate per partition): one call each.
 */
export type Track = () => () => void;

/** A row the source could not turn into an event (a value its decoders reject, a null key). */
export interface DeadRow {
  table: string;
  /** insert, update, delete or snapshot. */
  op: string;
  lsn: bigint;
  xid: number;
  /** Every cell as it arrived, by column. */
  cells: Array<{ column: string; kind: string; bytes?: Buffer; text?: string }>;
}

/** The log as the source is given it: long-lived; a new client for each run of the source. */
export interface ChangeLog {
  connect(log: Logger): ChangeLogClient;
  /**
   * A failure retrying cannot fix (the log refused our credentials), as the error to stop with;
   * undefined for any other error.
   */
  refusal(err: unknown): Error | undefined;
}

/** One run's connections to the log. */
export interface ChangeLogClient {
  /** Connects and checks that each table can have a place in the log; creates nothing. */
  check(tables: TableName[]): Promise<void>;
  /**
   * Creates what is missing — each table's place, the dead letters', the descriptors', the
   * pipeline state's — and records the pipeline as their owner.
   */
  create(tables: TableName[], owner: PipelineIdentity): Promise<void>;
  /** The pipeline's durable state (snapshot progress): every key's last value. */
  readState(): Promise<Map<string, unknown>>;
  /** Resolves once the value is stored. */
  writeState(key: string, value: unknown): Promise<void>;
  /** Tells the consumers what these tables look like; resolves once stored. */
  describe(tables: TableDescription[]): Promise<void>;
  /** A writer of its own for one streaming session. */
  openWriter(): Promise<ChangeWriter>;
  close(): Promise<void>;
}

/**
 * Sends one session's events in order. Once a send fails the writer is failed for good (later
 * events must not overtake the lost ones): `failed` rejects, and the session ends; the next one
 * resumes from what Postgres confirmed.
 */
export interface ChangeWriter {
  /**
   * Queues the event (keyed by `keyColumns`); waits while too much is unacknowledged. An event
   * too large for the log goes to the dead letters as a bounded record instead ('oversized').
   */
  publish(event: ChangeEvent, keyColumns: string[], track: Track): Promise<'queued' | 'oversized'>;
  /** Queues the dead letter of a row that could not become an event. */
  deadLetter(row: DeadRow, err: Error, track: Track): Promise<void>;
  /** Sends what is queued soon (a transaction ended). */
  flush(): void;
  /** Resolves once everything queued is stored. */
  drain(): Promise<void>;
  /** Rejects with the first failed send. */
  readonly failed: Promise<never>;
  close(): Promise<void>;
}
