// The seam between the collection writer (writer.ts: order, request sizing, splitting to isolate
// a bad record, retries, fencing, failure classes) and the wire: REST with JSON the sink writes
// itself (transport-rest.ts) or gRPC with protobuf (transport-grpc.ts). A transport encodes one
// unit (a point, or a point's operations) at a time, and sends a request of units with
// wait=true, throwing QdrantError with an HTTP-like status so that errors.ts classifies both
// transports alike.
import type { PointChange } from '../plan.js';
import type { Arena } from './arena.js';
import type { PointId } from './point-id.js';
import type { VectorLayout } from './points.js';

/**
 * What a request does with its units, in the order writer.ts sends them:
 *   delete     delete by id; conditional: by each point's guard (fence.ts)
 *   tombstone  delete by id, never guarded (plan.ts tombstoneChange)
 *   upsert     whole points; conditional: update_filter of the points' guards
 *   clearing   per point: upsert, then delete the vectors the row sets to NULL (writer.ts)
 *   partial    per point: set_payload, update_vectors, delete_vectors for the columns sent
 */
export type OpKind = 'delete' | 'tombstone' | 'upsert' | 'clearing' | 'partial';

/** A change with its point id, before it is encoded. */
export interface Pending {
  change: PointChange;
  id: PointId;
  /** The canonical key when the id is derived from it (point-id.ts): goes into the payload. */
  derivedFrom: string | undefined;
}

/** One encoded unit of a request (its form is the transport's own) and where it comes from. */
export interface Unit {
  enc: unknown;
  /** Bytes the unit adds to its request: requests stay under sink.requestMaxBytes. */
  bytes: number;
  pending: Pending;
}

/** What the writer knows of the collection that a transport needs to encode for it. */
export interface WriteShape {
  readonly collection: string;
  /** Guard every write by the stored source position (Qdrant ≥ 1.16: update_filter). */
  readonly conditional: boolean;
  /** How the table's vectors appear in the collection now (it may change on a recreate). */
  readonly layout: VectorLayout;
  /** The collection's vectors a whole row sets to NULL ("" for the unnamed vector). */
  cleared(change: PointChange): string[];
}

export interface PointsTransport {
  /** Encodes one unit; memory that must live until its request is done comes from `arena`. */
  encode(kind: OpKind, p: Pending, arena: Arena): { enc: unknown; bytes: number };
  /** Sends one request of units, returning once Qdrant applied all of it (wait=true, completed). */
  write(kind: OpKind, units: Unit[], signal: AbortSignal): Promise<void>;
  /** Deletes every point older than (lsn, seq) (a truncate at that position). */
  truncate(lsn: bigint, seq: number, signal: AbortSignal): Promise<void>;
}

/** Builds a collection's transport once the writer (its shape) exists. */
export type TransportFactory = (shape: WriteShape) => PointsTransport;

/** The payload fields vecrelay adds to every point: its source position, and a derived id's key. */
export function positionOf(change: PointChange): { lsn: number; seq: number } {
  return { lsn: Number(change.lsn), seq: change.event.source.seq };
}
