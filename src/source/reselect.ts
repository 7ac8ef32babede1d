// Reads back the columns pgoutput did not send for a row that moved to a new primary key.
//
// Under REPLICA IDENTITY DEFAULT an UPDATE that changes the key sends the old key and the new row,
// with TOASTed columns that did not change (a 1536-dim vector, say) marked "unchanged" — no value.
// The event for the new key would then be a partial update of a point that does not exist (the
// old key's point is deleted), and the vector would be lost. So, for that case only, the source
// reads the missing columns from the table by the new key. The row read is the current one, maybe
// newer than the event: the stream's later events for the key follow, so the end state is the
// same. A row no longer there was deleted or moved again later: its own events follow.
import type pg from 'pg';
import type { RelationPlan } from './changes.js';
import type { NullCell, Tuple } from './pgoutput/index.js';
import { quoteIdent, quoteTable } from './postgres/connect.js';

const NULL: NullCell = Object.freeze({ kind: 'null' });

/** True when `tuple` lacks values pgoutput did not send (unchanged TOAST). */
export function hasUnsentColumns(tuple: Tuple): boolean {
  return tuple.some((cell) => cell.kind === 'unchanged');
}

/**
 * `tuple` with its unchanged cells filled from the table's current row under the tuple's key (as
 * text cells, which every decoder reads), or null when no row has that key any more.
 */
export async function reselectUnsent(
  sql: pg.Client,
  plan: RelationPlan,
  tuple: Tuple,
): Promise<Tuple | null> {
  const { relation } = plan;
  const missing = tuple.flatMap((cell, i) => (cell.kind === 'unchanged' ? [i] : []));
  // The key cells go back as they came: binary send format as binary parameters (node-pg sends a
  // Buffer so), text as text; each parameter takes its column's type from the comparison.
  const params = plan.keyIndexes.map((i) => {
    const cell = tuple[i]!;
    return cell.kind === 'binary' ? cell.bytes : cell.kind === 'text' ? cell.text : null;
  });
  const where = plan.keyIndexes.map((i, n) => `${quoteIdent(relation.columns[i]!.name)} = $${n + 1}`);
  const { rows } = await sql.query<string[]>({
    text:
      `SELECT ${missing.map((i) => `${quoteIdent(relation.columns[i]!.name)}::text`).join(', ')} ` +
      `FROM ${quoteTable(relation.schema, relation.name)} WHERE ${where.join(' AND ')}`,
    values: params,
    rowMode: 'array',
  });
  const row = rows[0];
  if (!row) return null;
  const filled = [...tuple];
  missing.forEach((i, n) => {
    const text = row[n];
    filled[i] = text === null || text === undefined ? NULL : { kind: 'text', text };
  });
  return filled;
}
