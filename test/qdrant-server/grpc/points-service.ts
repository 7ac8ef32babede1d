// qdrant.Points over the server's model: each call becomes the REST body of the same operation
// (to-rest.ts) and runs through the same parser and runWrite / read as the REST route, as Qdrant's
// tonic handlers build the same internal operations its actix handlers do (src/tonic/api/
// points_api.rs → update_common.rs). `wait` absent is false, as in REST. Reads: points-reads.ts.
import type { ServiceImpl } from '@connectrpc/connect';
import { UpdateMode, type PointsUpdateOperation, type UpdateBatchPoints } from '@qdrant/js-client-grpc';
import type { Store } from '../collections.js';
import type { JsonObject } from '../json.js';
import {
  asOf,
  parseBatch,
  parseClearPayload,
  parseDelete,
  parseDeletePayload,
  parseDeleteVectors,
  parseSetPayload,
  parseUpdateVectors,
  parseUpsert,
  runWrite,
  type Version,
  type WriteModel,
} from '../points.js';
import { updateResultToProto } from './from-rest.js';
import { body, pointReads, seconds } from './points-reads.js';
import type { Points } from './services.js';
import { filterToJson, payloadToJson, pointToJson, pointVectorsToJson, selectorToJson } from './to-rest.js';

const MODES: Record<number, string> = {
  [UpdateMode.Upsert]: 'upsert',
  [UpdateMode.InsertOnly]: 'insert_only',
  [UpdateMode.UpdateOnly]: 'update_only',
};

/** One operation of an UpdateBatch as the REST batch's {kind: body}. */
function batchOperation(op: PointsUpdateOperation): JsonObject {
  const o = op.operation;
  switch (o.case) {
    case 'upsert':
      return {
        upsert: body({
          points: o.value.points.map(pointToJson),
          update_filter: o.value.updateFilter && filterToJson(o.value.updateFilter),
          update_mode: o.value.updateMode === undefined ? undefined : MODES[o.value.updateMode],
        }),
      };
    case 'deleteDeprecated':
      return { delete: selectorToJson(o.value) };
    case 'deletePoints':
      return { delete: selectorToJson(o.value.points) };
    case 'setPayload':
    case 'overwritePayload':
      return {
        [o.case === 'setPayload' ? 'set_payload' : 'overwrite_payload']: body({
          payload: payloadToJson(o.value.payload),
          key: o.value.key,
          ...selectorToJson(o.value.pointsSelector),
        }),
      };
    case 'deletePayload':
      return { delete_payload: { keys: o.value.keys, ...selectorToJson(o.value.pointsSelector) } };
    case 'clearPayloadDeprecated':
      return { clear_payload: selectorToJson(o.value) };
    case 'clearPayload':
      return { clear_payload: selectorToJson(o.value.points) };
    case 'updateVectors':
      return {
        update_vectors: body({
          points: o.value.points.map(pointVectorsToJson),
          update_filter: o.value.updateFilter && filterToJson(o.value.updateFilter),
        }),
      };
    case 'deleteVectors':
      return {
        delete_vectors: { vector: o.value.vectors?.names ?? [], ...selectorToJson(o.value.pointsSelector) },
      };
    default:
      throw new Error('unreachable');
  }
}

export function pointsService(
  store: Store,
  version: Version,
  model: WriteModel,
): Partial<ServiceImpl<typeof Points>> {
  type Parsed = Parameters<typeof runWrite>[1];
  const write = (req: { collectionName: string; wait?: boolean }, parse: () => Parsed) => {
    const start = process.hrtime.bigint();
    const apply = parse();
    const result = runWrite(store.get(req.collectionName), apply, req.wait ?? false);
    return { result: updateResultToProto(result), time: seconds(start) };
  };

  return {
    upsert: (req) =>
      write(req, () =>
        parseUpsert(
          asOf(
            version,
            body({
              points: req.points.map(pointToJson),
              update_filter: req.updateFilter && filterToJson(req.updateFilter),
              update_mode: req.updateMode === undefined ? undefined : MODES[req.updateMode],
            }),
          ),
          model,
        ),
      ),
    delete: (req) => write(req, () => parseDelete(selectorToJson(req.points))),
    setPayload: (req) =>
      write(req, () =>
        parseSetPayload(
          body({ payload: payloadToJson(req.payload), key: req.key, ...selectorToJson(req.pointsSelector) }),
          false,
        ),
      ),
    overwritePayload: (req) =>
      write(req, () =>
        parseSetPayload(
          body({ payload: payloadToJson(req.payload), key: req.key, ...selectorToJson(req.pointsSelector) }),
          true,
        ),
      ),
    deletePayload: (req) =>
      write(req, () => parseDeletePayload({ keys: req.keys, ...selectorToJson(req.pointsSelector) })),
    clearPayload: (req) => write(req, () => parseClearPayload(selectorToJson(req.points))),
    updateVectors: (req) =>
      write(req, () =>
        parseUpdateVectors(
          asOf(
            version,
            body({
              points: req.points.map(pointVectorsToJson),
              update_filter: req.updateFilter && filterToJson(req.updateFilter),
            }),
          ),
        ),
      ),
    deleteVectors: (req) =>
      write(req, () =>
        parseDeleteVectors({ vector: req.vectors?.names ?? [], ...selectorToJson(req.pointsSelector) }),
      ),
    updateBatch: (req: UpdateBatchPoints) => {
      const start = process.hrtime.bigint();
      const ops = parseBatch({ operations: req.operations.map(batchOperation) }, version, model);
      const c = store.get(req.collectionName);
      const results = ops.map((op) => runWrite(c, op, req.wait ?? false));
      return { result: results.map(updateResultToProto), time: seconds(start) };
    },
    ...pointReads(store),
  };
}
