// Collections: creation (with Qdrant's parse and validation rules), info, payload indexes. Their
// update (PATCH) is in update-collection.ts.
import { Aliases, type AliasAction } from './aliases.js';
import { ApiError, collectionNotFound, formatError, validationError, wrongInput } from './errors.js';
import { compareIds, idKey, type PointId } from './ids.js';
import { clone, isObject, type JsonObject, type JsonValue, type Out } from './json.js';
import { valuesAt } from './payload.js';
import { DISTANCES, type Distance, type NamedVectors, type VectorSchema } from './vectors.js';

export interface StoredPoint {
  id: PointId;
  vectors: NamedVectors;
  payload: JsonObject;
  /** Operation id of the last write to the point. */
  version: number;
}

const DATATYPES = ['float32', 'uint8', 'float16', 'turbo4'];
const VECTOR_PARAM_KEYS = [
  'size',
  'distance',
  'hnsw_config',
  'quantization_config',
  'on_disk',
  'memory',
  'datatype',
  'multivector_config',
];
const HNSW_DEFAULTS: JsonObject = {
  m: 16n,
  ef_construct: 100n,
  full_scan_threshold: 10000n,
  max_indexing_threads: 0n,
  on_disk: false,
};
const OPTIMIZER_DEFAULTS: JsonObject = {
  deleted_threshold: 0.2,
  vacuum_min_vector_number: 1000n,
  default_segment_number: 0n,
  max_segment_size: null,
  memmap_threshold: null,
  indexing_threshold: 10000n,
  flush_interval_sec: 5n,
  max_optimization_threads: null,
};
const WAL_DEFAULTS: JsonObject = { wal_capacity_mb: 32n, wal_segments_ahead: 0n, wal_retain_closed: 1n };

/** A VectorParams object, or undefined when `v` is not one (untagged enum: try the next variant). */
function vectorParams(
  v: JsonValue | undefined,
): { size: bigint; distance: Distance; echo: JsonObject } | undefined {
  if (!isObject(v)) return undefined;
  const { size, distance } = v;
  if (typeof size !== 'bigint' || size <= 0n || size >= 1n << 64n) return undefined;
  if (typeof distance !== 'string' || !DISTANCES.includes(distance as Distance)) return undefined;
  if (v.datatype !== undefined && !DATATYPES.includes(String(v.datatype))) return undefined;
  if (v.on_disk !== undefined && v.on_disk !== null && typeof v.on_disk !== 'boolean') return undefined;
  const echo: JsonObject = {};
  for (const k of VECTOR_PARAM_KEYS) if (v[k] !== undefined && v[k] !== null) echo[k] = clone(v[k]);
  return { size, distance: distance as Distance, echo };
}

function objectOrAbsent(body: JsonObject, key: string): JsonObject | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw formatError(`invalid type: expected struct for \`${key}\``);
  return v;
}

export class Collection {
  /** By idKey; write through setPoint / deletePoint so the scroll order stays right. */
  readonly points = new Map<string, StoredPoint>();
  private sorted: StoredPoint[] | undefined;
  readonly payloadIndexes = new Map<string, JsonValue>();
  private lastOperation = -1;

  private constructor(
    readonly name: string,
    readonly schema: VectorSchema,
    private vectorsEcho: JsonObject,
    private readonly body: JsonObject,
  ) {}

  /** After PATCH /collections/{name} changed the creation body (update-collection.ts): echo it. */
  reconfigured(): void {
    const echo = (v: JsonValue | undefined) => vectorParams(v)?.echo ?? {};
    if (this.schema.single) this.vectorsEcho = echo(this.body.vectors);
    else
      this.vectorsEcho = Object.fromEntries(
        Object.entries(this.body.vectors as JsonObject).map(([n, v]) => [n, echo(v)]),
      );
  }

  /** Parses a PUT /collections/{name} body the way Qdrant's CreateCollection does. */
  static create(name: string, body: JsonValue): Collection {
    if (!isObject(body)) throw formatError('invalid type: expected struct CreateCollection');
    const schema: VectorSchema = { single: false, dense: new Map(), sparse: new Set() };
    let vectorsEcho: JsonObject = {};
    const sizeErrors: Array<[string, string]> = [];
    const check = (field: string, size: bigint) => {
      if (size > 65536n) sizeErrors.push([field, 'must be from 1 to 65536']);
    };
    const vectors = body.vectors;
    const single = vectorParams(vectors);
    if (single) {
      schema.single = true;
      schema.dense.set('', { size: Number(single.size), distance: single.distance });
      vectorsEcho = single.echo;
      check('vectors.size', single.size);
    } else if (isObject(vectors)) {
      for (const [vname, v] of Object.entries(vectors)) {
        const p = vectorParams(v);
        if (!p) throw formatError('data did not match any variant of untagged enum VectorsConfig');
        schema.dense.set(vname, { size: Number(p.size), distance: p.distance });
        vectorsEcho[vname] = p.echo;
        check(`vectors.${vname}.size`, p.size);
      }
    } else if (vectors !== undefined && vectors !== null) {
      throw formatError('data did not match any variant of untagged enum VectorsConfig');
    }
    for (const [sname, v] of Object.entries(objectOrAbsent(body, 'sparse_vectors') ?? {})) {
      if (!isObject(v))
        throw formatError(`invalid type: expected struct SparseVectorParams for \`${sname}\``);
      schema.sparse.add(sname);
    }
    for (const key of ['hnsw_config', 'optimizers_config', 'wal_config', 'quantization_config', 'metadata']) {
      objectOrAbsent(body, key);
    }
    if (sizeErrors.length) throw validationError(sizeErrors);
    return new Collection(name, schema, vectorsEcho, clone(body));
  }

  /** The body it was created with (state.ts keeps it across restarts). */
  get createBody(): JsonObject {
    return this.body;
  }

  nextOperationId(): number {
    return ++this.lastOperation;
  }

  /** Points in scroll order (cached until the next insert or delete). */
  sortedPoints(): StoredPoint[] {
    this.sorted ??= [...this.points.values()].sort((a, b) => compareIds(a.id, b.id));
    return this.sorted;
  }

  setPoint(p: StoredPoint): void {
    this.sorted = undefined;
    this.points.set(idKey(p.id), p);
  }

  deletePoint(id: PointId): void {
    if (this.points.delete(idKey(id))) this.sorted = undefined;
  }

  createIndex(body: JsonValue): void {
    if (!isObject(body) || typeof body.field_name !== 'string') {
      throw formatError('missing field `field_name`');
    }
    const schema = body.field_schema ?? body.field_type;
    if (schema === undefined || schema === null) {
      throw new ApiError(
        400,
        "Bad request: Can't auto-detect field type, please specify `field_schema` in the request",
      );
    }
    if (typeof schema !== 'string' && !(isObject(schema) && typeof schema.type === 'string')) {
      throw formatError('data did not match any variant of untagged enum PayloadFieldSchema');
    }
    this.payloadIndexes.set(body.field_name, clone(schema));
  }

  info(): Out {
    const sparse = objectOrAbsent(this.body, 'sparse_vectors');
    const payloadSchema: Record<string, Out> = {};
    for (const [field, schema] of this.payloadIndexes) {
      let points = 0;
      for (const p of this.points.values()) if (valuesAt(p.payload, field).some((v) => v !== null)) points++;
      payloadSchema[field] = isObject(schema)
        ? { data_type: schema.type, params: schema, points: BigInt(points) }
        : { data_type: schema, points: BigInt(points) };
    }
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0n,
      points_count: BigInt(this.points.size),
      segments_count: 1n,
      config: {
        params: {
          vectors: this.vectorsEcho,
          shard_number: this.body.shard_number ?? 1n,
          replication_factor: this.body.replication_factor ?? 1n,
          write_consistency_factor: this.body.write_consistency_factor ?? 1n,
          on_disk_payload: this.body.on_disk_payload ?? true,
          sparse_vectors: sparse,
        },
        hnsw_config: { ...HNSW_DEFAULTS, ...objectOrAbsent(this.body, 'hnsw_config') },
        optimizer_config: { ...OPTIMIZER_DEFAULTS, ...objectOrAbsent(this.body, 'optimizers_config') },
        wal_config: { ...WAL_DEFAULTS, ...objectOrAbsent(this.body, 'wal_config') },
        quantization_config: this.body.quantization_config ?? null,
        metadata: this.body.metadata,
      },
      payload_schema: payloadSchema,
      update_queue: { length: 0n },
    };
  }
}

export class Store {
  private readonly collections = new Map<string, Collection>();
  /** Aliases (aliases.ts): a name addressed is looked up as an alias first. */
  readonly aliases = new Aliases();

  /** The collection `name` addresses: an alias's target, else the collection of that name. */
  get(name: string): Collection {
    const resolved = this.aliases.target(name) ?? name;
    const c = this.collections.get(resolved);
    if (!c) throw collectionNotFound(resolved);
    return c;
  }

  /** Whether `name` addresses a collection (an alias does; GET /collections/{name}/exists). */
  has(name: string): boolean {
    return this.collections.has(this.aliases.target(name) ?? name);
  }

  /** The collection of that very name (an alias is not resolved; state.ts). */
  byName(name: string): Collection | undefined {
    return this.collections.get(name);
  }

  add(c: Collection): void {
    this.validateCollectionNotExists(c.name);
    if (this.aliases.has(c.name))
      throw wrongInput(
        `Can't create collection with name ${c.name}. Alias with the same name already exists`,
      );
    this.collections.set(c.name, c);
  }

  /** Deletes the collection of that very name (an alias is not resolved) and its aliases. */
  delete(name: string): boolean {
    this.aliases.removeCollection(name);
    return this.collections.delete(name);
  }

  validateCollectionExists(name: string): void {
    if (!this.collections.has(name)) throw collectionNotFound(name);
  }

  validateCollectionNotExists(name: string): void {
    if (this.collections.has(name))
      throw new ApiError(409, `Wrong input: Collection \`${name}\` already exists!`);
  }

  /** POST /collections/aliases. */
  changeAliases(actions: AliasAction[]): void {
    this.aliases.apply(actions, this);
  }

  /** GET /aliases: by collection name, as Qdrant lists them (its collections are a sorted map). */
  listAliases(): Array<{ alias_name: string; collection_name: string }> {
    return this.aliases
      .entries()
      .sort(([a1, c1], [a2, c2]) => (c1 === c2 ? (a1 < a2 ? -1 : 1) : c1 < c2 ? -1 : 1))
      .map(([alias, collection]) => ({ alias_name: alias, collection_name: collection }));
  }

  names(): string[] {
    return [...this.collections.keys()];
  }

  clear(): void {
    this.collections.clear();
    this.aliases.clear();
  }
}
