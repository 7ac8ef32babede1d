// Safe while writes continue: a row found different from its point is reported only when it still
// differs once the pipeline has applied everything the row's reading saw — never for being in
// flight. One round, for a set of keys:
//
//   1. A = WAL insert position. Any transaction the next snapshot does not see commits above A.
//   2. A REPEATABLE READ snapshot; B = WAL insert position read in it (every transaction it sees
//      committed below B); the rows of the keys, as of that snapshot.
//   3. Wait until the pipeline has applied everything below B (applied.ts: slot, then sink group).
//   4. The points of the keys, and the comparison:
//        equal                               → settled;
//        the point's last change is ≥ A      → a newer change was applied: in flight, next round;
//        no point, and the row is gone now   → a delete in flight: next round;
//        otherwise                           → a divergence: the point's last change is older than
//                                              A and everything up to B is applied, so it will
//                                              not become equal by itself.
// When the pipeline does not apply past B within the wait, a difference cannot be told from a
// change not yet applied: it is counted (notApplied, the table is then not proven equal), never
// named as a divergence.
// The point's last change is its `_vecrelay_lsn` (the commit LSN the sink writes with every change,
// whole or partial). Keys still in flight after the last round are counted as unsettled, not
// reported.
import type { ColumnValue } from '../../event/change-event.js';
import { formatLsn } from '../../event/lsn.js';
import { pointIdJson, pointIdOf, type PointId } from '../../sink/qdrant/point-id.js';
import { LSN_FIELD } from '../../sink/qdrant/points.js';
import { comparePoint, expectedPoint, type Problem } from './compare.js';
import { answeredId, type QdrantPoint } from './qdrant.js';
import type { TableRow } from './rows.js';
import { walInsertLsn, waitApplied } from './applied.js';
import type { TableContext } from './context.js';

export interface Divergence {
  kind: 'missing' | 'extra' | 'mismatched';
  idJson: string;
  id: PointId;
  /** The row's key; undefined for a point no row can have (its id matches no key). */
  key: Record<string, ColumnValue> | undefined;
  problems: Problem[];
}

export interface Candidate {
  id: PointId;
  key: Record<string, ColumnValue>;
}

const ROUNDS = 5;

/** The point id of a row (the sink's function), whether or not its cells decode. */
export function rowIdJson(ctx: TableContext, row: TableRow): string {
  return pointIdJson(pointIdOf(ctx.descriptor, ctx.namespace, row.key).id);
}

/** How `point` differs from `row` (either may be absent); undefined when equal. */
export function judge(
  ctx: TableContext,
  idJson: string,
  row: TableRow | undefined,
  point: QdrantPoint | undefined,
): Divergence | undefined {
  if (!row && !point) return undefined;
  const id = point ? answeredId(point.id) : pointIdOf(ctx.descriptor, ctx.namespace, row!.key).id;
  const base = { idJson, id, key: row?.key };
  if (!point) return { ...base, kind: 'missing', problems: [] };
  if (!row) return { ...base, kind: 'extra', problems: [] };
  if (!row.event)
    return {
      ...base,
      kind: 'mismatched',
      problems: [
        {
          kind: 'undecodable',
          detail: `the row does not decode (${row.error}): the pipeline dead-letters it`,
        },
      ],
    };
  const problems = comparePoint(
    expectedPoint(ctx.descriptor, ctx.namespace, row.event),
    point,
    ctx.mapping,
    ctx.params,
  );
  return problems.length ? { ...base, kind: 'mismatched', problems } : undefined;
}

/** The commit LSN of the point's last change, or -1 when it has none. */
export function lastChange(point: QdrantPoint): bigint {
  const v = point.payload?.[LSN_FIELD];
  return typeof v === 'number' || typeof v === 'bigint' ? BigInt(v) : -1n;
}

/** Rows of `keys` as of one REPEATABLE READ snapshot, and the WAL insert position read in it. */
export async function snapshotRows(
  ctx: TableContext,
  read: () => Promise<TableRow[]>,
): Promise<{ rows: TableRow[]; position: bigint }> {
  await ctx.data.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const position = await walInsertLsn(ctx.data); // the first statement takes the snapshot
    const rows = await read();
    await ctx.data.query('COMMIT');
    return { rows, position };
  } catch (err) {
    await ctx.data.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Waits for the pipeline to apply below `position`; after one timeout it is not waited for again. */
export async function awaitPipeline(ctx: TableContext, position: bigint): Promise<void> {
  if (ctx.state.behind) return;
  const started = Date.now();
  const behind = await waitApplied(ctx.pipeline, position, {
    timeoutMs: ctx.waitTimeoutMs,
    signal: ctx.signal,
  });
  ctx.log.debug(
    { position: formatLsn(position), ms: Date.now() - started, behind },
    'waited for the pipeline',
  );
  if (behind.length) ctx.state.behind = behind;
}

/** The divergences among `candidates` that are not in flight (see the top of this file). */
export async function settle(ctx: TableContext, candidates: Map<string, Candidate>): Promise<Divergence[]> {
  const found: Divergence[] = [];
  ctx.state.rechecked += candidates.size;
  let pending = candidates;
  for (let round = 0; round < ROUNDS && pending.size; round++) {
    const since = await walInsertLsn(ctx.pipeline.sql);
    const keys = [...pending.values()].map((c) => c.key);
    const { rows, position } = await snapshotRows(ctx, () => ctx.reader.byKeys(keys));
    await awaitPipeline(ctx, position);
    const points = await ctx.qdrant.retrieve(
      [...pending.values()].map((c) => c.id),
      true,
    );
    const rowById = new Map(rows.map((r) => [rowIdJson(ctx, r), r]));
    const pointById = new Map(points.map((p) => [pointIdJson(answeredId(p.id)), p]));
    const next = new Map<string, Candidate>();
    const gone: Divergence[] = [];
    for (const [idJson, candidate] of pending) {
      const point = pointById.get(idJson);
      const judged = judge(ctx, idJson, rowById.get(idJson), point);
      if (!judged) continue;
      // An extra point's key (from its id or payload): what --repair re-syncs (into a delete).
      const d = judged.key ? judged : { ...judged, key: candidate.key };
      if (point && lastChange(point) >= since) next.set(idJson, candidate);
      else if (ctx.state.behind)
        ctx.state.notApplied++; // cannot tell: the pipeline is behind
      else if (d.kind === 'missing') gone.push(d);
      else found.push(d);
    }
    if (gone.length) {
      // A row whose point is missing: deleted since the snapshot (in flight), or truly missing.
      const now = new Set((await ctx.reader.existing(gone.map((d) => d.key!))).map((r) => rowIdJson(ctx, r)));
      for (const d of gone)
        if (now.has(d.idJson)) found.push(d);
        else next.set(d.idJson, pending.get(d.idJson)!);
    }
    ctx.log.debug(
      { round, candidates: pending.size, found: found.length, inFlight: next.size },
      'recheck round',
    );
    pending = next;
  }
  ctx.state.unsettled += pending.size;
  return found;
}
