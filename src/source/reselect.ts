// Reads back the columns pgoutput did not send, so that every event carries the whole row.
//
// Under REPLICA IDENTITY DEFAULT an UPDATE sends the new row with TOASTed columns that did not
// change (a 1536-dim vector, say) marked "unchanged" — no value. An event without them cannot
// rebuild the row once Kafka compacted the key's earlier events away (issue 10), and a row that
// moved to a new key would lose them outright. So the session reads them from the table by key,
// one query per table for a whole transaction's rows (stream-session.ts batches them).
//
// Which state the read sees. The query runs after the transaction committed, so the row it finds
// is the event's state or a newer one. Newer is fine: the newer state was written by transactions
// that committed later, whose events follow in the stream and settle the key the same way. Older
// must never happen, and there is one window where it could: the walsender may send a commit as
// soon as its WAL is flushed, a moment before the transaction becomes visible to new snapshots.
// So the query also asks whether the event's transaction is visible in the very snapshot it reads
// with (pg_visible_in_snapshot on the statement's own snapshot), and is repeated until it is.
//
// A key with no row any more was deleted (or moved away) by a later transaction: its delete
// follows in the stream, so the event is dropped rather than sent partial — the same end state,
// and no event that cannot rebuild its row.
import type pg from 'pg';
import type { CellDecoders, RelationPlan } from './changes.js';
import type { NullCell, Tuple } from './pgoutput/index.js';
import { quoteIdent, quoteTable } from './postgres/connect.js';
import { canonicalKey } from '../event/key.js';
import type { ColumnValue } from '../event/change-event.js';
import { VecrelayError } from '../shared/errors.js';

const NULL: NullCell = Object.freeze({ kind: 'null' });

/** How long a commit may stay invisible after the walsender sent it (a few µs in practice). */
const VISIBILITY_WAIT_MS = 10_000;

/** The captured columns of `tuple` pgoutput did not send (unchanged TOAST), by index. */
export function unsentColumns(plan: RelationPlan, tuple: Tuple): number[] {
  const missing: number[] = [];
  for (const { index, role } of plan.columns)
    if (role !== 'skip' && tuple[index]?.kind === 'unchanged') missing.push(index);
  return missing;
}

/** True when `tuple` lacks values pgoutput did not send (unchanged TOAST). */
export function hasUnsentColumns(tuple: Tuple): boolean {
  return tuple.some((cell) => cell.kind === 'unchanged');
}

export interface FillRequest {
  plan: RelationPlan;
  tuple: Tuple;
}

/**
 * Each request's tuple with its unsent captured columns filled from the table's current row under
 * its key (as text cells, which every decoder reads), or null when no row has that key any more.
 * One query per relation plan; `xid` is the transaction the tuples come from.
 */
export async function fillUnsent(
  sql: pg.Client,
  decoders: CellDecoders,
  requests: FillRequest[],
  xid: number,
  onGone?: (plan: RelationPlan, err: Error) => void,
): Promise<(Tuple | null)[]> {
  const results: (Tuple | null)[] = requests.map((r) => r.tuple);
  const byPlan = new Map<RelationPlan, number[]>();
  requests.forEach((r, n) => {
    const list = byPlan.get(r.plan);
    if (list) list.push(n);
    else byPlan.set(r.plan, [n]);
  });
  for (const [plan, indexes] of byPlan) {
    let rows;
    try {
      rows = await readBack(
        sql,
        decoders,
        plan,
        indexes.map((n) => requests[n]!.tuple),
        xid,
      );
    } catch (err) {
      // A column or table dropped or renamed since these rows were written: the values are gone
      // from the table too, and retrying would fail forever. Its later events follow the new
      // Relation; these go as they came (with their unsent columns listed).
      if (isGoneFromCatalog(err)) {
        onGone?.(plan, err as Error);
        continue;
      }
      throw err;
    }
    for (const n of indexes) {
      const tuple = requests[n]!.tuple;
      const row = rows.values.get(keyOf(decoders, plan, tuple));
      if (!row) {
        results[n] = null;
        continue;
      }
      const filled = [...tuple];
      rows.missing.forEach((i, m) => {
        if (filled[i]?.kind !== 'unchanged') return;
        const text = row[m];
        filled[i] = text === null || text === undefined ? NULL : { kind: 'text', text };
      });
      results[n] = filled;
    }
  }
  return results;
}

/** undefined_column, undefined_table: the relation changed since the rows were written. */
function isGoneFromCatalog(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '42703' || code === '42P01';
}

function keyOf(decoders: CellDecoders, plan: RelationPlan, tuple: Tuple): string {
  const key: Record<string, ColumnValue> = {};
  for (const i of plan.keyIndexes) {
    const cell = tuple[i]!;
    const column = plan.relation.columns[i]!;
    // The caller checked the key cells carry values (an unsendable key is the row's failure).
    if (cell.kind === 'null' || cell.kind === 'unchanged') return '';
    key[column.name] = decoders.value(column, cell);
  }
  return canonicalKey(plan.keyNames, key);
}

/** True when every key cell of `tuple` carries a value (else the row fails on its own). */
export function hasSendableKey(plan: RelationPlan, tuple: Tuple): boolean {
  return plan.keyIndexes.every((i) => {
    const kind = tuple[i]?.kind;
    return kind === 'binary' || kind === 'text';
  });
}

async function readBack(
  sql: pg.Client,
  decoders: CellDecoders,
  plan: RelationPlan,
  tuples: Tuple[],
  xid: number,
): Promise<{ missing: number[]; values: Map<string, (string | null)[]> }> {
  const { relation } = plan;
  const missingSet = new Set<number>();
  for (const tuple of tuples) for (const i of unsentColumns(plan, tuple)) missingSet.add(i);
  const missing = [...missingSet].sort((a, b) => a - b);
  // The key cells go back as they came: binary send format as binary parameters (node-pg sends a
  // Buffer so), text as text; each parameter takes its column's type from the comparison.
  const values: unknown[] = [xid];
  const keyTuples: string[] = [];
  const seen = new Set<string>();
  for (const tuple of tuples) {
    const params = plan.keyIndexes.map((i) => {
      const cell = tuple[i]!;
      return cell.kind === 'binary' ? cell.bytes : cell.kind === 'text' ? cell.text : null;
    });
    const id = params.map((p) => (Buffer.isBuffer(p) ? `b${p.toString('hex')}` : `t${p}`)).join('\0');
    if (seen.has(id)) continue; // two updates of one key in the transaction: read it once
    seen.add(id);
    const placeholders = params.map((p) => {
      values.push(p);
      return `$${values.length}`;
    });
    keyTuples.push(placeholders.length === 1 ? placeholders[0]! : `(${placeholders.join(', ')})`);
  }
  const keyCols = plan.keyIndexes.map((i) => `t.${quoteIdent(relation.columns[i]!.name)}`);
  const lhs = keyCols.length === 1 ? keyCols[0]! : `(${keyCols.join(', ')})`;
  const selected = [...plan.keyIndexes, ...missing].map(
    (i) => `t.${quoteIdent(relation.columns[i]!.name)}::text`,
  );
  // The 32-bit xid of pgoutput, widened to the xid8 of the snapshot's epoch (an xid at or past the
  // snapshot's xmax belongs to the previous epoch), then checked against the statement's snapshot.
  const text =
    `WITH s AS (SELECT pg_current_snapshot() AS s), ` +
    `x AS (SELECT s, pg_snapshot_xmax(s)::text::bigint AS xmax FROM s), ` +
    `f AS (SELECT s, xmax, (xmax & -4294967296) | $1::bigint AS wide FROM x), ` +
    `v AS (SELECT pg_visible_in_snapshot((CASE WHEN wide >= xmax THEN wide - 4294967296 ELSE wide END)::text::xid8, s) AS visible FROM f) ` +
    `SELECT v.visible, ${selected.join(', ')} FROM v LEFT JOIN ${quoteTable(relation.schema, relation.name)} t ` +
    `ON ${lhs} IN (${keyTuples.join(', ')})`;
  const deadline = Date.now() + VISIBILITY_WAIT_MS;
  for (;;) {
    const { rows } = await sql.query<unknown[]>({ text, values, rowMode: 'array' });
    if (rows[0]?.[0] !== true) {
      if (Date.now() > deadline)
        throw new VecrelayError(
          `${relation.schema}.${relation.name}: transaction ${xid} is still not visible ${VISIBILITY_WAIT_MS} ms after its commit was streamed`,
          { retriable: true },
        );
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const found = new Map<string, (string | null)[]>();
    const nKey = plan.keyIndexes.length;
    for (const row of rows) {
      const keyText = row.slice(1, 1 + nKey) as (string | null)[];
      if (keyText[0] === null || keyText[0] === undefined) continue; // the LEFT JOIN's empty row
      const key: Record<string, ColumnValue> = {};
      plan.keyIndexes.forEach((i, k) => {
        const column = relation.columns[i]!;
        key[column.name] = decoders.value(column, { kind: 'text', text: keyText[k]! });
      });
      found.set(canonicalKey(plan.keyNames, key), row.slice(1 + nKey) as (string | null)[]);
    }
    return { missing, values: found };
  }
}
