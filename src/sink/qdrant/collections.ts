// Collections are created from the source's table descriptor when missing (DESIGN.md "Sink"):
// dimension from the column typmod, distance and HNSW parameters from the pgvector index (or the
// config), named vectors when a table has several vector columns, sparse vectors for sparsevec.
// An existing collection whose dimension or distance disagrees stops the sink, naming both.
import { QdrantClient } from '@qdrant/js-client-rest';
import type { TableConfig } from '../../config/schema.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { throwFirst, type Problem } from '../../shared/problems.js';
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
  size?: number;
  distance?: string;
}

export async function ensureCollection(
  client: QdrantClient,
  collection: string,
  descriptor: TableDescriptor,
  table: TableConfig | undefined,
  log: Logger,
): Promise<void> {
  const layout = vectorLayout(descriptor);
  const dense = denseSpecs(descriptor, table, log);
  const vectorConfig = (d: DenseSpec) => ({
    size: d.size,
    distance: d.distance,
    ...(d.hnsw ? { hnsw_config: d.hnsw } : {}),
  });
  const { exists } = await client.collectionExists(collection);
  if (exists) {
    const info = await client.getCollection(collection);
    const vectors = info.config.params.vectors as
      ExistingVectorParams | Record<string, ExistingVectorParams> | undefined;
    for (const d of dense) {
      const have: ExistingVectorParams | undefined = layout.unnamed
        ? (vectors as ExistingVectorParams | undefined)
        : (vectors as Record<string, ExistingVectorParams> | undefined)?.[d.name];
      if (!have || have.size !== d.size || have.distance !== d.distance)
        throw new ConfigError(
          `Qdrant collection ${collection} has ${layout.unnamed ? 'its vector' : `vector "${d.name}"`} as ` +
            `${have ? `size ${have.size}, ${have.distance}` : 'missing'}, but ${descriptor.schema}.${descriptor.table}.${d.name} ` +
            `needs size ${d.size}, ${d.distance}: drop or rename the collection, or set tables[].collection / tables[].distance`,
        );
    }
    return;
  }
  try {
    await client.createCollection(collection, {
      vectors: layout.unnamed
        ? vectorConfig(dense[0]!)
        : Object.fromEntries(dense.map((d) => [d.name, vectorConfig(d)])),
      ...(layout.sparse.length
        ? { sparse_vectors: Object.fromEntries(layout.sparse.map((n) => [n, {}])) }
        : {}),
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
    { collection, vectors: dense.map((d) => `${d.name}:${d.size}:${d.distance}`), sparse: layout.sparse },
    'created collection',
  );
}

export function collectionName(
  prefix: string,
  table: TableConfig | undefined,
  schema: string,
  name: string,
): string {
  return table?.collection ?? `${prefix}${schema === 'public' ? name : `${schema}_${name}`}`;
}
