// gRPC request messages → the REST JSON bodies the server's parsers already read (points.ts,
// reads.ts, filter.ts), so both fronts run the same checks against the same model. This mirrors
// how Qdrant itself works: its tonic handlers convert each grpc message into the same internal
// operation the REST handlers build (lib/api/src/grpc/conversions.rs, lib/collection/src/
// operations/conversions.rs). Errors in a message that REST would reject in its JSON are
// INVALID_ARGUMENT on both (HTTP 400 ↔ gRPC InvalidArgument, grpc-errors.ts).
import type {
  PointsSelector,
  PointStruct,
  PointVectors,
  Value,
  Vector,
  Vectors,
  WithPayloadSelector,
  WithVectorsSelector,
} from '@qdrant/js-client-grpc';
import { ApiError } from '../errors.js';
import { parseUuid } from '../ids.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { Condition, Filter, Match, PointId } from './services.js';

/** Status::invalid_argument(message), as Qdrant's conversions answer a message they cannot use. */
export const invalid = (message: string) => new ApiError(400, message);

export function valueToJson(v: Value | undefined): JsonValue {
  const kind = v?.kind;
  switch (kind?.case) {
    case 'doubleValue':
    case 'stringValue':
    case 'boolValue':
    case 'integerValue':
      return kind.value;
    case 'structValue':
      return payloadToJson(kind.value.fields);
    case 'listValue':
      return kind.value.values.map(valueToJson);
    default:
      return null;
  }
}

export function payloadToJson(fields: Record<string, Value>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v);
  return out;
}

/**
 * A PointId as its REST form (lib/api/src/grpc/conversions.rs `TryFrom<PointId>`): a UUID string
 * must parse (the uuid crate's forms, as REST), else "Unable to parse UUID: …"; an absent id is
 * "Empty ID is not allowed", an empty one "No ID options provided".
 */
export function idToJson(id: PointId | undefined): JsonValue {
  if (id === undefined) throw invalid('Empty ID is not allowed');
  const o = id.pointIdOptions;
  if (o.case === 'num') return o.value;
  if (o.case === 'uuid') {
    if (parseUuid(o.value) === undefined) throw invalid(`Unable to parse UUID: ${o.value}`);
    return o.value;
  }
  throw invalid('No ID options provided');
}

/** One Vector: the `vector` oneof (dense, sparse) or the deprecated `data` (+ `indices`) fields. */
export function vectorToJson(v: Vector): JsonValue {
  const { vector } = v;
  switch (vector.case) {
    case 'dense':
      return vector.value.data;
    case 'sparse':
      return { indices: vector.value.indices.map(BigInt), values: vector.value.values };
    case 'multiDense':
      return vector.value.vectors.map((d) => d.data);
    case undefined:
      break;
    default:
      throw invalid(`${vector.case} vectors (inference) are not supported by the test server`);
  }
  if (v.indices) return { indices: v.indices.data.map(BigInt), values: v.data };
  if (v.vectorsCount !== undefined && v.vectorsCount > 1) {
    const size = v.data.length / v.vectorsCount;
    return Array.from({ length: v.vectorsCount }, (_, i) => v.data.slice(i * size, (i + 1) * size));
  }
  return v.data;
}

/** A point's Vectors as REST's VectorStruct: a bare list for the default vector, else a map. */
export function vectorsToJson(vs: Vectors | undefined): JsonValue {
  const o = vs?.vectorsOptions;
  if (o?.case === 'vector') return vectorToJson(o.value);
  if (o?.case === 'vectors') {
    const out: JsonObject = {};
    for (const [name, v] of Object.entries(o.value.vectors)) out[name] = vectorToJson(v);
    return out;
  }
  throw invalid('Expected some vectors');
}

export function pointToJson(p: PointStruct): JsonObject {
  if (p.vectors === undefined) throw invalid('Expected some vectors');
  return { id: idToJson(p.id), vector: vectorsToJson(p.vectors), payload: payloadToJson(p.payload) };
}

export function pointVectorsToJson(p: PointVectors): JsonObject {
  return { id: idToJson(p.id), vector: vectorsToJson(p.vectors) };
}

function matchToJson(m: Match | undefined): JsonValue {
  const mv = m?.matchValue;
  switch (mv?.case) {
    case 'keyword':
    case 'integer':
    case 'boolean':
      return { value: mv.value };
    case 'text':
      return { text: mv.value };
    case 'phrase':
      return { phrase: mv.value };
    case 'keywords':
      return { any: mv.value.strings };
    case 'integers':
      return { any: mv.value.integers };
    case 'exceptKeywords':
      return { except: mv.value.strings };
    case 'exceptIntegers':
      return { except: mv.value.integers };
    case undefined:
      throw invalid('Malformed Match condition');
    case 'prefix':
    case 'textAny':
      throw invalid(`match ${mv.case} is not supported by the test server`);
  }
}

function optionalNumbers(
  r: { lt?: number | bigint; gt?: number | bigint; gte?: number | bigint; lte?: number | bigint } | undefined,
): JsonObject | undefined {
  if (!r) return undefined;
  const out: JsonObject = {};
  for (const k of ['lt', 'gt', 'gte', 'lte'] as const) if (r[k] !== undefined) out[k] = r[k];
  return out;
}

function conditionToJson(c: Condition): JsonValue {
  const o = c.conditionOneOf;
  switch (o.case) {
    case 'field': {
      const f = o.value;
      const out: JsonObject = { key: f.key };
      if (f.match) out.match = matchToJson(f.match);
      const range = optionalNumbers(f.range);
      if (range) out.range = range;
      if (f.datetimeRange) {
        const r: JsonObject = {};
        for (const k of ['lt', 'gt', 'gte', 'lte'] as const) {
          const t = f.datetimeRange[k];
          if (t) r[k] = new Date(Number(t.seconds) * 1000 + t.nanos / 1e6).toISOString();
        }
        out.range = r;
      }
      const count = optionalNumbers(f.valuesCount);
      if (count) out.values_count = count;
      if (f.geoBoundingBox || f.geoRadius || f.geoPolygon)
        throw invalid('geo conditions are not supported by the test server');
      if (f.isEmpty) return { is_empty: { key: f.key } };
      if (f.isNull) return { is_null: { key: f.key } };
      return out;
    }
    case 'isEmpty':
      return { is_empty: { key: o.value.key } };
    case 'isNull':
      return { is_null: { key: o.value.key } };
    case 'hasId':
      return { has_id: o.value.hasId.map(idToJson) };
    case 'hasVector':
      return { has_vector: o.value.hasVector };
    case 'filter':
      return filterToJson(o.value);
    case 'nested':
      return { nested: { key: o.value.key, filter: filterToJson(o.value.filter) } };
    default:
      throw invalid('Malformed Condition type');
  }
}

export function filterToJson(f: Filter | undefined): JsonObject {
  if (!f) return {};
  const out: JsonObject = {};
  if (f.must.length) out.must = f.must.map(conditionToJson);
  if (f.should.length) out.should = f.should.map(conditionToJson);
  if (f.mustNot.length) out.must_not = f.mustNot.map(conditionToJson);
  if (f.minShould)
    out.min_should = {
      conditions: f.minShould.conditions.map(conditionToJson),
      min_count: f.minShould.minCount,
    };
  return out;
}

/** A PointsSelector as the REST body fields `points` or `filter`. */
export function selectorToJson(s: PointsSelector | undefined): JsonObject {
  const o = s?.pointsSelectorOneOf;
  if (o?.case === 'points') return { points: o.value.ids.map(idToJson) };
  if (o?.case === 'filter') return { filter: filterToJson(o.value) };
  throw invalid('Malformed PointsSelector type');
}

/** with_payload; undefined when absent (the REST default then applies, as in Qdrant). */
export function withPayloadToJson(w: WithPayloadSelector | undefined): JsonValue | undefined {
  const o = w?.selectorOptions;
  switch (o?.case) {
    case 'enable':
      return o.value;
    case 'include':
      return { include: o.value.fields };
    case 'exclude':
      return { exclude: o.value.fields };
    default:
      return undefined;
  }
}

/** with_vectors; absent is false (WithVector::default). */
export function withVectorsToJson(w: WithVectorsSelector | undefined): JsonValue {
  const o = w?.selectorOptions;
  if (o?.case === 'enable') return o.value;
  if (o?.case === 'include') return o.value.names;
  return false;
}
