// `vecrelay resync` asks the running source to read a table (or the rows matching a condition)
// again, through the WAL: a transactional logical message the source meets in its stream. So the
// request needs nothing but Postgres, waits in the slot while the source is down, and is ordered
// with the table's changes; the source records it before confirming past it (snapshotter.ts).
import type pg from 'pg';

export const RESYNC_PREFIX = 'vecrelay.resync';

export interface ResyncRequest {
  /** The pipeline's name: logical messages reach every slot of the database. */
  pipeline: string;
  /** "schema.table". */
  table: string;
  /** SQL condition on the table's rows; null for every row. */
  where: string | null;
  /** Or these keys only (text form of each key column, `verify --repair`): a key with no row is deleted. */
  keys?: string[][];
  /** Unique per request: a request replayed from the WAL after a restart is run once. */
  id: string;
}

export async function emitResync(sql: pg.Client, request: ResyncRequest): Promise<string> {
  const { rows } = await sql.query<{ lsn: string }>(
    `SELECT pg_logical_emit_message(true, $1, $2)::text AS lsn`,
    [RESYNC_PREFIX, JSON.stringify(request)],
  );
  return rows[0]!.lsn;
}

/** The request a logical message carries, or undefined for any other message. */
export function readResync(prefix: string, content: Buffer): ResyncRequest | undefined {
  if (prefix !== RESYNC_PREFIX) return undefined;
  try {
    const r = JSON.parse(content.toString('utf8')) as Partial<ResyncRequest>;
    if (typeof r.pipeline !== 'string' || typeof r.table !== 'string' || typeof r.id !== 'string')
      return undefined;
    const keys = Array.isArray(r.keys) && r.keys.every((k) => Array.isArray(k)) ? r.keys : undefined;
    return {
      pipeline: r.pipeline,
      table: r.table,
      where: typeof r.where === 'string' ? r.where : null,
      id: r.id,
      ...(keys ? { keys } : {}),
    };
  } catch {
    return undefined;
  }
}
