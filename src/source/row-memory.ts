// Giving a row's memory back once its event is encoded (src/shared/arena.ts): the decoders'
// arenas then reuse it for the next rows instead of allocating.
import type { ChangeEvent } from '../event/change-event.js';
import { releaseView } from '../shared/arena.js';
import type { Tuple } from './pgoutput/index.js';
import type { SnapshotRow } from './postgres/snapshot.js';

/** Gives each decoded vector's memory back to the decoders' arena (each is one allocation). */
export function releaseVectors(event: ChangeEvent): void {
  for (const name in event.vectors) {
    const v = event.vectors[name];
    if (!v) continue;
    if (v.kind === 'sparse') releaseView(v.indices);
    releaseView(v.values);
  }
}

/**
 * Gives a row's memory back to its arena: a snapshot row's to the COPY reader's, a row message's
 * to the pgoutput parser's. Every binary cell of a row (of both tuples of an update) is a view of
 * one allocation.
 */
export function releaseTuple(row: SnapshotRow | Tuple): void {
  for (const cell of row)
    if (cell.kind === 'binary') {
      releaseView(cell.bytes);
      return;
    }
}
