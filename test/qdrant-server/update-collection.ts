// PATCH /collections/{name}: Qdrant's UpdateCollection (lib/storage/src/content_manager/
// collection_meta_ops.rs, applied by toc/collection_meta_ops.rs update_collection). Every part is
// optional and unknown fields are ignored (no deny_unknown_fields); the answer is `true`.
//   vectors              name → {hnsw_config?, quantization_config?, on_disk?, memory?}; '' is a
//                        collection's one unnamed vector; a name the collection lacks is
//                        400 "Wrong input: Not existing vector name error: NAME". A vector's
//                        hnsw_config diff is merged into the one it has (or becomes it).
//   hnsw_config          merged into the collection's (fields given replace, others stay).
//   optimizers_config    merged likewise (alias optimizer_config).
//   params               replication_factor, write_consistency_factor, on_disk_payload… merged.
//   quantization_config  replaces it ("Disabled": none).
//   sparse_vectors       names must exist (same error); their params are not modelled.
//   metadata             merged key by key into the collection's; a key set to null is removed.
// hnsw_config diffs are validated: ef_construct ≥ 4, full_scan_threshold ≥ 10 (422).
import type { Collection } from './collections.js';
import { formatError, validationError, wrongInput } from './errors.js';
import { clone, isObject, type JsonObject, type JsonValue } from './json.js';

const HNSW_INTS = ['m', 'ef_construct', 'full_scan_threshold', 'max_indexing_threads', 'payload_m'];
const HNSW_BOOLS = ['on_disk', 'inline_storage'];
/** CollectionParamsDiff's fields. */
const PARAMS = [
  'replication_factor',
  'write_consistency_factor',
  'read_fan_out_factor',
  'read_fan_out_delay_ms',
  'on_disk_payload',
  'payload',
];

/** An HnswConfigDiff as Qdrant parses it (serde, then `validate`); `at` names it in errors. */
function hnswDiff(v: JsonValue | undefined, at: string, invalid: Array<[string, string]>): JsonObject {
  if (!isObject(v)) throw formatError(`${at}: invalid type: expected struct HnswConfigDiff`);
  const diff: JsonObject = {};
  for (const [key, x] of Object.entries(v)) {
    const k = key === 'full_scan_threshold_kb' ? 'full_scan_threshold' : key;
    if (x === null) continue; // an Option: same as absent
    if (HNSW_INTS.includes(k)) {
      if (typeof x !== 'bigint' || x < 0n) throw formatError(`${at}.${k}: invalid type: expected usize`);
      diff[k] = x;
    } else if (HNSW_BOOLS.includes(k)) {
      if (typeof x !== 'boolean') throw formatError(`${at}.${k}: invalid type: expected a boolean`);
      diff[k] = x;
    } else if (k === 'memory') {
      diff[k] = clone(x);
    } // other keys: ignored, as serde does
  }
  if (typeof diff.ef_construct === 'bigint' && diff.ef_construct < 4n)
    invalid.push([`${at}.ef_construct`, 'value must be 4 or greater']);
  if (typeof diff.full_scan_threshold === 'bigint' && diff.full_scan_threshold < 10n)
    invalid.push([`${at}.full_scan_threshold`, 'value must be 10 or greater']);
  return diff;
}

function objectOrAbsent(body: JsonObject, key: string, what: string): JsonObject | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw formatError(`${key}: invalid type: expected ${what}`);
  return v;
}

const notExisting = (name: string) => wrongInput(`Not existing vector name error: ${name}`);

/** Applies a PATCH /collections/{name} body to `c` (its stored creation body, so state.ts keeps it). */
export function updateCollection(c: Collection, body: JsonValue | undefined): boolean {
  if (!isObject(body)) throw formatError('invalid type: expected struct UpdateCollection');
  const stored = c.createBody;
  const invalid: Array<[string, string]> = [];

  // Parse and check everything first: an invalid request changes nothing.
  const vectors = objectOrAbsent(body, 'vectors', 'a map of VectorParamsDiff');
  const vectorDiffs: Array<[string, JsonObject, JsonObject | undefined]> = [];
  for (const [name, v] of Object.entries(vectors ?? {})) {
    if (!isObject(v)) throw formatError(`vectors.${name}: invalid type: expected struct VectorParamsDiff`);
    const hnsw = v.hnsw_config === undefined || v.hnsw_config === null ? undefined : v.hnsw_config;
    vectorDiffs.push([
      name,
      v,
      hnsw === undefined ? undefined : hnswDiff(hnsw, `vectors.${name}.hnsw_config`, invalid),
    ]);
  }
  const hnsw = objectOrAbsent(body, 'hnsw_config', 'struct HnswConfigDiff');
  const collectionHnsw = hnsw ? hnswDiff(hnsw, 'hnsw_config', invalid) : undefined;
  const optimizers =
    objectOrAbsent(body, 'optimizers_config', 'struct OptimizersConfigDiff') ??
    objectOrAbsent(body, 'optimizer_config', 'struct OptimizersConfigDiff');
  const params = objectOrAbsent(body, 'params', 'struct CollectionParamsDiff');
  const sparse = objectOrAbsent(body, 'sparse_vectors', 'a map of SparseVectorParams');
  const metadata = objectOrAbsent(body, 'metadata', 'a map');
  const quantization = body.quantization_config ?? body.quantization;
  if (invalid.length) throw validationError(invalid);
  for (const [name] of vectorDiffs) if (!c.schema.dense.has(name)) throw notExisting(name);
  for (const name of Object.keys(sparse ?? {})) if (!c.schema.sparse.has(name)) throw notExisting(name);

  // Applied in Qdrant's order: optimizers, params, hnsw, vectors, quantization, metadata.
  if (optimizers)
    stored.optimizers_config = { ...objectOrAbsent(stored, 'optimizers_config', ''), ...clone(optimizers) };
  if (params)
    for (const [k, v] of Object.entries(params)) if (PARAMS.includes(k) && v !== null) stored[k] = clone(v);
  if (collectionHnsw)
    stored.hnsw_config = { ...objectOrAbsent(stored, 'hnsw_config', ''), ...collectionHnsw };
  for (const [name, v, hnswOfVector] of vectorDiffs) {
    const target = (c.schema.single ? stored.vectors : (stored.vectors as JsonObject)[name]) as JsonObject;
    if (hnswOfVector) target.hnsw_config = { ...objectOrAbsent(target, 'hnsw_config', ''), ...hnswOfVector };
    for (const k of ['quantization_config', 'on_disk', 'memory'])
      if (v[k] !== undefined && v[k] !== null) target[k] = clone(v[k]);
  }
  if (quantization !== undefined && quantization !== null)
    stored.quantization_config = quantization === 'Disabled' ? null : clone(quantization);
  if (metadata) {
    // Merged into the metadata the collection has; a collection without any takes it as given
    // (its null values too), as Qdrant's update_metadata does.
    const have = objectOrAbsent(stored, 'metadata', '');
    if (!have) stored.metadata = clone(metadata);
    else
      for (const [k, v] of Object.entries(metadata)) {
        if (v === null) delete have[k];
        else have[k] = clone(v);
      }
  }
  c.reconfigured();
  return true;
}
