// What the sink needs to know about a table to create its collection and map its keys, published
// by the source to the compacted topic `<topicPrefix>._tables` (key "schema.table", JSON value)
// whenever it starts. With it, a new sink group rebuilds collections from Kafka alone.
import type { PipelineIdentity } from './identity.js';

export interface TableDescriptor {
  schema: string;
  table: string;
  /** The change topic of this table. */
  topic: string;
  /** Key columns in order, with their pg_type names ('int4', 'uuid', 'text'…): point ids depend on them. */
  key: Array<{ name: string; type: string }>;
  vectors: Array<{
    name: string;
    kind: 'vector' | 'halfvec' | 'sparsevec' | 'float4[]' | 'float8[]';
    /** From the column's typmod; null when the column has none. */
    dimension: number | null;
    /** From the pgvector index's operator class; null when there is no index. */
    distance: 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan' | null;
    hnsw: { m: number; efConstruction: number } | null;
  }>;
  payload: string[];
  /** The pipeline that publishes this table to `topic` (src/event/identity.ts); absent when published by an older vecrelay. */
  owner?: PipelineIdentity;
  /**
   * The table's first snapshot (at start, or once the table is added to the config): the source
   * publishes the descriptor again with 'running' when it starts and 'done' when it completes. The
   * sink bulk-loads the collection in between (HNSW construction deferred,
   * src/sink/qdrant/bulk-load.ts). Absent: unknown (an older source): no bulk load.
   */
  snapshot?: 'running' | 'done';
}

export { tablesTopic } from './names.js';
