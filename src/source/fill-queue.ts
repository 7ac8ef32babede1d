// A transaction's row events waiting for their unsent columns (reselect.ts), so every event goes
// out whole and in stream order. A step that needs no read-back runs at once while nothing waits
// before it; otherwise it queues, and the queue is flushed at commit — or sooner, past
// MAX_QUEUED_ROWS or MAX_QUEUED_BYTES, so a huge transaction holds bounded memory. A flush is one
// query per table, then every queued step in order.
import type pg from 'pg';
import type { Logger } from '../shared/log.js';
import type { CellDecoders } from './changes.js';
import type { Tuple } from './pgoutput/index.js';
import { fillUnsent, type FillRequest } from './reselect.js';
import { isRowFailure } from './row-failure.js';

const MAX_QUEUED_ROWS = 1000;
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/**
 * One message's events, waiting behind a read-back so the transaction's events keep their order.
 * `fill`: the tuple whose unsent columns the read-back fills; `emit` gets the filled tuple, or
 * null when the key is gone since (reselect.ts), or undefined when nothing was read.
 */
export interface Step {
  /** Sends a failure of this row (row-failure.ts) to the dead-letter topic; none for a truncate. */
  deadLetter?: (err: Error) => Promise<void>;
  fill?: FillRequest;
  emit: (filled: Tuple | null | undefined) => Promise<void>;
  /** Called once the step is done with its message (emitted or dead-lettered). */
  done?: () => void;
}

export class FillQueue {
  private steps: Step[] = [];
  private bytes = 0;

  constructor(
    private readonly decoders: CellDecoders,
    private readonly log: Logger,
  ) {}

  /** Runs `step` now, or queues it behind the others (`tuple`: what it holds, for the bound). */
  async add(step: Step, tuple: Tuple | null, sql: pg.Client, xid: number): Promise<void> {
    if (!step.fill && this.steps.length === 0) return runStep(step, undefined);
    this.steps.push(step);
    if (tuple) this.bytes += tupleBytes(tuple);
    if (this.steps.length >= MAX_QUEUED_ROWS || this.bytes >= MAX_QUEUED_BYTES) await this.flush(sql, xid);
  }

  /**
   * Reads back the queued rows' unsent columns, then runs every queued step in order. A failed
   * query (a lost connection) throws: the session ends and replays the transaction — never a
   * partial event in place of a whole one.
   */
  async flush(sql: pg.Client, xid: number): Promise<void> {
    if (this.steps.length === 0) return;
    const steps = this.steps;
    this.steps = [];
    this.bytes = 0;
    const requests: FillRequest[] = [];
    for (const s of steps) if (s.fill) requests.push(s.fill);
    const filled = await fillUnsent(sql, this.decoders, requests, xid, (plan, err) =>
      this.log.warn(
        { table: `${plan.relation.schema}.${plan.relation.name}`, err: err.message },
        'unsent columns could not be read back (the table changed since): these updates go partial',
      ),
    );
    let n = 0;
    for (const s of steps) await runStep(s, s.fill ? filled[n++] : undefined);
  }
}

async function runStep(step: Step, filled: Tuple | null | undefined): Promise<void> {
  try {
    await step.emit(filled);
  } catch (err) {
    // A row that cannot become an event must not stop the stream (guarantee 7): it goes to the
    // dead-letter topic with its reason (row-failure.ts says which errors are a row's).
    if (!step.deadLetter || !isRowFailure(err)) throw err;
    await step.deadLetter(err);
  }
  step.done?.();
}

/** Rough bytes a queued tuple holds (for the queue's bound). */
function tupleBytes(tuple: Tuple): number {
  let n = 0;
  for (const cell of tuple)
    n += cell.kind === 'binary' ? cell.bytes.length : cell.kind === 'text' ? cell.text.length : 0;
  return n;
}
