// Many short-lived buffers carved out of a few large allocations.
//
// The source's hot path makes three buffers of ~6 KB per row (the copied pgoutput message, the
// decoded vector, the encoded event). Node gives each Buffer over 4 KB an ArrayBuffer of its own,
// and allocating and collecting 300k of those per 100k rows cost more CPU than the copies
// themselves (bench/source.ts profiles). An arena hands out views into a 1 MiB slab instead; a
// slab is freed by the garbage collector once no view into it is left, so memory stays bounded by
// what the caller keeps alive plus one slab per arena. Use one arena per kind of buffer, so that a
// long-lived view (an event waiting for Kafka) does not pin slabs full of short-lived ones.

const DEFAULT_SLAB_BYTES = 1 << 20;

export class Arena {
  private slab: Buffer;
  private used = 0;

  constructor(private readonly slabBytes = DEFAULT_SLAB_BYTES) {
    this.slab = Buffer.allocUnsafeSlow(slabBytes);
  }

  /**
   * `n` uninitialised bytes starting at an 8-byte aligned offset of their ArrayBuffer (so typed
   * arrays of any element size can view them). A request over a quarter of a slab gets an
   * allocation of its own rather than wasting the slab's tail.
   */
  alloc(n: number): Buffer {
    if (n > this.slabBytes >>> 2) return Buffer.allocUnsafeSlow(n);
    if (this.used + n > this.slab.length) this.newSlab();
    const out = this.slab.subarray(this.used, this.used + n);
    this.used = align8(this.used + n);
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
    let end = write(this.slab, this.used);
    if (end < 0) {
      const needed = this.slab.length - this.used - end;
      this.newSlab(Math.max(this.slabBytes, needed));
      end = write(this.slab, 0);
      if (end < 0) throw new Error(`Arena.write: the writer wanted ${-end} more bytes than it asked for`);
    }
    const out = this.slab.subarray(this.used, end);
    this.used = align8(end);
    return out;
  }

  private newSlab(bytes = this.slabBytes) {
    this.slab = Buffer.allocUnsafeSlow(bytes);
    this.used = 0;
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
