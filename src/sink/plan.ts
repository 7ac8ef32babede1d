// A batch of one partition's events, in order, reduced to what Qdrant must do: at most one net
// operation per point between truncates, with the same end state as applying every event in
// turn (DESIGN.md guarantee 2). Each operation remembers the Kafka records it stands for, so a
// record Qdrant rejects can be dead-lettered on its own.
//
//   full row (c, r, u without unchanged columns) → upsert: the point is replaced
//   update with unchanged columns                 → partial: set_payload + update_vectors
//   delete                                         → delete by id
//   tombstone (null value)                         → nothing: its delete event came just before
//   truncate                                       → a barrier: delete every point older than it
//   partial right after a delete                   → a barrier too (see planBatch)
import type { ChangeEvent, ColumnValue, VectorValue } from '../event/change-event.js';

export interface SinkRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface PointChange {
  kind: 'upsert' | 'partial' | 'delete';
  event: ChangeEvent;
  values: Record<string, ColumnValue>;
  vectors: Record<string, VectorValue | null>;
  lsn: bigint;
  records: SinkRecord[];
}

export type Step =
  | { kind: 'points'; changes: Map<string, PointChange> }
  | { kind: 'truncate'; lsn: bigint; seq: number; records: SinkRecord[] };

export interface DecodedRecord {
  record: SinkRecord;
  /** null for a tombstone. */
  event: ChangeEvent | null;
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
  for (const { record, event } of items) {
    if (event === null) continue;
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
