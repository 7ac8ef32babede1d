// What a chunk becomes at its high watermark (windows.ts): its rows whose key did not change in
// the stream since the low watermark, as snapshot events ('r') at the watermark's position, and
// deletes for keys asked for by name that have no row. The stream session calls it inside the
// watermark's transaction and counts the chunk's events with the transaction's, so the slot is
// confirmed past the watermark only once Kafka holds them; the window settles once Kafka holds
// every event of the chunk.
import type { ChangeEvent } from '../../event/change-event.js';
import { canonicalKey } from '../../event/key.js';
import type { ChangeBuilder, TxInfo } from '../changes.js';
import type { SnapshotRow } from '../postgres/snapshot.js';
import { releaseTuple } from '../row-memory.js';
import { isRowFailure } from '../row-failure.js';
import type { TakenWindow } from './windows.js';

export interface ChunkOutput {
  builder: ChangeBuilder;
  /** The watermark's transaction as snapshot rows carry it (xid 0); its seq advances per event. */
  info: TxInfo;
  /** Publishes one event; `also` is one more acknowledgement to count (the chunk's). */
  publish(event: ChangeEvent, also: () => () => void): Promise<void>;
  /** Dead-letters a row that cannot become an event; `acked` once Kafka has the dead letter. */
  deadLetter(columns: string[], row: SnapshotRow, err: Error, acked: () => void): Promise<void>;
}

/** Emits the chunk of `taken` (see the header); its window settles with the rows emitted. */
export async function emitChunk(taken: TakenWindow, out: ChunkOutput): Promise<void> {
  const { chunk, changed, truncated } = taken;
  if (truncated) return taken.done(0); // a TRUNCATE since the low watermark emptied it
  const { plan } = chunk;
  let pending = 1;
  let emitted = 0;
  const settle = () => {
    if (--pending === 0) taken.done(emitted);
  };
  const counted = () => {
    pending++;
    return settle;
  };
  try {
    for (const row of chunk.rows) {
      let event: ChangeEvent;
      try {
        event = out.builder.row('r', plan, out.info, row);
      } catch (err) {
        if (!isRowFailure(err)) throw err;
        pending++;
        const columns = plan.relation.columns.map((c) => c.name);
        await out.deadLetter(columns, row, err as Error, settle);
        continue;
      }
      // Decoded into the event: the row's bytes are no longer read.
      releaseTuple(row);
      // The stream's version is newer. (No key changed in most windows: no key string to build.)
      if (changed.size > 0 && changed.has(canonicalKey(plan.keyNames, event.key))) continue;
      emitted++;
      await out.publish(event, counted);
    }
    for (const tuple of chunk.absent ?? []) {
      // A key asked for that has no row (and did not change since the low watermark): gone.
      const event = out.builder.delete(plan, out.info, tuple);
      if (changed.has(canonicalKey(plan.keyNames, event.key))) continue;
      await out.publish(event, counted);
    }
  } catch (err) {
    taken.fail(err as Error);
    throw err;
  }
  settle();
}
