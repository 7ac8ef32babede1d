// Request-body memory for the writer: points' JSON written straight into pooled 1 MB segments.
export type Json = string | Buffer;

/** Segments of request-body memory, reused from request to request. */
const SEGMENT_BYTES = 1 << 20;
const POOL_SEGMENTS = 32;

/**
 * The memory of one request's points: their JSON is written straight into pooled segments, so a
 * 1536-dim point never becomes a 20 KB heap string. V8 promotes such strings (they outlive the
 * request's round trip) and collects them late: with them the sink's heap peaked near 130 MB
 * between major GCs, with arenas near 40 MB (bench/sink.ts). Released once the request settled.
 */
export class Arena {
  private readonly segments: Buffer[] = [];
  private used = 0;

  constructor(private readonly pool: Buffer[]) {}

  /** Writes at most `bound` bytes with `write(buffer, at) → end`; returns what it wrote. */
  write(bound: number, write: (b: Buffer, at: number) => number): Buffer {
    let seg = this.segments[this.segments.length - 1];
    if (!seg || seg.length - this.used < bound) {
      seg =
        bound <= SEGMENT_BYTES
          ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_BYTES))
          : Buffer.allocUnsafeSlow(bound);
      this.segments.push(seg);
      this.used = 0;
    }
    const start = this.used;
    this.used = write(seg, start);
    return seg.subarray(start, this.used);
  }

  /** A copy of `json` here (when it was written into another arena). */
  adopt(json: Json): Json {
    return typeof json === 'string' ? json : this.write(json.length, (b, at) => at + json.copy(b, at));
  }

  release(): void {
    for (const seg of this.segments)
      if (seg.length === SEGMENT_BYTES && this.pool.length < POOL_SEGMENTS) this.pool.push(seg);
    this.segments.length = 0;
  }
}
