// The pgoutput messages as vecrelay sees them: a tagged union with one shape per message tag.
// The wire format they come from is documented in ./parser.ts. LSNs are bigints everywhere; times
// are microseconds since the Unix epoch (pgoutput sends µs since 2000-01-01; the parser shifts them).

/** One column of a row as pgoutput sent it. Every column has a cell: none is ever dropped. */
export type Cell = NullCell | UnchangedCell | TextCell | BinaryCell;
export interface NullCell {
  kind: 'null';
}
/** An unchanged TOASTed value: the UPDATE did not touch it and pgoutput did not send it. */
export interface UnchangedCell {
  kind: 'unchanged';
}
/** The type's output-function text (sent when `binary` is off, or the type has no send function). */
export interface TextCell {
  kind: 'text';
  text: string;
}
/**
 * The type's send-function bytes. A view into the message buffer (see parsePgoutput's `copy`
 * option): decode it, or copy it, before the buffer can be reused.
 */
export interface BinaryCell {
  kind: 'binary';
  bytes: Buffer;
}
/** A cell that carries a value (the decoders' input): everything but 'unchanged'. */
export type ValueCell = NullCell | TextCell | BinaryCell;

/** Columns in the order of the table's Relation message. */
export type Tuple = Cell[];

export type ReplicaIdentity = 'default' | 'nothing' | 'full' | 'index';

export interface RelationColumn {
  name: string;
  /** Part of the replica identity (the primary key under REPLICA IDENTITY DEFAULT). */
  isKey: boolean;
  typeOid: number;
  /** Type modifier: -1 when none; the dimension for vector(n), halfvec(n), sparsevec(n). */
  typeMod: number;
}

export interface BeginMessage {
  tag: 'begin';
  /** LSN of the transaction's commit record. */
  finalLsn: bigint;
  commitTimeMicros: bigint;
  xid: number;
}

export interface CommitMessage {
  tag: 'commit';
  flags: number;
  commitLsn: bigint;
  /** End of the commit record: the position to confirm once the whole transaction is stored. */
  endLsn: bigint;
  commitTimeMicros: bigint;
}

/** The transaction came from another node (replication origin); sent after Begin. */
export interface OriginMessage {
  tag: 'origin';
  originLsn: bigint;
  name: string;
}

/** Announces a non-builtin type (extension types such as vector) before a Relation uses it. */
export interface TypeMessage {
  tag: 'type';
  oid: number;
  /** '' for pg_catalog, as pgoutput sends it. */
  schema: string;
  name: string;
}

export interface RelationMessage {
  tag: 'relation';
  oid: number;
  /** '' for pg_catalog, as pgoutput sends it. */
  schema: string;
  name: string;
  replicaIdentity: ReplicaIdentity;
  columns: RelationColumn[];
}

export interface InsertMessage {
  tag: 'insert';
  relationOid: number;
  new: Tuple;
}

export interface UpdateMessage {
  tag: 'update';
  relationOid: number;
  /** The old row: present when the key changed ('K', key columns only) or under REPLICA IDENTITY FULL ('O'). */
  old?: Tuple;
  oldIsKeyOnly?: boolean;
  new: Tuple;
}

export interface DeleteMessage {
  tag: 'delete';
  relationOid: number;
  /** 'K': only the key columns carry values, the others are null cells. 'O': the full old row. */
  old: Tuple;
  oldIsKeyOnly: boolean;
}

export interface TruncateMessage {
  tag: 'truncate';
  relationOids: number[];
  cascade: boolean;
  restartIdentity: boolean;
}

/** A pg_logical_emit_message() record (heartbeats, watermarks). */
export interface LogicalMessage {
  tag: 'message';
  /** Emitted inside a transaction (delivered between its Begin and Commit) or not (at once). */
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: Buffer;
}

export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | TypeMessage
  | RelationMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;
