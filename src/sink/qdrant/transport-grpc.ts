// The gRPC wire of the collection writer (transport.ts), with the REST wire's semantics
// (transport-rest.ts): the same requests per kind — Upsert, Delete, UpdateBatch — with wait=true,
// and the same guards (fence.ts) as protobuf Filters. Whole points are written by hand into the
// request's Arena (proto-points.ts: vectors copied from the event's packed float32 bytes) and
// handed to protobuf-es as unknown fields of the request, which it copies out unchanged; the rest
// (filters, partial updates) are ordinary protobuf-es messages.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import {
  DeletePointsSchema,
  FilterSchema,
  PointsUpdateOperation_PointStructListSchema,
  PointsUpdateOperationSchema,
  UpdateBatchPointsSchema,
  UpdateStatus,
  UpsertPointsSchema,
  ConditionSchema,
  type PointId as ProtoPointId,
  type PointsUpdateOperation,
  type UpdateResult,
  type Vector,
} from '@qdrant/js-client-grpc';
import type { PointChange } from '../plan.js';
import type { Arena } from './arena.js';
import { QdrantError } from './errors.js';
import type { QdrantGrpc } from './grpc-client.js';
import { KEY_FIELD, type PointId } from './point-id.js';
import { LSN_FIELD, SEQ_FIELD } from './points.js';
import {
  columnValue,
  intValue,
  payloadEntries,
  stringValue,
  writePoint,
  type Proto,
} from './proto-points.js';
import {
  positionOf,
  type OpKind,
  type Pending,
  type PointsTransport,
  type Unit,
  type WriteShape,
} from './transport.js';

type FilterInit = MessageInitShape<typeof FilterSchema>;
type ConditionInit = MessageInitShape<typeof ConditionSchema>;

const protoId = (id: PointId): ProtoPointId =>
  ({
    pointIdOptions: typeof id === 'bigint' ? { case: 'num', value: id } : { case: 'uuid', value: id },
  }) as ProtoPointId;

const field = (key: string, rest: object): ConditionInit =>
  ({ conditionOneOf: { case: 'field', value: { key, ...rest } } }) as ConditionInit;
const nested = (filter: FilterInit): ConditionInit =>
  ({ conditionOneOf: { case: 'filter', value: filter } }) as ConditionInit;
const matchInt = (v: number) => ({ match: { matchValue: { case: 'integer', value: BigInt(v) } } });

/** fence.ts notNewerThan: points whose stored position is not newer than (lsn, seq). */
function notNewerThan(change: PointChange): FilterInit {
  const { lsn, seq } = positionOf(change);
  return {
    mustNot: [
      field(LSN_FIELD, { range: { gt: lsn } }),
      nested({ must: [field(LSN_FIELD, matchInt(lsn)), field(SEQ_FIELD, { range: { gt: seq } })] }),
    ],
  };
}

/** fence.ts pointGuard: that point, when its stored position is not newer. */
const pointGuard = (p: Pending): FilterInit => ({
  must: [
    { conditionOneOf: { case: 'hasId', value: { hasId: [protoId(p.id)] } } } as ConditionInit,
    nested(notNewerThan(p.change)),
  ],
});

const anyOf = (units: Unit[]): FilterInit => ({ should: units.map((u) => nested(pointGuard(u.pending))) });

const selectIds = (units: Unit[]) => ({
  pointsSelectorOneOf: { case: 'points' as const, value: { ids: units.map((u) => protoId(u.pending.id)) } },
});

/** A point (its own guard, conditional) or its id, as a PointsSelector. */
function select(p: Pending, conditional: boolean) {
  return conditional
    ? { pointsSelectorOneOf: { case: 'filter' as const, value: pointGuard(p) } }
    : { pointsSelectorOneOf: { case: 'points' as const, value: { ids: [protoId(p.id)] } } };
}

/** Encoded points as the repeated message field `no` of a request, written out as they are. */
const asField = (no: number, points: Buffer[]) =>
  points.map((data) => ({ no, wireType: WireType.LengthDelimited, data }));

function checkCompleted(results: Array<UpdateResult | undefined>, what: string) {
  for (const r of results)
    if (r?.status !== UpdateStatus.Completed)
      throw new QdrantError(
        `Qdrant gRPC ${what} answered status ${r ? UpdateStatus[r.status] : 'none'}, not completed`,
        200,
        true,
      );
}

export class GrpcPoints implements PointsTransport {
  constructor(
    private readonly grpc: QdrantGrpc,
    private readonly shape: WriteShape,
  ) {}

  encode(kind: OpKind, p: Pending, arena: Arena): { enc: unknown; bytes: number } {
    switch (kind) {
      case 'delete':
      case 'tombstone':
        return { enc: null, bytes: 64 };
      case 'upsert': {
        const point = this.point(p, arena);
        return { enc: point, bytes: point.length + 160 };
      }
      case 'clearing': {
        const point = this.point(p, arena);
        return { enc: this.upsertClearing(p, point), bytes: point.length + 400 };
      }
      case 'partial': {
        // Bounds the request's size (sink.requestMaxBytes): vectors, payload text, guards.
        let bytes = 1024 + 16 * Object.keys(p.change.values).length;
        for (const v of Object.values(p.change.vectors))
          if (v) bytes += v.values.byteLength + (v.kind === 'sparse' ? 5 * v.indices.length : 0) + 16;
        for (const v of Object.values(p.change.values))
          if (typeof v === 'string') bytes += 3 * v.length;
          else if (v instanceof Uint8Array) bytes += 2 * v.byteLength;
          else if (v && typeof v === 'object' && 'json' in v) bytes += 3 * v.json.length;
        return { enc: this.partialOps(p), bytes };
      }
    }
  }

  async write(kind: OpKind, units: Unit[], signal: AbortSignal): Promise<void> {
    const { conditional, collection } = this.shape;
    const { points } = this.grpc;
    switch (kind) {
      case 'delete':
      case 'tombstone': {
        // A tombstone has no position to guard by: by id (plan.ts, tombstoneChange, says why).
        const guarded = kind === 'delete' && conditional;
        const request = create(DeletePointsSchema, {
          collectionName: collection,
          wait: true,
          points: guarded
            ? { pointsSelectorOneOf: { case: 'filter', value: anyOf(units) } }
            : selectIds(units),
        });
        const reply = await this.grpc.call('Delete', signal, (o) => points.delete(request, o));
        return checkCompleted([reply.result], 'Delete');
      }
      case 'upsert': {
        const request = create(UpsertPointsSchema, {
          collectionName: collection,
          wait: true,
          ...(conditional ? { updateFilter: anyOf(units) } : {}),
        });
        request.$unknown = asField(
          3,
          units.map((u) => u.enc as Buffer),
        );
        const reply = await this.grpc.call('Upsert', signal, (o) => points.upsert(request, o));
        return checkCompleted([reply.result], 'Upsert');
      }
      case 'clearing':
      case 'partial': {
        const request = create(UpdateBatchPointsSchema, {
          collectionName: collection,
          wait: true,
          operations: units.flatMap((u) => u.enc as PointsUpdateOperation[]),
        });
        const reply = await this.grpc.call('UpdateBatch', signal, (o) => points.updateBatch(request, o));
        return checkCompleted(reply.result.length ? reply.result : [undefined], 'UpdateBatch');
      }
    }
  }

  async truncate(lsn: bigint, seq: number, signal: AbortSignal): Promise<void> {
    // Every point older than the truncate: an earlier transaction, or earlier in its own.
    const l = Number(lsn);
    const filter: FilterInit = {
      should: [
        field(LSN_FIELD, { range: { lt: l } }),
        nested({ must: [field(LSN_FIELD, matchInt(l)), field(SEQ_FIELD, { range: { lt: seq } })] }),
      ],
    };
    const request = create(DeletePointsSchema, {
      collectionName: this.shape.collection,
      wait: true,
      points: { pointsSelectorOneOf: { case: 'filter', value: filter } },
    });
    const reply = await this.grpc.call('Delete', signal, (o) => this.grpc.points.delete(request, o));
    checkCompleted([reply.result], 'Delete');
  }

  /** vecrelay's payload fields: the source position, and a derived id's canonical key. */
  private extra({ change, derivedFrom }: Pending) {
    const { lsn, seq } = positionOf(change);
    const extra: Array<[string, Proto]> = [
      [LSN_FIELD, intValue(lsn)],
      [SEQ_FIELD, intValue(seq)],
    ];
    if (derivedFrom !== undefined) extra.push([KEY_FIELD, stringValue(derivedFrom)]);
    return extra;
  }

  private point(p: Pending, arena: Arena): Buffer {
    const payload = payloadEntries(p.change.values, this.extra(p));
    return writePoint(arena, p.id, payload, this.shape.layout, p.change.vectors);
  }

  /** transport-rest.ts upsertClearing: the upsert, then delete_vectors of the NULL vectors. */
  private upsertClearing(p: Pending, point: Buffer): PointsUpdateOperation[] {
    const { conditional } = this.shape;
    const list = create(PointsUpdateOperation_PointStructListSchema, {
      ...(conditional ? { updateFilter: notNewerThan(p.change) } : {}),
    });
    list.$unknown = asField(1, [point]);
    return [
      create(PointsUpdateOperationSchema, { operation: { case: 'upsert', value: list } }),
      create(PointsUpdateOperationSchema, {
        operation: {
          case: 'deleteVectors',
          value: { pointsSelector: select(p, conditional), vectors: { names: this.shape.cleared(p.change) } },
        },
      }),
    ];
  }

  /** transport-rest.ts partialOps: set_payload, update_vectors, delete_vectors, each guarded. */
  private partialOps(p: Pending): PointsUpdateOperation[] {
    const { conditional, layout } = this.shape;
    const { change } = p;
    const payload: Record<string, unknown> = {};
    for (const [name, value] of [
      ...Object.entries(change.values).map(([k, v]) => [k, columnValue(v)] as const),
      ...this.extra(p),
    ])
      payload[name] = protoValue(value);
    const ops: PointsUpdateOperation[] = [
      create(PointsUpdateOperationSchema, {
        operation: {
          case: 'setPayload',
          value: { payload, pointsSelector: select(p, conditional) } as never,
        },
      }),
    ];
    const set: Record<string, MessageInitShape<typeof PointsUpdateOperationSchema> | object> = {};
    const cleared: string[] = [];
    for (const name of [...layout.dense, ...layout.sparse]) {
      if (!Object.hasOwn(change.vectors, name)) continue; // unchanged
      const v = change.vectors[name];
      if (v) set[layout.unnamed ? '' : name] = vectorInit(v);
      else cleared.push(layout.unnamed ? '' : name);
    }
    const names = Object.keys(set);
    if (names.length) {
      const vectors = layout.unnamed
        ? { vectorsOptions: { case: 'vector', value: set[''] } }
        : { vectorsOptions: { case: 'vectors', value: { vectors: set } } };
      ops.push(
        create(PointsUpdateOperationSchema, {
          operation: {
            case: 'updateVectors',
            value: {
              points: [{ id: protoId(p.id), vectors }],
              ...(conditional ? { updateFilter: notNewerThan(change) } : {}),
            } as never,
          },
        }),
      );
    }
    if (cleared.length)
      ops.push(
        create(PointsUpdateOperationSchema, {
          operation: {
            case: 'deleteVectors',
            value: { pointsSelector: select(p, conditional), vectors: { names: cleared } },
          },
        }),
      );
    return ops;
  }
}

/** A vector as a protobuf-es init (partial updates only: rare, not the hot path). */
function vectorInit(
  v: NonNullable<PointChange['vectors'][string]>,
): MessageInitShape<typeof FilterSchema> | Vector {
  return (
    v.kind === 'dense'
      ? { vector: { case: 'dense', value: { data: Array.from(v.values) } } }
      : {
          vector: {
            case: 'sparse',
            value: { values: Array.from(v.values), indices: Array.from(v.indices, (i) => i >>> 0) },
          },
        }
  ) as never;
}

/** proto-points.ts's payload value as a protobuf-es Value init (partial updates only). */
function protoValue(p: Proto): unknown {
  switch (p.k) {
    case 'null':
      return { kind: { case: 'nullValue', value: 0 } };
    case 'double':
      return { kind: { case: 'doubleValue', value: p.v } };
    case 'int':
      return { kind: { case: 'integerValue', value: p.v } };
    case 'str':
      return { kind: { case: 'stringValue', value: p.v } };
    case 'bool':
      return { kind: { case: 'boolValue', value: p.v } };
    case 'struct':
      return {
        kind: {
          case: 'structValue',
          value: { fields: Object.fromEntries(p.entries.map((e) => [e.key, protoValue(e.value)])) },
        },
      };
    case 'list':
      return { kind: { case: 'listValue', value: { values: p.items.map(protoValue) } } };
  }
}
