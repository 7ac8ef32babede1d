// Conditional writes: a write lands only on a point whose stored source position is not newer
// than the write's own (DESIGN.md "Sink": stale writes are fenced). Every point carries the
// position of its last change in its payload (_vecrelay_lsn, _vecrelay_seq: commit LSN, and
// place in the transaction); a write of the change at (L, S) is guarded by
//
//   NOT (stored lsn > L  OR  (stored lsn = L AND stored seq > S))
//
// so a replay of the same change (L, S) still applies (replays converge, guarantee 3), and a
// point without those fields (written by something else) is written too. How Qdrant (≥ 1.16)
// applies the guards, read from its source (lib/shard/src/update, src/common/update.rs):
//   upsert  `update_filter`: existing points that do not match it keep their state; missing
//           points are inserted regardless. One filter per request, so each point's own guard
//           is a clause `{must: [has_id [id], guard]}` of one `should`.
//   delete  by `filter` (the same should of guarded has_id clauses) instead of by ids.
//   set_payload / delete_vectors: `points` takes precedence over `filter` (set_payload ignores
//           the filter then, delete_vectors applies both), so they go by filter alone.
//   update_vectors `update_filter`, like upsert (a missing point is still a 404).
// Residual gap: Qdrant keeps no tombstone, so a stale upsert that lands after a newer delete of
// the same point inserts it again; fencing before each request (consumer.ts) makes that window
// one in-flight request wide.
import { LSN_FIELD, SEQ_FIELD } from './points.js';

/** The guard of a change at (lsn, seq): matches points whose stored position is not newer. */
export function notNewerThan(lsn: bigint, seq: number): string {
  const l = String(Number(lsn));
  return (
    `{"must_not":[{"key":"${LSN_FIELD}","range":{"gt":${l}}},` +
    `{"must":[{"key":"${LSN_FIELD}","match":{"value":${l}}},{"key":"${SEQ_FIELD}","range":{"gt":${seq}}}]}]}`
  );
}

/** One point's clause: that point, when its stored position is not newer than (lsn, seq). */
export function pointGuard(idJson: string, lsn: bigint, seq: number): string {
  return `{"must":[{"has_id":[${idJson}]},${notNewerThan(lsn, seq)}]}`;
}

/** A filter matching each listed point under its own guard. */
export function anyOf(guards: string[]): string {
  return `{"should":[${guards.join(',')}]}`;
}
