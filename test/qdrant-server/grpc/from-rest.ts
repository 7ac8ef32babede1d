// The server's answers (the REST `result` values of reads.ts, points.ts, collections.ts) →
// gRPC response messages, in the forms Qdrant's tonic handlers build (lib/api/src/conversions/
// vectors.rs: stored vectors come back in the `vector` oneof, dense or sparse, never in the
// deprecated `data` field; lib/api/src/conversions/json.rs: an integer payload value is an
// integer_value when it fits an i64, other numbers a double_value).
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import {
  NullValue,
  UpdateStatus,
  type PointIdSchema,
  type RetrievedPointSchema,
  type UpdateResultSchema,
  type ValueSchema,
  type VectorOutputSchema,
  type VectorsOutputSchema,
} from '@qdrant/js-client-grpc';
import { isObject, RawJson, type JsonObject, type JsonValue, type Out } from '../json.js';
import { isSparse, vectorOf, type Vector } from '../vectors.js';

type Init<T extends DescMessage> = MessageInitShape<T>;

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

export function valueToProto(v: JsonValue): Init<typeof ValueSchema> {
  if (v === null) return { kind: { case: 'nullValue', value: NullValue.NULL_VALUE } };
  switch (typeof v) {
    case 'boolean':
      return { kind: { case: 'boolValue', value: v } };
    case 'string':
      return { kind: { case: 'stringValue', value: v } };
    case 'number':
      return { kind: { case: 'doubleValue', value: v } };
    case 'bigint':
      return v >= I64_MIN && v <= I64_MAX
        ? { kind: { case: 'integerValue', value: v } }
        : { kind: { case: 'doubleValue', value: Number(v) } };
  }
  if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(valueToProto) } } };
  return { kind: { case: 'structValue', value: { fields: payloadToProto(v) } } };
}

export function payloadToProto(p: JsonObject | undefined): Record<string, Init<typeof ValueSchema>> {
  const out: Record<string, Init<typeof ValueSchema>> = {};
  if (p) for (const [k, v] of Object.entries(p)) out[k] = valueToProto(v);
  return out;
}

export function idToProto(id: Out): Init<typeof PointIdSchema> {
  return typeof id === 'bigint'
    ? { pointIdOptions: { case: 'num', value: id } }
    : { pointIdOptions: { case: 'uuid', value: String(id) } };
}

function vectorOutput(out: Out): Init<typeof VectorOutputSchema> {
  const v: Vector | undefined = out instanceof RawJson ? vectorOf(out) : undefined;
  if (!v) throw new Error('the test server lost track of a stored vector');
  return isSparse(v)
    ? { vector: { case: 'sparse', value: { indices: v.indices, values: v.values } } }
    : { vector: { case: 'dense', value: { data: v } } };
}

/** A record's `vector` (reads.ts vectorsOut): a bare default vector, or a map by name. */
export function vectorsToProto(out: Out): Init<typeof VectorsOutputSchema> | undefined {
  if (out === undefined) return undefined;
  if (out instanceof RawJson) return { vectorsOptions: { case: 'vector', value: vectorOutput(out) } };
  const vectors: Record<string, Init<typeof VectorOutputSchema>> = {};
  if (isObject(out) || typeof out === 'object')
    for (const [name, v] of Object.entries(out as Record<string, Out>)) vectors[name] = vectorOutput(v);
  return { vectorsOptions: { case: 'vectors', value: { vectors } } };
}

/** One record of a get / scroll answer. */
export function recordToProto(r: Out): Init<typeof RetrievedPointSchema> {
  const rec = r as Record<string, Out>;
  const order = rec.order_value;
  return {
    id: idToProto(rec.id),
    payload: payloadToProto(rec.payload as JsonObject | undefined),
    vectors: vectorsToProto(rec.vector),
    orderValue:
      typeof order === 'number'
        ? Number.isInteger(order)
          ? { variant: { case: 'int', value: BigInt(order) } }
          : { variant: { case: 'float', value: order } }
        : undefined,
  };
}

/** An UpdateResult of points.ts runWrite. */
export function updateResultToProto(r: Out): Init<typeof UpdateResultSchema> {
  const res = r as { operation_id: bigint; status: string };
  return {
    operationId: res.operation_id,
    status: res.status === 'completed' ? UpdateStatus.Completed : UpdateStatus.Acknowledged,
  };
}
