// qdrant.Points reads and payload indexes over the server's model: Get, Scroll, Count, Query
// (nearest, as the REST front), the deprecated Search, CreateFieldIndex / DeleteFieldIndex. Each
// request becomes the REST body of the same call (reads.ts) and the answer the gRPC message, as
// Qdrant's query_common.rs converts both ways.
import type { ServiceImpl } from '@connectrpc/connect';
import {
  Direction,
  FieldType,
  PayloadIndexParamsSchema,
  type SearchParams,
  type VectorInput,
} from '@qdrant/js-client-grpc';
import type { Store } from '../collections.js';
import { F32, type JsonObject, type JsonValue, type Out } from '../json.js';
import { runWrite } from '../points.js';
import { count, query, retrieve, scroll, search } from '../reads.js';
import { idToProto, recordToProto, updateResultToProto } from './from-rest.js';
import { toRest } from './reflect.js';
import type { Points } from './services.js';
import { filterToJson, idToJson, invalid, withPayloadToJson, withVectorsToJson } from './to-rest.js';

/** A JSON object without the undefined entries (the parsers test presence with `!== undefined`). */
export function body(fields: Record<string, JsonValue | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

export const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

const FIELD_TYPES: Record<number, string> = {
  [FieldType.FieldTypeKeyword]: 'keyword',
  [FieldType.FieldTypeInteger]: 'integer',
  [FieldType.FieldTypeFloat]: 'float',
  [FieldType.FieldTypeGeo]: 'geo',
  [FieldType.FieldTypeText]: 'text',
  [FieldType.FieldTypeBool]: 'bool',
  [FieldType.FieldTypeDatetime]: 'datetime',
  [FieldType.FieldTypeUuid]: 'uuid',
};

function nearest(v: VectorInput): JsonValue {
  const o = v.variant;
  switch (o.case) {
    case 'id':
      return idToJson(o.value);
    case 'dense':
      return o.value.data;
    case 'sparse':
      return { indices: o.value.indices.map(BigInt), values: o.value.values };
    default:
      throw invalid(`query input ${String(o.case)} is not supported by the test server (dense, sparse, id)`);
  }
}

function params(p: SearchParams | undefined): JsonValue | undefined {
  return p?.exact === undefined ? undefined : { exact: p.exact };
}

/** A ScoredPoint of a query / search answer (REST: a record with version and score). */
function scored(r: Out) {
  const rec = r as Record<string, Out>;
  const { id, payload, vectors } = recordToProto(r);
  return {
    id,
    payload,
    vectors,
    score: rec.score instanceof F32 ? rec.score.value : Number(rec.score),
    version: BigInt(rec.version as bigint),
  };
}

type Impl = Partial<ServiceImpl<typeof Points>>;

export function pointReads(store: Store): Impl {
  return {
    get: (req) => {
      const start = process.hrtime.bigint();
      const request = body({
        ids: req.ids.map(idToJson),
        with_payload: withPayloadToJson(req.withPayload),
        with_vector: withVectorsToJson(req.withVectors),
      });
      const records = retrieve(store.get(req.collectionName), request) as Out[];
      return { result: records.map(recordToProto), time: seconds(start) };
    },
    scroll: (req) => {
      const start = process.hrtime.bigint();
      const o = req.orderBy;
      const from = o?.startFrom?.value;
      const request = body({
        filter: req.filter && filterToJson(req.filter),
        offset: req.offset && idToJson(req.offset),
        limit: req.limit === undefined ? undefined : BigInt(req.limit),
        with_payload: withPayloadToJson(req.withPayload),
        with_vector: withVectorsToJson(req.withVectors),
        order_by:
          o &&
          body({
            key: o.key,
            direction: o.direction === Direction.Desc ? 'desc' : 'asc',
            start_from: from?.case === 'float' || from?.case === 'integer' ? from.value : undefined,
          }),
      });
      const page = scroll(store.get(req.collectionName), request) as { points: Out[]; next_page_offset: Out };
      return {
        result: page.points.map(recordToProto),
        nextPageOffset: page.next_page_offset === null ? undefined : idToProto(page.next_page_offset),
        time: seconds(start),
      };
    },
    count: (req) => {
      const start = process.hrtime.bigint();
      const request = body({ filter: req.filter && filterToJson(req.filter) });
      const result = count(store.get(req.collectionName), request) as { count: bigint };
      return { result: { count: result.count }, time: seconds(start) };
    },
    query: (req) => {
      const start = process.hrtime.bigint();
      if (req.prefetch.length) throw invalid('prefetch is not supported by the test server');
      const q = req.query?.variant;
      if (q && q.case !== 'nearest')
        throw invalid(`query ${q.case} is not supported by the test server (use nearest)`);
      const request = body({
        query: q ? nearest(q.value) : undefined,
        using: req.using,
        filter: req.filter && filterToJson(req.filter),
        params: params(req.params),
        score_threshold: req.scoreThreshold,
        limit: req.limit,
        offset: req.offset,
        with_payload: withPayloadToJson(req.withPayload),
        with_vector: withVectorsToJson(req.withVectors),
      });
      const result = query(store.get(req.collectionName), request) as { points: Out[] };
      return { result: result.points.map(scored), time: seconds(start) };
    },
    search: (req) => {
      const start = process.hrtime.bigint();
      const vector: JsonValue = req.sparseIndices
        ? { indices: req.sparseIndices.data.map(BigInt), values: req.vector }
        : req.vector;
      const request = body({
        vector: req.vectorName ? { name: req.vectorName, vector } : vector,
        filter: req.filter && filterToJson(req.filter),
        params: params(req.params),
        score_threshold: req.scoreThreshold,
        limit: req.limit,
        offset: req.offset,
        with_payload: withPayloadToJson(req.withPayload),
        with_vector: withVectorsToJson(req.withVectors),
      });
      const result = search(store.get(req.collectionName), request) as Out[];
      return { result: result.map(scored), time: seconds(start) };
    },
    createFieldIndex: (req) => {
      const start = process.hrtime.bigint();
      const c = store.get(req.collectionName);
      const type = req.fieldType === undefined ? undefined : FIELD_TYPES[req.fieldType];
      // Typed params (REST {type, …}): the oneof's message fields, under the field type's name.
      const p = req.fieldIndexParams;
      const typed = p?.indexParams.case ? Object.values(toRest(PayloadIndexParamsSchema, p))[0] : undefined;
      const schema = type && typed ? { ...(typed as JsonObject), type } : type;
      c.createIndex(body({ field_name: req.fieldName, field_schema: schema }));
      return {
        result: updateResultToProto(runWrite(c, () => undefined, req.wait ?? false)),
        time: seconds(start),
      };
    },
    deleteFieldIndex: (req) => {
      const start = process.hrtime.bigint();
      const c = store.get(req.collectionName);
      c.payloadIndexes.delete(req.fieldName);
      return {
        result: updateResultToProto(runWrite(c, () => undefined, req.wait ?? false)),
        time: seconds(start),
      };
    },
  };
}
