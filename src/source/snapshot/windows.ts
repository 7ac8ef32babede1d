// The snapshot chunks between their watermarks (watermarks.ts), shared by the snapshotter, which
// reads chunks, and the stream session, which meets the watermarks in the WAL.
//
// A window is registered before its low watermark is written and gets its rows before its high
// watermark is written, so the session always finds what a watermark refers to. Between the two
// the session reports every key of the table it emits (`changed`); at the high watermark it takes
// the chunk (`take`), leaves out those keys, and emits the rest inside the watermark's transaction.
// A watermark this process did not register (another pipeline's, or one replayed from the WAL
// after a restart: its chunk is read again under new watermarks) is ignored.
import type { RelationPlan } from '../changes.js';
import type { SnapshotRow } from '../postgres/snapshot.js';
import type { Tuple } from '../pgoutput/index.js';

export interface ChunkRows {
  /** "schema.table". */
  table: string;
  plan: RelationPlan;
  rows: SnapshotRow[];
  /** Keys asked for by name (`verify --repair`) that have no row: deleted, unless changed since. */
  absent?: Tuple[];
}

interface Window {
  table: string;
  open: boolean;
  /** Canonical keys (src/event/key.ts) the stream emitted while the window was open. */
  changed: Set<string>;
  /** A TRUNCATE of the table while open: every row read may be gone. */
  truncated: boolean;
  chunk?: ChunkRows;
  /** Settled once Kafka acknowledged every event of the chunk (or the window failed). */
  settle: { resolve: (rows: number) => void; reject: (err: Error) => void };
}

/** A window the session took at its high watermark. */
export interface TakenWindow {
  chunk: ChunkRows;
  /** Keys the stream emitted while the window was open: their rows are left out. */
  changed: Set<string>;
  truncated: boolean;
  /** Kafka has every event of the chunk (`rows` of them). */
  done: (rows: number) => void;
  fail: (err: Error) => void;
}

export class ChunkWindows {
  private readonly windows = new Map<string, Window>();
  /** Windows whose chunk the session took and is emitting, until Kafka acknowledged it. */
  private readonly emitting = new Set<Window>();
  /** Open windows per table: the session's check on every event is one lookup. */
  private readonly openByTable = new Map<string, Set<Window>>();

  /** Registers a window; the promise resolves with the rows emitted once Kafka has them all. */
  register(id: string, table: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.windows.set(id, {
        table,
        open: false,
        changed: new Set(),
        truncated: false,
        settle: { resolve, reject },
      });
    });
  }

  /** The chunk's rows, read after the low watermark; set before the high one is written. */
  fill(id: string, chunk: ChunkRows): void {
    const w = this.windows.get(id);
    if (w) w.chunk = chunk;
  }

  /** The session met the low watermark. */
  opened(id: string): void {
    const w = this.windows.get(id);
    if (!w || w.open) return;
    w.open = true;
    let set = this.openByTable.get(w.table);
    if (!set) this.openByTable.set(w.table, (set = new Set()));
    set.add(w);
  }

  /** Whether the session must report keys of `table` (some window of it is open). */
  watching(table: string): boolean {
    return (this.openByTable.get(table)?.size ?? 0) > 0;
  }

  /** The session emitted (or settled) a change of `key` in `table`. */
  changed(table: string, key: string): void {
    for (const w of this.openByTable.get(table) ?? []) w.changed.add(key);
  }

  truncated(table: string): void {
    for (const w of this.openByTable.get(table) ?? []) w.truncated = true;
  }

  /**
   * The session met the high watermark: the chunk and what to leave out of it, and the window's
   * settlement. Undefined for a window this process does not know, or whose low watermark this
   * session did not see (it was registered with a session that ended since).
   */
  take(id: string): TakenWindow | undefined {
    const w = this.windows.get(id);
    if (!w || !w.open || !w.chunk) return undefined;
    this.close(id, w);
    this.emitting.add(w);
    const settled = () => this.emitting.delete(w);
    return {
      chunk: w.chunk,
      changed: w.changed,
      truncated: w.truncated,
      done: (rows) => (settled(), w.settle.resolve(rows)),
      fail: (err) => (settled(), w.settle.reject(err)),
    };
  }

  /** Fails one window (its chunk is read again); e.g. the snapshotter gave up on it. */
  fail(id: string, err: Error): void {
    const w = this.windows.get(id);
    if (!w) return;
    this.close(id, w);
    w.settle.reject(err);
  }

  /** The session ended: every window still waiting is read again under new watermarks. */
  failAll(err: Error): void {
    for (const [id, w] of [...this.windows]) {
      this.close(id, w);
      w.settle.reject(err);
    }
    for (const w of this.emitting) w.settle.reject(err);
    this.emitting.clear();
  }

  private close(id: string, w: Window): void {
    this.windows.delete(id);
    const set = this.openByTable.get(w.table);
    set?.delete(w);
    if (set && set.size === 0) this.openByTable.delete(w.table);
  }
}
