// The watermarks around a snapshot chunk (DBLog): logical messages written into the WAL, which
// the stream session meets in commit order among the table's changes.
//
//   low  ─ commit of its own transaction, at WAL position L
//   wait ─ until every transaction that was running at L has ended (see below)
//   read ─ the chunk, in a snapshot S taken now
//   high ─ commit of its own transaction, at H
//
// The stream then holds, between L and H, every change S may not contain: a transaction S does
// not see commits after L (below), so the stream session drops each key changed between the two
// watermarks from the chunk and emits the rest at H — before every change after H, which S
// cannot have seen either. A change S did see and that is older than L was emitted before the
// chunk, which carries it or something newer.
//
// Why the wait: Postgres writes a commit record before the transaction becomes visible to new
// snapshots (it may wait for its WAL flush, or a synchronous standby, in between). Without the
// wait, a transaction whose commit record lies before L could still be invisible to S: the stream
// would emit its change before the low watermark, and the chunk would then overwrite it with the
// older row. pg_current_snapshot() taken after L lists every transaction still running (a commit
// record written or not); once the oldest running transaction is newer than all of them, each
// committed before L is visible to any later snapshot. A transaction left open for long holds the
// chunk back (the wait is logged, naming its process).
//
// Transactional messages: their commit flushes the WAL at once (the snapshotter's connection sets
// synchronous_commit = local whatever the server's default; a non-transactional message waits for
// the WAL writer), and the high watermark's transaction carries the chunk's events, so the slot
// is confirmed past H only once Kafka holds them.
import type pg from 'pg';
import { sleep } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';

export const WATERMARK_PREFIX = 'vecrelay.watermark';

export interface Watermark {
  /** The pipeline's name: logical messages reach every slot of the database. */
  pipeline: string;
  /** The chunk's window (windows.ts). */
  window: string;
  kind: 'low' | 'high';
}

export async function emitWatermark(sql: pg.Client, mark: Watermark): Promise<void> {
  await sql.query(`SELECT pg_logical_emit_message(true, $1, $2)`, [WATERMARK_PREFIX, JSON.stringify(mark)]);
}

/** The watermark a logical message carries, or undefined for any other message. */
export function readWatermark(prefix: string, content: Buffer): Watermark | undefined {
  if (prefix !== WATERMARK_PREFIX) return undefined;
  try {
    const mark = JSON.parse(content.toString('utf8')) as Partial<Watermark>;
    if (typeof mark.pipeline !== 'string' || typeof mark.window !== 'string') return undefined;
    if (mark.kind !== 'low' && mark.kind !== 'high') return undefined;
    return mark as Watermark;
  } catch {
    return undefined; // someone else's message under our prefix: not ours to act on
  }
}

const WAIT_POLL_MS = 20;
const WAIT_LOG_MS = 30_000;

/** Waits until every transaction running now has ended (see the header: "Why the wait"). */
export async function waitForRunningTransactions(
  sql: pg.Client,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  const { rows } = await sql.query<{ newest: string | null }>(
    `SELECT max(x)::text AS newest FROM pg_snapshot_xip(pg_current_snapshot()) AS x`,
  );
  const newest = rows[0]?.newest;
  if (!newest) return;
  const started = Date.now();
  let logged = started;
  for (;;) {
    const r = await sql.query<{ ended: boolean }>(
      `SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8 AS ended`,
      [newest],
    );
    if (r.rows[0]?.ended) return;
    if (Date.now() - logged > WAIT_LOG_MS) {
      logged = Date.now();
      const open = await sql.query<{ pid: number; xact_start: Date | null; state: string | null }>(
        `SELECT pid, xact_start, state FROM pg_stat_activity
          WHERE backend_xid IS NOT NULL AND xact_start < now() - interval '10 seconds' ORDER BY xact_start`,
      );
      log.warn(
        { waitingSeconds: Math.round((Date.now() - started) / 1000), transactions: open.rows },
        'a snapshot chunk waits for transactions open since before its low watermark to end',
      );
    }
    await sleep(WAIT_POLL_MS, signal);
  }
}
