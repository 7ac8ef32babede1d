// Generic message ↔ REST JSON conversion by the message descriptors, for the collection config
// messages (HnswConfigDiff, OptimizersConfigDiff, WalConfigDiff, VectorParams, quantization…)
// whose gRPC fields carry the REST names (snake_case proto names, enum value names matching the
// REST strings but for case). Integers become bigints, as the server's JSON parser reads them;
// qdrant.Value fields are payload-like JSON. Collection-specific shapes (vectors_config oneofs,
// optimizer_status, …) are reshaped around these calls in collections-service.ts.
import {
  isFieldSet,
  ScalarType,
  type DescEnum,
  type DescField,
  type DescMessage,
  type Message,
} from '@bufbuild/protobuf';
import type { Value } from '@qdrant/js-client-grpc';
import { isObject, type JsonObject, type JsonValue } from '../json.js';
import { valueToProto } from './from-rest.js';
import { valueToJson } from './to-rest.js';

const INT64 = [
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
];
const FLOATS = [ScalarType.DOUBLE, ScalarType.FLOAT];

function scalarToJson(t: ScalarType, v: unknown): JsonValue {
  if (FLOATS.includes(t)) return Number(v);
  if (t === ScalarType.BOOL) return Boolean(v);
  if (t === ScalarType.STRING) return String(v);
  if (t === ScalarType.BYTES) return null;
  return BigInt(v as number | bigint);
}

function scalarFromJson(t: ScalarType, v: JsonValue): unknown {
  if (FLOATS.includes(t)) return Number(v);
  if (t === ScalarType.BOOL) return Boolean(v);
  if (t === ScalarType.STRING) return String(v);
  if (INT64.includes(t)) return BigInt(v as number | bigint);
  return Number(v);
}

const enumName = (e: DescEnum, n: number) => e.values.find((v) => v.number === n)?.name ?? null;
const enumNumber = (e: DescEnum, name: JsonValue) =>
  e.values.find((v) => v.name.toLowerCase() === String(name).toLowerCase().replaceAll('_', ''))?.number;

function special(typeName: string, v: unknown): JsonValue | undefined {
  if (typeName === 'qdrant.Value') return valueToJson(v as Value);
  if (typeName === 'qdrant.MaxOptimizationThreads') {
    const variant = (v as { variant: { case?: string; value?: unknown } }).variant;
    return variant.case === 'value' ? BigInt(variant.value as bigint) : 'auto';
  }
  return undefined;
}

function itemToJson(field: DescField, kind: string, v: unknown): JsonValue {
  if (kind === 'message') {
    const msg = field.message!;
    return special(msg.typeName, v) ?? toRest(msg, v as Message);
  }
  if (kind === 'enum') return enumName(field.enum!, v as number);
  return scalarToJson(field.scalar!, v);
}

/** A message as REST JSON: set fields only, by their proto (snake_case) names. */
export function toRest(schema: DescMessage, msg: Message): JsonObject {
  const out: JsonObject = {};
  const m = msg as unknown as Record<string, unknown>;
  for (const field of schema.fields) {
    let v: unknown;
    if (field.oneof) {
      const o = m[field.oneof.localName] as { case?: string; value?: unknown };
      if (o.case !== field.localName) continue;
      v = o.value;
    } else {
      if (!isFieldSet(msg, field)) continue;
      v = m[field.localName];
    }
    if (field.fieldKind === 'list')
      out[field.name] = (v as unknown[]).map((x) => itemToJson(field, field.listKind, x));
    else if (field.fieldKind === 'map') {
      const obj: JsonObject = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>))
        obj[k] = itemToJson(field, field.mapKind, x);
      out[field.name] = obj;
    } else out[field.name] = itemToJson(field, field.fieldKind, v);
  }
  return out;
}

function itemFromJson(field: DescField, kind: string, v: JsonValue): unknown {
  if (kind === 'message') {
    const msg = field.message!;
    if (msg.typeName === 'qdrant.Value') return valueToProto(v);
    if (msg.typeName === 'qdrant.MaxOptimizationThreads')
      return { variant: typeof v === 'bigint' ? { case: 'value', value: v } : { case: 'setting', value: 0 } };
    return isObject(v) ? fromRest(msg, v) : undefined;
  }
  if (kind === 'enum') return enumNumber(field.enum!, v);
  return scalarFromJson(field.scalar!, v);
}

/** REST JSON as a message init: fields by proto name; unknown keys, nulls and bad enums left out. */
export function fromRest(schema: DescMessage, json: JsonObject): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const v = json[field.name];
    if (v === undefined || v === null) continue;
    let out: unknown;
    if (field.fieldKind === 'list') {
      if (!Array.isArray(v)) continue;
      out = v.map((x) => itemFromJson(field, field.listKind, x)).filter((x) => x !== undefined);
    } else if (field.fieldKind === 'map') {
      if (!isObject(v)) continue;
      const obj: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const item = itemFromJson(field, field.mapKind, x);
        if (item !== undefined) obj[k] = item;
      }
      out = obj;
    } else out = itemFromJson(field, field.fieldKind, v);
    if (out === undefined) continue;
    if (field.oneof) init[field.oneof.localName] = { case: field.localName, value: out };
    else init[field.localName] = out;
  }
  return init;
}
