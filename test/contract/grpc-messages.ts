// REST-JSON inputs of transports.ts as the messages of Qdrant's JS gRPC client, and its answers
// back: a test-side conversion, written independently of the test server's grpc/to-rest.ts and
// from-rest.ts so that a mistake shared by both cannot hide.
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  Distance,
  FieldType,
  type FilterSchema,
  type PointId,
  type PointIdSchema,
  type PointsSelectorSchema,
  type PointsUpdateOperationSchema,
  type Value,
  type ValueSchema,
  type VectorsOutput,
  type VectorsSchema,
} from '@qdrant/js-client-grpc';
import type { BatchOp, Id, Json, PointJson, Selector, VectorJson } from './transports.js';

type ValueInit = MessageInitShape<typeof ValueSchema>;
type FilterInit = MessageInitShape<typeof FilterSchema>;

function value(v: unknown): ValueInit {
  if (v === null || v === undefined) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof v === 'boolean') return { kind: { case: 'boolValue', value: v } };
  if (typeof v === 'string') return { kind: { case: 'stringValue', value: v } };
  if (typeof v === 'number')
    return Number.isInteger(v)
      ? { kind: { case: 'integerValue', value: BigInt(v) } }
      : { kind: { case: 'doubleValue', value: v } };
  if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(value) } } };
  return { kind: { case: 'structValue', value: { fields: payload(v as Json) } } };
}

export const payload = (p: Json = {}): Record<string, ValueInit> =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, value(v)]));

function fromValue(v: Value | undefined): unknown {
  const k = v?.kind;
  switch (k?.case) {
    case 'integerValue':
      return Number(k.value);
    case 'doubleValue':
    case 'stringValue':
    case 'boolValue':
      return k.value;
    case 'structValue':
      return fromPayload(k.value.fields);
    case 'listValue':
      return k.value.values.map(fromValue);
    default:
      return null;
  }
}

export const fromPayload = (p: Record<string, Value>): Json =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, fromValue(v)]));

export const id = (i: Id): MessageInitShape<typeof PointIdSchema> =>
  typeof i === 'number'
    ? { pointIdOptions: { case: 'num', value: BigInt(i) } }
    : { pointIdOptions: { case: 'uuid', value: i } };

export function fromId(i: PointId | undefined): Id {
  const o = i?.pointIdOptions;
  if (o?.case === 'num')
    return o.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(o.value) : String(o.value);
  return o?.value ?? '';
}

const dense = (data: number[]) => ({ vector: { case: 'dense' as const, value: { data } } });

export function vectors(v: VectorJson): MessageInitShape<typeof VectorsSchema> {
  if (Array.isArray(v)) return { vectorsOptions: { case: 'vector', value: dense(v) } };
  const named = Object.fromEntries(Object.entries(v).map(([n, x]) => [n, dense(x)]));
  return { vectorsOptions: { case: 'vectors', value: { vectors: named } } };
}

export function fromVectors(v: VectorsOutput | undefined): VectorJson | undefined {
  const o = v?.vectorsOptions;
  const one = (x: { vector: { case?: string; value?: unknown }; data: number[] }) =>
    x.vector.case === 'dense' ? (x.vector.value as { data: number[] }).data : x.data;
  if (o?.case === 'vector') return one(o.value);
  if (o?.case === 'vectors')
    return Object.fromEntries(Object.entries(o.value.vectors).map(([n, x]) => [n, one(x)]));
  return undefined;
}

function match(m: Json): unknown {
  const scalar = (x: unknown) =>
    typeof x === 'string'
      ? { case: 'keyword', value: x }
      : typeof x === 'boolean'
        ? { case: 'boolean', value: x }
        : { case: 'integer', value: BigInt(x as number) };
  const list = (xs: unknown[], except: boolean) =>
    typeof xs[0] === 'string'
      ? { case: except ? 'exceptKeywords' : 'keywords', value: { strings: xs } }
      : {
          case: except ? 'exceptIntegers' : 'integers',
          value: { integers: xs.map((x) => BigInt(x as number)) },
        };
  if ('value' in m) return { matchValue: scalar(m.value) };
  if ('any' in m) return { matchValue: list(m.any as unknown[], false) };
  if ('except' in m) return { matchValue: list(m.except as unknown[], true) };
  if ('text' in m) return { matchValue: { case: 'text', value: m.text } };
  throw new Error(`match ${JSON.stringify(m)}: not converted by the test's gRPC transport`);
}

function condition(c: Json): unknown {
  const oneOf = (kind: string, v: unknown) => ({ conditionOneOf: { case: kind, value: v } });
  if ('must' in c || 'should' in c || 'must_not' in c) return oneOf('filter', filter(c));
  if ('has_id' in c) return oneOf('hasId', { hasId: (c.has_id as Id[]).map(id) });
  if ('is_empty' in c) return oneOf('isEmpty', c.is_empty);
  if ('is_null' in c) return oneOf('isNull', c.is_null);
  if ('has_vector' in c) return oneOf('hasVector', { hasVector: c.has_vector });
  const field: Json = { key: c.key };
  if (c.match) field.match = match(c.match as Json);
  if (c.range) field.range = c.range;
  return oneOf('field', field);
}

export function filter(f: Json): FilterInit {
  const list = (k: string) => ((f[k] as Json[] | undefined) ?? []).map(condition);
  return { must: list('must'), should: list('should'), mustNot: list('must_not') } as FilterInit;
}

export function selector(s: Selector): MessageInitShape<typeof PointsSelectorSchema> {
  return 'points' in s
    ? { pointsSelectorOneOf: { case: 'points', value: { ids: s.points.map(id) } } }
    : { pointsSelectorOneOf: { case: 'filter', value: filter(s.filter) } };
}

export const point = (p: PointJson) => ({
  id: id(p.id),
  vectors: vectors(p.vector),
  payload: payload(p.payload),
});

export function batchOp(op: BatchOp): MessageInitShape<typeof PointsUpdateOperationSchema> {
  const o = (kind: string, v: unknown) => ({ operation: { case: kind, value: v } }) as never;
  if ('upsert' in op)
    return o('upsert', {
      points: op.upsert.points.map(point),
      updateFilter: op.upsert.update_filter && filter(op.upsert.update_filter),
    });
  if ('delete' in op) return o('deletePoints', { points: selector(op.delete) });
  if ('set_payload' in op)
    return o('setPayload', {
      payload: payload(op.set_payload.payload),
      key: op.set_payload.key,
      pointsSelector: selector(op.set_payload),
    });
  if ('overwrite_payload' in op)
    return o('overwritePayload', {
      payload: payload(op.overwrite_payload.payload),
      pointsSelector: selector(op.overwrite_payload),
    });
  if ('delete_payload' in op)
    return o('deletePayload', { keys: op.delete_payload.keys, pointsSelector: selector(op.delete_payload) });
  if ('update_vectors' in op)
    return o('updateVectors', {
      points: op.update_vectors.points.map((p) => ({ id: id(p.id), vectors: vectors(p.vector) })),
      updateFilter: op.update_vectors.update_filter && filter(op.update_vectors.update_filter),
    });
  return o('deleteVectors', {
    vectors: { names: op.delete_vectors.vector },
    pointsSelector: selector(op.delete_vectors),
  });
}

export const FIELD_TYPES: Record<string, FieldType> = {
  keyword: FieldType.FieldTypeKeyword,
  integer: FieldType.FieldTypeInteger,
  float: FieldType.FieldTypeFloat,
  bool: FieldType.FieldTypeBool,
  datetime: FieldType.FieldTypeDatetime,
  uuid: FieldType.FieldTypeUuid,
  text: FieldType.FieldTypeText,
};

const DISTANCES: Record<string, Distance> = {
  Cosine: Distance.Cosine,
  Euclid: Distance.Euclid,
  Dot: Distance.Dot,
  Manhattan: Distance.Manhattan,
};

export function hnsw(h: Json | undefined) {
  if (!h) return undefined;
  const n = (x: unknown) => (x === undefined ? undefined : BigInt(x as number));
  return { m: n(h.m), efConstruct: n(h.ef_construct), fullScanThreshold: n(h.full_scan_threshold) };
}

export function vectorsConfig(v: Json) {
  const params = (p: Json) => ({
    size: BigInt(p.size as number),
    distance: DISTANCES[p.distance as string]!,
    hnswConfig: hnsw(p.hnsw_config as Json | undefined),
  });
  if (typeof v.size === 'number') return { config: { case: 'params' as const, value: params(v) } };
  const map = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, params(p as Json)]));
  return { config: { case: 'paramsMap' as const, value: { map } } };
}
