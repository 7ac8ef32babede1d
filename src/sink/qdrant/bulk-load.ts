// Bulk load (DESIGN.md "Sink"): while a table's initial snapshot runs, its collection is loaded
// the way Qdrant documents for bulk upload, and its index is restored when the snapshot is done.
//
// Qdrant's bulk-upload guide offers two switches: `hnsw_config.m: 0` ("defer HNSW graph
// construction", marked as the recommended one, for low memory) and
// `optimizers_config.indexing_threshold: 0` ("disable indexing completely", fastest but with
// high RAM: vectors stay in memory, not flushed to disk, while it is set). vecrelay takes `m: 0`
// alone: the tables it is for are larger than the RAM it may take, and with m = 0 the optimizer
// still merges segments and moves vectors to disk as usual; it only builds no graph. Leaving
// indexing_threshold as configured also leaves nothing else of the user's to put back.
//
// m goes to 0 on each dense vector (`vectors[...].hnsw_config`), not on the collection's
// `hnsw_config`: a vector's own hnsw_config overrides the collection's (Qdrant merges the two),
// and the sink gives a vector one when its pgvector index has m / ef_construction — so a
// collection-level m: 0 would leave exactly those vectors indexing. Sparse vectors have no HNSW
// graph (their inverted index is built on upsert and cannot be deferred).
//
// Which collections are touched: only those the sink created for a bulk load. It says so in the
// collection's own metadata (Qdrant ≥ 1.16), `metadata.vecrelay_bulk_load`, written in the same
// request that creates the collection, with what each vector's index is restored to. Restoring
// is one PATCH /collections/{name} that sets every vector's hnsw_config and removes the key (a
// metadata key set to null is removed): so a sink that restarts, or a second sink process, finds
// the key and restores again (the same values: idempotent), or finds none and does nothing. A
// collection whose m someone set to 0 has no such key, and is never changed. Removing the key by
// hand keeps a collection as it is. Before 1.16 Qdrant has no collection metadata (it would
// ignore the field): no bulk load there, since nothing could tell a restarted sink to restore.
import type { QdrantClient } from '@qdrant/js-client-rest';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import type { Logger } from '../../shared/log.js';

/** The metadata key that marks a collection as being bulk-loaded by vecrelay. */
export const BULK_LOAD_KEY = 'vecrelay_bulk_load';

export interface HnswTarget {
  m: number;
  ef_construct: number;
}

/** `metadata.vecrelay_bulk_load`: per dense vector ('' = the unnamed one), what its index is restored to. */
export interface BulkLoadMark {
  /** The vector's own m / ef_construct (from its pgvector index); null: the collection's hnsw_config. */
  restore: Record<string, HnswTarget | null>;
}

/** A dense vector as ensureCollection creates it. */
export interface DenseVector {
  /** '' for a collection's one unnamed vector. */
  key: string;
  hnsw: HnswTarget | undefined;
}

/** The vector's hnsw_config while bulk-loading: m 0, ef_construct as it will be. */
export function deferredHnsw(hnsw: HnswTarget | undefined): Partial<HnswTarget> {
  return { ...hnsw, m: 0 };
}

export function bulkLoadMark(vectors: DenseVector[]): BulkLoadMark {
  return { restore: Object.fromEntries(vectors.map((v) => [v.key, v.hnsw ?? null])) };
}

/** The collection info fields this file reads (GET /collections/{name}). */
export interface CollectionInfoPart {
  config: {
    hnsw_config: { m: number; ef_construct: number };
    metadata?: Record<string, unknown> | null;
  };
}

/** The bulk-load mark of a collection, or undefined when it has none (never bulk-loaded, or restored). */
export function markOf(info: CollectionInfoPart): BulkLoadMark | undefined {
  const mark = info.config.metadata?.[BULK_LOAD_KEY] as BulkLoadMark | undefined;
  return mark && typeof mark === 'object' && mark.restore && typeof mark.restore === 'object'
    ? mark
    : undefined;
}

/** The PATCH /collections/{name} body that restores the index of a marked collection. */
export function restoreRequest(info: CollectionInfoPart, mark: BulkLoadMark) {
  const { m, ef_construct } = info.config.hnsw_config;
  const vectors = Object.fromEntries(
    Object.entries(mark.restore).map(([key, target]) => [
      key,
      { hnsw_config: target ?? { m, ef_construct } },
    ]),
  );
  return { vectors, metadata: { [BULK_LOAD_KEY]: null } };
}

/**
 * One table's bulk load: whether its collection is to be created for one (the table's snapshot
 * runs), and the restore once the table's descriptor says the snapshot is done.
 */
export class BulkLoad {
  /** The collection carries the mark: its index waits for the table's snapshot to finish. */
  loading = false;
  private warnedUnknown = false;

  constructor(
    private readonly client: QdrantClient,
    readonly collection: string,
    /** qdrant.bulkLoad, and a Qdrant with collection metadata. */
    private readonly enabled: boolean,
    /** The table's snapshot, as its latest descriptor says. */
    public snapshot: TableDescriptor['snapshot'],
    private readonly log: Logger,
  ) {}

  /** Whether a collection created now is created for a bulk load. */
  get deferIndex(): boolean {
    return this.enabled && this.snapshot === 'running';
  }

  /**
   * Reads the collection's mark, and restores the index once the snapshot is done. Idempotent;
   * call again after a failure.
   */
  async follow(): Promise<void> {
    const info = (await this.client.getCollection(this.collection)) as unknown as CollectionInfoPart;
    const mark = markOf(info);
    const was = this.loading;
    this.loading = mark !== undefined;
    if (!mark) return;
    if (this.snapshot === 'running') {
      if (!was)
        this.log.info(
          "bulk load: HNSW construction deferred (m: 0) until the table's initial snapshot is done",
        );
      return;
    }
    if (this.snapshot !== 'done') {
      if (!this.warnedUnknown)
        this.log.warn(
          { key: BULK_LOAD_KEY },
          `the collection was created for a bulk load (HNSW m: 0), but the table's descriptor does not ` +
            `say how its snapshot goes (an older source?): its index is restored once it says "done"; ` +
            `to restore it now, PATCH /collections/${this.collection} with each vector's hnsw_config ` +
            `(metadata.${BULK_LOAD_KEY}.restore) and remove metadata.${BULK_LOAD_KEY}`,
        );
      this.warnedUnknown = true;
      return;
    }
    const request = restoreRequest(info, mark);
    await this.client.updateCollection(this.collection, request);
    this.loading = false;
    this.log.info(
      { vectors: request.vectors },
      "bulk load done: the table's snapshot is complete, HNSW index restored",
    );
  }
}
