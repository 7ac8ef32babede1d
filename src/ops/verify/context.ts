// What verifying one table needs: its reader in Postgres, its collection in Qdrant, how the sink
// maps its rows (point ids, vector layout), and the pipeline to wait for.
import type pg from 'pg';
import type { Logger } from '../../shared/log.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import type { Distance } from '../../sink/qdrant/collections.js';
import type { VectorMapping } from '../../sink/qdrant/layout.js';
import type { PipelineRef } from './applied.js';
import type { CollectionReader } from './qdrant.js';
import type { TableReader } from './rows.js';

export interface TableContext {
  /** "schema.table". */
  table: string;
  /** The connection rows are read on (no per-query time limit: a kNN scans the table). */
  data: pg.Client;
  reader: TableReader;
  /** The sampled top-k's connection and reader: it runs beside the row comparison. */
  knn: { data: pg.Client; reader: TableReader };
  qdrant: CollectionReader;
  descriptor: TableDescriptor;
  /** The pipeline's point-id namespace (point-id.ts). */
  namespace: string;
  mapping: VectorMapping;
  /** The collection's vectors: distance and size by the name points use ('' for the unnamed one). */
  params: Map<string, { distance: Distance; size: number }>;
  pipeline: PipelineRef;
  waitTimeoutMs: number;
  log: Logger;
  signal?: AbortSignal;
  state: {
    /** Set when the pipeline did not apply in time: what was behind (then it is not waited for again). */
    behind?: string[];
    /** Keys found different while reading, and so rechecked. */
    rechecked: number;
    /** Keys still changing after every recheck round. */
    unsettled: number;
    /** Keys that differed while the pipeline was behind (so they could not be settled). */
    notApplied: number;
  };
}
