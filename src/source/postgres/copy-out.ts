// COPY ... TO STDOUT read through pg's own protocol parser.
//
// A pg "submittable" (the interface pg.Client#query accepts besides text): pg parses the
// connection's bytes once and hands each CopyData message to handleCopyData, whose tuples the
// CopyBinaryReader copies out at once (the message is a view into pg's read buffer, reused for the
// next chunk). pg-copy-streams, used before, re-parsed the socket bytes itself, allocated a zeroed
// Buffer per row and ran a Readable stream over them: about a tenth of the snapshot's CPU.
//
// Backpressure: past HIGH_WATER_ROWS rows not yet taken by the consumer, the socket is paused
// (Postgres then blocks on its send), and resumed when the consumer takes them.
import type pg from 'pg';
import { CopyBinaryReader, type CopyRow } from './copy-binary.js';

const HIGH_WATER_ROWS = 256;

/** The parts of pg's Connection this uses (pg's typings do not export the class). */
interface PgConnection {
  query(text: string): void;
  stream: { pause(): void; resume(): void };
}

export class CopyOut implements pg.Submittable {
  private readonly reader = new CopyBinaryReader();
  private queue: CopyRow[] = [];
  private connection: PgConnection | undefined;
  private paused = false;
  private finished = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  /** `sql` is a COPY ... TO STDOUT (FORMAT binary) statement. */
  constructor(private readonly sql: string) {}

  submit(connection: unknown): void {
    this.connection = connection as PgConnection;
    this.connection.query(this.sql);
  }

  // Called by pg.Client with each message of the query, in order.
  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.error) return;
    try {
      const rows = this.reader.push(msg.chunk);
      for (const row of rows) this.queue.push(row);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.queue.length >= HIGH_WATER_ROWS && !this.paused) {
      this.paused = true;
      this.connection!.stream.pause();
    }
    this.notify();
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {
    if (!this.error && !this.reader.done) this.fail(new Error('COPY ended without its trailer'));
    this.finished = true;
    this.notify();
  }

  handleError(err: Error): void {
    this.fail(err);
  }

  /** Batches of rows as they arrive; throws the query's error. */
  async *batches(): AsyncGenerator<CopyRow[]> {
    for (;;) {
      if (this.queue.length) {
        const rows = this.queue;
        this.queue = [];
        if (this.paused) {
          this.paused = false;
          this.connection!.stream.resume();
        }
        yield rows;
        continue;
      }
      if (this.error) throw this.error;
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private fail(err: Error) {
    this.error ??= err;
    if (this.paused) {
      // Let pg read on to ReadyForQuery, so the connection stays usable (and closable).
      this.paused = false;
      this.connection?.stream.resume();
    }
    this.notify();
  }

  private notify() {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
