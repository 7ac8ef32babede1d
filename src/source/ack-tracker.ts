// Which WAL position may be reported to Postgres as flushed (DESIGN.md guarantee 1).
//
// Transactions arrive in commit order. Each is complete once its commit was received and Kafka
// acknowledged every event it produced; acknowledgements may come back in any order. The
// position to report is the commit end LSN of the newest transaction such that it and every
// transaction before it are complete — exactly that value, as the server must see it.

export interface TrackedTx {
  pending: number;
  endLsn: bigint | null;
}

export class AckTracker {
  private readonly queue: TrackedTx[] = [];
  private head = 0;
  private position: bigint;

  constructor(startLsn: bigint) {
    this.position = startLsn;
  }

  /** A transaction began; call `event` for each of its events and `commit` at its end. */
  begin(): TrackedTx {
    const tx: TrackedTx = { pending: 0, endLsn: null };
    this.queue.push(tx);
    return tx;
  }

  /** One more event of `tx` is in flight; the returned function marks it acknowledged. */
  event(tx: TrackedTx): () => void {
    tx.pending++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      tx.pending--;
    };
  }

  commit(tx: TrackedTx, endLsn: bigint): void {
    tx.endLsn = endLsn;
  }

  /** The position every change below which Kafka holds; advances over the completed prefix. */
  confirmed(): bigint {
    while (this.head < this.queue.length) {
      const tx = this.queue[this.head]!;
      if (tx.endLsn === null || tx.pending > 0) break;
      if (tx.endLsn > this.position) this.position = tx.endLsn;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return this.position;
  }

  /** True when nothing received is still waiting for Kafka (and no transaction is open). */
  idle(): boolean {
    this.confirmed();
    return this.head === this.queue.length;
  }

  /**
   * Moves the position to `lsn` when nothing is outstanding: used for keepalives and heartbeat
   * messages, so the slot advances while the captured tables are quiet. Returns whether it moved.
   */
  advanceIdle(lsn: bigint): boolean {
    if (!this.idle() || lsn <= this.position) return false;
    this.position = lsn;
    return true;
  }
}
