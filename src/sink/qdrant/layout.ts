// How a table's vector columns map onto the vectors of its collection, and the check every change
// passes before any of its batch is written. The sink is safe on its own here: it compares what an
// event carries with the collection it opened, whatever the source or the table descriptor say.
//
// A schema change while streaming (ALTER TABLE … ADD COLUMN v2 vector(n), a DROP + ADD with
// another typmod, ALTER … TYPE vector(n)) reaches the sink as events of another shape. Each vector
// an event carries must map to a vector the collection has, of the same kind and size:
//   - one unnamed vector: it holds the one vector column the table had when the collection was
//     opened, and nothing else — a new column is never written into it;
//   - named vectors: a column goes to the vector of its name (also one added to the collection
//     later, e.g. with Qdrant ≥ 1.18's PUT /collections/{c}/vectors/{name}).
// Anything else stops the sink with a ConfigError naming the column, the collection and the fix
// (a new collection and a re-sync, or adding the named vector): written anyway it would replace
// another column's vector, and sent to Qdrant it would be rejected row by row and dead-lettered —
// the whole stream. A NULL needs no vector in the collection (there is nothing to write).
// Columns left out of a configured tables[].vectors are not part of the contract: never written.
import type { VectorValue } from '../../event/change-event.js';
import type { TableDescriptor } from '../../event/table-descriptor.js';
import type { Problem } from '../../shared/problems.js';
import type { ExistingParams } from './collections.js';
import { vectorLayout, type VectorLayout } from './points.js';

/** The vectors a collection has, as its `config.params` describe them. */
export interface CollectionVectors {
  /** Size of the collection's one unnamed vector; null when its vectors are named. */
  unnamedSize: number | null;
  /** Named dense vectors: name → size. */
  named: Map<string, number>;
  sparse: Set<string>;
}

export function collectionVectors(params: ExistingParams): CollectionVectors {
  const have = params.vectors ?? undefined;
  const named = new Map<string, number>();
  let unnamedSize: number | null = null;
  if (have && typeof (have as { size?: unknown }).size === 'number')
    unnamedSize = (have as { size: number }).size;
  else if (have)
    for (const [name, p] of Object.entries(have as Record<string, { size?: unknown }>))
      if (p && typeof p.size === 'number') named.set(name, p.size);
  return { unnamedSize, named, sparse: new Set(Object.keys(params.sparse_vectors ?? {})) };
}

/** The collection ensureCollection creates for `descriptor` (when none is read from Qdrant). */
export function createdVectors(descriptor: Pick<TableDescriptor, 'vectors'>): CollectionVectors {
  const layout = vectorLayout(descriptor);
  const size = (name: string) => descriptor.vectors.find((v) => v.name === name)?.dimension ?? 0;
  return {
    unnamedSize: layout.unnamed ? size(layout.dense[0]!) : null,
    named: new Map(layout.unnamed ? [] : layout.dense.map((n) => [n, size(n)])),
    sparse: new Set(layout.sparse),
  };
}

const ARRAY_KINDS = new Set(['float4[]', 'float8[]']);

const resync =
  `sync the table into a new collection (set tables[].collection to a new name), restart the ` +
  `source so it describes the table anew, and re-sync the table (until vecrelay has a resync ` +
  `command: vecrelay teardown, then start again so the snapshot refills it)`;

export class VectorMapping {
  /** What points.ts writes: the unnamed vector's column, or the collection's named vectors. */
  readonly layout: VectorLayout;
  /** The table's vector columns the collection holds: a whole row without one has none (cleared). */
  readonly expected: ReadonlySet<string>;
  private readonly table: string;

  constructor(
    readonly collection: string,
    private readonly descriptor: TableDescriptor,
    /** tables[].vectors, when configured: the only columns ever written. */
    private readonly configured: readonly string[] | undefined,
    readonly vectors: CollectionVectors,
  ) {
    this.table = `${descriptor.schema}.${descriptor.table}`;
    const own = vectorLayout(descriptor);
    if (vectors.unnamedSize !== null) {
      // The unnamed vector holds the table's one dense vector column, if it has exactly one.
      const column = own.unnamed ? own.dense[0]! : undefined;
      this.layout = { unnamed: true, dense: column ? [column] : [], sparse: [] };
    } else {
      const written = (names: Iterable<string>) => [...names].filter((n) => this.written(n));
      this.layout = { unnamed: false, dense: written(vectors.named.keys()), sparse: written(vectors.sparse) };
    }
    const names = new Set([...this.layout.dense, ...this.layout.sparse]);
    this.expected = new Set(descriptor.vectors.map((v) => v.name).filter((n) => names.has(n)));
  }

  /** Whether a vector of the event is written (else it is left out: not in tables[].vectors). */
  written(name: string): boolean {
    return !this.configured || this.configured.includes(name);
  }

  /** Why `vectors` (one change's) cannot be written to this collection, or undefined. */
  problem(vectors: Record<string, VectorValue | null>): Problem | undefined {
    for (const name in vectors) {
      const v = vectors[name];
      if (!v || !this.written(name)) continue;
      const problem = this.vectorProblem(name, v);
      if (problem) return problem;
    }
    return undefined;
  }

  /** The common case, without building any text: the vector fits. */
  private fits(name: string, v: VectorValue): boolean {
    const { layout, vectors } = this;
    if (layout.unnamed)
      return layout.dense[0] === name && v.kind === 'dense' && v.values.length === vectors.unnamedSize;
    if (v.kind === 'sparse') return vectors.sparse.has(name);
    return vectors.named.get(name) === v.values.length;
  }

  private vectorProblem(name: string, v: VectorValue): Problem | undefined {
    if (this.fits(name, v)) return undefined;
    const { collection, table, layout, vectors } = this;
    const object = `${table}.${name}`;
    if (layout.unnamed) {
      if (layout.dense[0] !== name)
        return {
          object,
          message:
            `${object} is a vector column the events now carry, but Qdrant collection ${collection} ` +
            `has one unnamed vector, which holds ${layout.dense[0] ? `${table}.${layout.dense[0]}` : 'another column'} ` +
            `(a column added while streaming?)`,
          fix: `to sync ${name}, ${resync} — its collection then gets named vectors; to leave ${name} out, list the vectors to sync in tables[].vectors`,
        };
    } else if (!vectors.named.has(name) && !vectors.sparse.has(name)) {
      const has = [...vectors.named.keys(), ...vectors.sparse].join(', ') || 'none';
      const size = v.kind === 'dense' ? `size ${v.values.length}` : 'a sparse vector';
      return {
        object,
        message: `${object} is a vector column the events now carry, but Qdrant collection ${collection} has no vector "${name}" (it has ${has}; a column added while streaming?)`,
        fix:
          `add the named vector to the collection (${size}; Qdrant ≥ 1.18: PUT /collections/${collection}/vectors/${name}) ` +
          `and restart the sink, or ${resync}; to leave ${name} out, list the vectors to sync in tables[].vectors`,
      };
    }
    const sparse = layout.unnamed ? false : vectors.sparse.has(name);
    if (sparse !== (v.kind === 'sparse'))
      return {
        object,
        message: `${object} arrives as a ${v.kind} vector, but Qdrant collection ${collection} holds it as a ${sparse ? 'sparse' : 'dense'} one (its column type changed?)`,
        fix: resync,
      };
    if (v.kind !== 'dense') return undefined;
    const size = layout.unnamed ? vectors.unnamedSize! : vectors.named.get(name)!;
    // An array column has no declared dimension: a row of another length is that row's fault
    // (Qdrant rejects it, it is dead-lettered). A vector(n) column's rows all have n.
    const kind = this.descriptor.vectors.find((c) => c.name === name)?.kind;
    if (v.values.length === size || (kind && ARRAY_KINDS.has(kind))) return undefined;
    return {
      object,
      message:
        `${object} has ${v.values.length} dimensions in the events, but Qdrant collection ${collection} ` +
        `holds it as ${layout.unnamed ? 'its unnamed vector' : `vector "${name}"`} of size ${size} ` +
        `(its type changed: ALTER TABLE … vector(${v.values.length})?)`,
      fix: `a collection's vector size cannot change: ${resync}`,
    };
  }
}
