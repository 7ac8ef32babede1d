// Many short-lived buffers carved out of a few large allocations.
//
// The source's hot path makes three buffers of ~6 KB per row (the copied pgoutput message, the
// decoded vector, the encoded event). Node gives each Buffer over 4 KB an ArrayBuffer of its own,
// and allocating and collecting 300k of those per 100k rows cost more CPU than the copies
// themselves (bench/source.ts profiles). An arena hands out views into a 1 MiB slab instead; a
// slab is freed by the garbage collector once no view into it is left, so memory stays bounded by
// what the caller keeps alive plus one slab per arena. Use one arena per kind of buffer, so that a
// long-lived view (an event waiting for Kafka) does not pin slabs full of short-lived ones.
//
// Recycling: every new slab is memory outside V8's heap, and V8 runs a full (mark-compact)
// collection about every 64 MB of such allocations, whatever the heap holds: at ~6 KB per buffer
// that was a full collection every ~3,000 rows per arena, most of the source's GC time. An owner
// that knows when a view is no longer used (the event's bytes once Kafka stored them) gives it
// back with releaseView(); a slab all of whose views came back is reused for the next ones,
// without a new allocation. Views never given back are simply collected, as before: releasing is
// an optimisation, but releasing a view that is still read is a bug (its bytes get overwritten).
// Give back each allocation exactly once (any view into it will do: the slab is found by its
// ArrayBuffer, the count is per allocation).

const DEFAULT_SLAB_BYTES = 1 << 20;
/** Free slabs an arena keeps for reuse by default (beyond them, a freed slab is left to the collector). */
const MAX_FREE_SLABS = 8;

interface Slab {
  buf: Buffer;
  arena: Arena;
  /** Allocations in it not given back yet. */
  live: number;
}

/** Recyclable slabs by their memory (weak: a slab nobody views is collected with its entry). */
const slabs = new WeakMap<ArrayBufferLike, Slab>();

/**
 * Gives back the allocation `view` belongs to (see the header): its bytes may be overwritten from
 * now on. A view that is not from an arena's slab (an allocation of its own, any other buffer) is
 * ignored.
 */
export function releaseView(view: ArrayBufferView): void {
  const slab = slabs.get(view.buffer);
  if (slab) slab.arena.released(slab);
}

export class Arena {
  private slab: Slab;
  private used = 0;
  private readonly free: Slab[] = [];

  constructor(
    private readonly slabBytes = DEFAULT_SLAB_BYTES,
    /** Free slabs kept for reuse: about what is given back at once (a snapshot chunk's rows). */
    private readonly maxFree = MAX_FREE_SLABS,
  ) {
    this.slab = this.newSlabRecord(Buffer.allocUnsafeSlow(slabBytes));
  }

  /**
   * `n` uninitialised bytes starting at an 8-byte aligned offset of their ArrayBuffer (so typed
   * arrays of any element size can view them). A request over a quarter of a slab gets an
   * allocation of its own rather than wasting the slab's tail.
   */
  alloc(n: number): Buffer {
    if (n > this.slabBytes >>> 2) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.buf.length) this.nextSlab();
    const out = this.slab.buf.subarray(this.used, this.used + n);
    this.used = align8(this.used + n);
    this.slab.live++;
    return out;
  }

  /** A copy of `src` in the arena. */
  copy(src: Uint8Array): Buffer {
    const out = this.alloc(src.length);
    out.set(src);
    return out;
  }

  /**
   * Lets `write` fill the arena's free space in place: it gets the slab and the offset to write
   * at, and returns the end offset, or a negative number -k when it needed k more bytes; then it
   * is called once more with a slab big enough. Returns the bytes written. For encoders that
   * write into a caller's buffer (avsc's Type#encode), this saves encoding into a scratch buffer
   * and copying out.
   */
  write(write: (into: Buffer, offset: number) => number): Buffer {
    let end = write(this.slab.buf, this.used);
    if (end < 0) {
      const needed = this.slab.buf.length - this.used - end;
      this.nextSlab(needed);
      end = write(this.slab.buf, 0);
      if (end < 0) throw new Error(`Arena.write: the writer wanted ${-end} more bytes than it asked for`);
    }
    const out = this.slab.buf.subarray(this.used, end);
    this.used = align8(end);
    this.slab.live++;
    return out;
  }

  /** An allocation in `slab` came back (releaseView). */
  released(slab: Slab): void {
    if (slab.live <= 0) throw new Error('Arena: a view was given back more often than it was handed out');
    // The current slab stays current: it is reused when it is full and everything came back.
    if (--slab.live === 0 && slab !== this.slab && this.free.length < this.maxFree) this.free.push(slab);
  }

  private nextSlab(needed = 0) {
    const old = this.slab;
    if (needed <= this.slabBytes) {
      // The current one, when every view into it came back already; else a freed one.
      const reused = old.live === 0 && old.buf.length === this.slabBytes ? old : this.free.pop();
      if (reused) {
        this.slab = reused;
        this.used = 0;
        return;
      }
    }
    const bytes = Math.max(this.slabBytes, needed);
    const buf = Buffer.allocUnsafeSlow(bytes);
    // Only standard slabs are recycled (a bigger one, made for one large write, is not).
    this.slab = bytes === this.slabBytes ? this.newSlabRecord(buf) : { buf, arena: this, live: 0 };
    this.used = 0;
  }

  private newSlabRecord(buf: Buffer): Slab {
    const slab: Slab = { buf, arena: this, live: 0 };
    slabs.set(buf.buffer, slab);
    return slab;
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
