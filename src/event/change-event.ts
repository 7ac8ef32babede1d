// The change event: the contract between the source (Postgres → Kafka) and the sink (Kafka →
// Qdrant). One event per row change, or one per table for a truncate. Its Avro form is
// schemas/change-event.avsc; src/event/avro.ts converts between the two.
//
// Column values are decoded from pgoutput (binary or text) into these shapes, never into lossy JS
// forms: int8 and numeric keep every digit, timestamps keep microseconds, vectors are float32.

/** c = insert, u = update, d = delete, r = snapshot read, t = truncate. */
export type Op = 'c' | 'u' | 'd' | 'r' | 't';

/** Where the change comes from; LSNs are bigints (never strings, never JS numbers). */
export interface SourceInfo {
  /** LSN of the transaction's commit record; for snapshot rows the slot's consistent point. */
  lsn: bigint;
  /** Transaction id (0 for snapshot rows). */
  xid: number;
  /** Commit time, microseconds since the Unix epoch (snapshot rows: when the snapshot began). */
  commitTimeMicros: bigint;
  schema: string;
  table: string;
  snapshot: boolean;
  /**
   * Position of the change within its transaction, from 0: orders changes that share `lsn`
   * (rows written before and after a TRUNCATE in one transaction). Snapshot rows count within
   * the snapshot.
   */
  seq: number;
}

/** A JSON document (json, jsonb, and arrays that are not vectors), kept as its text. */
export interface JsonValue {
  kind: 'json';
  json: string;
}

/** numeric, kept exact as its decimal text ('NaN', 'Infinity' included). */
export interface DecimalValue {
  kind: 'decimal';
  text: string;
}

/** uuid, lowercase hyphenated. A distinct kind so a text key that looks like a uuid stays text. */
export interface UuidValue {
  kind: 'uuid';
  uuid: string;
}

/**
 * A column value. bigint is used for int8 (and any integer), number for float4/float8,
 * string for text-like types and for date/time types in ISO-8601 (timestamps with microseconds;
 * timestamptz in UTC with 'Z'), Uint8Array for bytea.
 */
export type ColumnValue =
  null | boolean | bigint | number | string | Uint8Array | JsonValue | DecimalValue | UuidValue;

/** vector, halfvec, real[] / double precision[] configured as vectors: float32 values. */
export interface DenseVector {
  kind: 'dense';
  values: Float32Array;
  /** The source column was halfvec (every value is exactly representable in float16). */
  half: boolean;
}

/** sparsevec: 0-based indices, ascending, with their float32 values. */
export interface SparseVector {
  kind: 'sparse';
  dim: number;
  indices: Int32Array;
  values: Float32Array;
}

export type VectorValue = DenseVector | SparseVector;

export interface ChangeEvent {
  op: Op;
  source: SourceInfo;
  /** Primary-key (or replica identity) columns → values. Empty for truncate. */
  key: Record<string, ColumnValue>;
  /** Non-vector columns of the new row (c, u, r); null for d and t. */
  values: Record<string, ColumnValue> | null;
  /** Vector columns of the new row (c, u, r): null for a NULL vector. Empty for d and t. */
  vectors: Record<string, VectorValue | null>;
  /**
   * Columns whose value was not sent (unchanged TOAST in an UPDATE). They appear neither in
   * `values` nor in `vectors`; the sink must keep what it has for them.
   */
  unchanged: string[];
}

export const isPartialUpdate = (e: ChangeEvent): boolean => e.op === 'u' && e.unchanged.length > 0;
