// A batch of one partition's events, in order, reduced to what Qdrant must do: at most one net
// operation per point between truncates, with the same end state as applying every event in
// turn (DESIGN.md guarantee 2). Each operation remembers the Kafka records it stands for, so a
// record Qdrant rejects can be dead-lettered on its own.
//
//   full row (c, r, u without unchanged columns) → upsert: the point is replaced
//   update with unchanged columns                 → partial: set_payload + update_vectors
//   delete                                         → delete by id
//   tombstone (null value)                         → delete by id (see tombstoneChange)
//   truncate                                       → a barrier: delete every point older than it
//   partial right after a delete                   → a barrier too (see planBatch)
import type { IHeaders } from 'kafkajs';
import type { ChangeEvent, ColumnValue, VectorValue } from '../event/change-event.js';

export interface SinkRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The record's own headers (its schema version): a dead letter keeps them for a replay. */
  headers?: IHeaders;
}

export interface PointChange {
  kind: 'upsert' | 'partial' | 'delete';
  event: ChangeEvent;
  values: Record<string, ColumnValue>;
  vectors: Record<string, VectorValue | null>;
  lsn: bigint;
  records: SinkRecord[];
  /**
   * A delete that only a tombstone asked for: it has no source position of its own, so it is
   * not guarded by one (tombstoneChange says why that is safe).
   */
  tombstone?: true;
}

export type Step =
  | { kind: 'points'; changes: Map<string, PointChange> }
  | { kind: 'truncate'; lsn: bigint; seq: number; records: SinkRecord[] };

export interface DecodedRecord {
  record: SinkRecord;
  /** null for a tombstone. */
  event: ChangeEvent | null;
  /** A tombstone's key, decoded from the message key with the table's key columns (decode.ts). */
  tombstoneKey?: Record<string, ColumnValue>;
}

/**
 * A tombstone is the delete of its key. The source writes it right after the key's delete
 * event; once the cleaner has run, a key whose row was deleted keeps only the tombstone (until
 * delete.retention.ms), so a sink that lagged, or a new group rebuilding the collection, learns
 * of the delete from the tombstone alone.
 *
 * Its guard: a tombstone carries no source position, and none can be inferred safely (the
 * records around it may be compacted away, and a source that restarts re-sends older events
 * after newer ones, so a neighbour's position is no bound). A guard that is too old would leave
 * the point in Qdrant for good. So the delete goes by id, unconditionally, which is safe because
 * of where a tombstone sits: every event of its key before it in the partition is older than
 * its delete, and every newer one comes after it in the same partition — this member applies
 * those later, in order. Only a member that lost the partition could land the delete after a
 * newer write of the key; it fences before every request, so that window is one in-flight
 * request, the same as fence.ts's residual gap for a stale upsert after a newer delete. When the
 * key's delete event is in the same batch (the usual case before compaction), the tombstone
 * folds into it and the delete keeps that event's guard (merge).
 */
function tombstoneChange(key: Record<string, ColumnValue>, record: SinkRecord): PointChange {
  const event: ChangeEvent = {
    op: 'd',
    source: { lsn: 0n, xid: 0, commitTimeMicros: 0n, schema: '', table: '', snapshot: false, seq: 0 },
    key,
    values: null,
    vectors: {},
    unchanged: [],
  };
  return { kind: 'delete', event, values: {}, vectors: {}, lsn: 0n, records: [record], tombstone: true };
}

function change(event: ChangeEvent, record: SinkRecord): PointChange {
  const kind =
    event.op === 'd' ? 'delete' : event.op === 'u' && event.unchanged.length > 0 ? 'partial' : 'upsert';
  return {
    kind,
    event,
    values: event.values ?? {},
    vectors: event.vectors,
    lsn: event.source.lsn,
    records: [record],
  };
}

/** Folds `next` into `prev` for the same point. */
function merge(prev: PointChange, next: PointChange): PointChange {
  const records = [...prev.records, ...next.records];
  // A tombstone after a delete: the delete stands, with its own guard.
  if (next.tombstone && prev.kind === 'delete') return { ...prev, records };
  if (next.kind !== 'partial' || prev.kind === 'delete') return { ...next, records };
  // A partial update on top of a full row is a full row; on top of a partial, a larger partial.
  return {
    kind: prev.kind,
    event: next.event,
    values: { ...prev.values, ...next.values },
    vectors: { ...prev.vectors, ...next.vectors },
    lsn: next.lsn,
    records,
  };
}

/** `keyOf` gives the point's identity (its canonical key) for an event. */
export function planBatch(items: DecodedRecord[], keyOf: (e: ChangeEvent) => string): Step[] {
  const steps: Step[] = [];
  let current = new Map<string, PointChange>();
  for (const { record, event, tombstoneKey } of items) {
    if (event === null) {
      if (!tombstoneKey) continue;
      const next = tombstoneChange(tombstoneKey, record);
      const key = keyOf(next.event);
      const prev = current.get(key);
      current.set(key, prev ? merge(prev, next) : next);
      continue;
    }
    if (event.op === 't') {
      if (current.size) steps.push({ kind: 'points', changes: current });
      current = new Map();
      steps.push({ kind: 'truncate', lsn: event.source.lsn, seq: event.source.seq, records: [record] });
      continue;
    }
    const key = keyOf(event);
    const next = change(event, record);
    const prev = current.get(key);
    if (prev?.kind === 'delete' && next.kind === 'partial') {
      // A partial update of a deleted point has nothing to fold into: applied in turn it changes
      // nothing (conditional writes select the point by filter) or fails (no such point, when
      // it sets a vector, or on a Qdrant without conditional writes) and is dead-lettered.
      // Folded, it would replace the delete and leave the point as it was before the batch; so
      // it starts a new step, after the delete.
      steps.push({ kind: 'points', changes: current });
      current = new Map([[key, next]]);
      continue;
    }
    current.set(key, prev ? merge(prev, next) : next);
  }
  if (current.size) steps.push({ kind: 'points', changes: current });
  return steps;
}
