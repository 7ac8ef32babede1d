// Collections are created from the source's table descriptor when missing (DESIGN.md "Sink"):
// dimension from the column typmod, distance and HNSW parameters from the pgvector index (or the
// config), named vectors when a table has several vector columns, sparse vectors for sparsevec.
// An existing collection whose dimension or distance disagrees stops the sink, naming both.
import { QdrantClient } from '@qdrant/js-client-rest';
import type { TableConfig } from '../../config/schema.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import type { Logger } from '../../shared/log.js';
import { throwFirst, type Problem } from '../../shared/problems.js';
import { BULK_LOAD_KEY, bulkLoadMark, deferredHnsw } from './bulk-load.js';
import { vectorLayout } from './points.js';
import { LSN_FIELD, SEQ_FIELD } from './points.js';

export type Distance = 'Cosine' | 'Euclid' | 'Dot' | 'Manhattan';

interface DenseSpec {
  name: string;
  size: number;
  distance: Distance;
  hnsw: { m: number; ef_construct: number } | undefined;
}

type VectorDescriptor = TableDescriptor['vectors'][number];

/** A dense vector needs a dimension for its collection; sparse vectors do not. */
export function dimensionProblem(table: string, v: VectorDescriptor): Problem | undefined {
  if (v.kind === 'sparsevec' || v.dimension) return undefined;
  return {
    object: `${table}.${v.name}`,
    message: `${table}.${v.name} has no dimension`,
    fix: `declare it as ${v.kind}(n): a Qdrant collection needs one`,
  };
}

/** The collection's distance: tables[].distance, else the pgvector index's, else Cosine. */
export function resolveDistance(
  configured: Distance | undefined,
  fromIndex: Distance | null,
): { distance: Distance; from: 'config' | 'index' | 'default' } {
  if (configured) return { distance: configured, from: 'config' };
  if (fromIndex) return { distance: fromIndex, from: 'index' };
  return { distance: 'Cosine', from: 'default' };
}

export function denseSpecs(
  descriptor: TableDescriptor,
  table: TableConfig | undefined,
  log: Logger,
): DenseSpec[] {
  const name = `${descriptor.schema}.${descriptor.table}`;
  return descriptor.vectors
    .filter((v) => v.kind !== 'sparsevec')
    .map((v) => {
      throwFirst(dimensionProblem(name, v));
      const { distance, from } = resolveDistance(table?.distance, v.distance);
      if (from === 'default')
        log.warn(
          { table: name, column: v.name },
          'no pgvector index and no configured distance: using Cosine (set tables[].distance to choose)',
        );
      return {
        name: v.name,
        size: v.dimension!,
        distance,
        hnsw: v.hnsw ? { m: v.hnsw.m, ef_construct: v.hnsw.efConstruction } : undefined,
      };
    });
}

interface ExistingVectorParams {
  size?: unknown;
  distance?: unknown;
}

/** An existing collection's `config.params`, as Qdrant's GET /collections/{name} returns it. */
export interface ExistingParams {
  vectors?: ExistingVectorParams | Record<string, ExistingVectorParams> | null;
  sparse_vectors?: Record<string, unknown> | null;
}

const describe = (p: ExistingVectorParams | undefined) =>
  p && typeof p.size === 'number' ? `size ${p.size}, ${String(p.distance)}` : 'missing';

/**
 * What keeps an existing collection from serving `descriptor`'s table, or undefined. Both
 * layouts: one unnamed dense vector, or named ones (a collection of the other layout is named as
 * such). Worded as `vecrelay plan` words it (src/plan/qdrant.ts collectionProblem).
 */
export function existingCollectionProblem(
  collection: string,
  descriptor: TableDescriptor,
  dense: DenseSpec[],
  params: ExistingParams,
): Problem | undefined {
  const { unnamed, sparse } = vectorLayout(descriptor);
  const table = `${descriptor.schema}.${descriptor.table}`;
  const have = params.vectors ?? undefined;
  const haveUnnamed = have !== undefined && typeof (have as ExistingVectorParams).size === 'number';
  const fix =
    'drop or rename the collection, or set tables[].collection (another collection) / tables[].distance';
  for (const d of dense) {
    const needs = `${table}.${d.name} needs ${unnamed ? 'one unnamed vector of ' : `vector "${d.name}" of `}size ${d.size}, ${d.distance}`;
    let found: ExistingVectorParams | undefined;
    let as: string;
    if (unnamed) {
      found = haveUnnamed ? (have as ExistingVectorParams) : undefined;
      as = haveUnnamed
        ? `its vector as ${describe(found)}`
        : `named vectors (${Object.keys(have ?? {}).join(', ') || 'none'}) instead of one unnamed vector`;
    } else {
      found = haveUnnamed ? undefined : (have as Record<string, ExistingVectorParams> | undefined)?.[d.name];
      as = haveUnnamed
        ? `one unnamed vector (${describe(have as ExistingVectorParams)}) instead of named vectors`
        : `vector "${d.name}" as ${describe(found)}`;
    }
    if (!found || found.size !== d.size || found.distance !== d.distance)
      return {
        object: `collection ${collection}`,
        message: `Qdrant collection ${collection} has ${as}, but ${needs}`,
        fix,
      };
  }
  const haveSparse = params.sparse_vectors ?? {};
  const missing = sparse.filter((name) => !(name in haveSparse));
  if (missing.length)
    return {
      object: `collection ${collection}`,
      message: `Qdrant collection ${collection} has no sparse vector ${missing.join(', ')}, which ${table} needs`,
      fix,
    };
  return undefined;
}

/**
 * Creates the table's collection when missing, else checks that it fits. With `deferIndex` a
 * collection it creates is created for a bulk load (bulk-load.ts): every dense vector with m 0,
 * and the mark saying what to restore. An existing collection is never changed.
 */
export async function ensureCollection(
  client: QdrantClient,
  collection: string,
  descriptor: TableDescriptor,
  table: TableConfig | undefined,
  log: Logger,
  deferIndex = false,
): Promise<ExistingParams> {
  const layout = vectorLayout(descriptor);
  const dense = denseSpecs(descriptor, table, log);
  const vectorConfig = (d: DenseSpec) => {
    const hnsw = deferIndex ? deferredHnsw(d.hnsw) : d.hnsw;
    return { size: d.size, distance: d.distance, ...(hnsw ? { hnsw_config: hnsw } : {}) };
  };
  const { exists } = await client.collectionExists(collection);
  if (exists) {
    const info = await client.getCollection(collection);
    const params = info.config.params as ExistingParams;
    throwFirst(existingCollectionProblem(collection, descriptor, dense, params));
    return params;
  }
  const params = {
    vectors: layout.unnamed
      ? vectorConfig(dense[0]!)
      : Object.fromEntries(dense.map((d) => [d.name, vectorConfig(d)])),
    ...(layout.sparse.length
      ? { sparse_vectors: Object.fromEntries(layout.sparse.map((n) => [n, {}])) }
      : {}),
  };
  const mark =
    deferIndex && dense.length > 0 // sparse vectors have no graph to defer
      ? bulkLoadMark(dense.map((d) => ({ key: layout.unnamed ? '' : d.name, hnsw: d.hnsw })))
      : undefined;
  try {
    await client.createCollection(collection, {
      ...params,
      ...(mark ? { metadata: { [BULK_LOAD_KEY]: mark } } : {}),
    });
  } catch (err) {
    // Another sink process created it first (409): check it like any existing collection.
    if ((await client.collectionExists(collection)).exists)
      return ensureCollection(client, collection, descriptor, table, log);
    throw err;
  }
  // Truncates delete by these fields' ranges: index them.
  for (const field of [LSN_FIELD, SEQ_FIELD])
    await client.createPayloadIndex(collection, { field_name: field, field_schema: 'integer', wait: true });
  for (const index of table?.payloadIndexes ?? [])
    await client.createPayloadIndex(collection, {
      field_name: index.field,
      field_schema: index.schema,
      wait: true,
    });
  log.info(
    {
      collection,
      vectors: dense.map((d) => `${d.name}:${d.size}:${d.distance}`),
      sparse: layout.sparse,
      ...(mark ? { bulkLoad: true } : {}),
    },
    mark ? 'created collection for a bulk load (HNSW m: 0 until the snapshot is done)' : 'created collection',
  );
  return params;
}

/** The vectors of an existing collection, as Qdrant describes them (a schema check re-reads them). */
export async function readCollectionParams(
  client: QdrantClient,
  collection: string,
): Promise<ExistingParams> {
  return (await client.getCollection(collection)).config.params as ExistingParams;
}

export { collectionName } from '../../event/names.js';
