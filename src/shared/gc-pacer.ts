// Full garbage collections paced by how much the process has grown since the last one.
//
// V8 runs a full (mark-compact) collection when the old generation has grown by its heap-growing
// factor, or when memory outside the heap (ArrayBuffers: every Buffer over 4 KB) has grown by
// 64 MB since the last one. vecrelay's data path is made of such buffers: COPY rows, encoded
// events, the Kafka client's request copies, Qdrant batches. Those of a batch in flight outlive two
// young-generation collections, are promoted, and only a full collection frees them. So between
// two of them the process carries up to 64 MB of dead buffers plus as much dead heap again: a
// third of the snapshot's peak RSS (bench/source.ts: 313–362 MB without pacing).
//
// The pacer samples V8's used heap plus external memory every INTERVAL_MS and starts a full
// collection once that sum grew by more than max(MIN_STEP_BYTES, LIVE_FRACTION × what was left
// after the previous one). The step grows with what is live, so a process holding a lot (a large
// transaction, a big verify batch) is not collected over and over for the same few megabytes.
// Cost: 14–17 full collections per snapshot of 100,000 rows of vector(1536) (11–13 started here)
// where V8 alone runs 9–11; within the noise of bench/source.ts's CPU figures.
//
// The collection function is V8's `gc`, which Node exposes only behind --expose-gc. The flag can
// be set at run time (v8.setFlagsFromString) and takes effect in contexts made afterwards: the
// pacer takes `gc` from a fresh vm context, so it works however the process was started (the
// bin's shebang, `node bin/vecrelay.js`, the Dockerfile, a test). Without it, nothing is paced;
// VECRELAY_GC_PACING=off turns pacing off (V8's defaults: a higher peak).
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from './log.js';

const MiB = 2 ** 20;
/** Growth of (used heap + external memory) that triggers a collection, at least. */
export const MIN_STEP_BYTES = 48 * MiB;
/** ...or this fraction of what the previous collection left, when more. */
export const LIVE_FRACTION = 0.5;
const INTERVAL_MS = 25;

/** The bytes the pacer watches: V8's used heap plus memory held by ArrayBuffers and the like. */
export function heldBytes(): number {
  const s = v8.getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

/** V8's gc extension: a full collection, blocking unless asked to run incrementally. */
export type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

/** V8's gc function, or undefined when it cannot be had. */
export function exposeGc(): Gc | undefined {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  }
}

export class GcPacer {
  /** Collections the pacer started. */
  collections = 0;
  /** Held bytes after the previous collection (or the lowest seen since: memory freed by V8's own). */
  private floor: number;

  constructor(
    private readonly collect: () => void,
    private readonly held: () => number = heldBytes,
    private readonly minStep = MIN_STEP_BYTES,
    private readonly liveFraction = LIVE_FRACTION,
  ) {
    this.floor = held();
  }

  /** One sample: collects when the process grew by more than the step. */
  check(): void {
    const now = this.held();
    if (now - this.floor > Math.max(this.minStep, this.liveFraction * this.floor)) {
      this.collect();
      this.collections++;
      this.floor = this.held();
    } else if (now < this.floor) {
      this.floor = now; // a collection ended (one started here, or V8's own)
    }
  }
}

/** Starts pacing for the life of the process (or until the returned stop); never keeps it alive. */
export function startGcPacer(log: Logger): () => void {
  if (process.env.VECRELAY_GC_PACING === 'off') {
    log.debug('VECRELAY_GC_PACING=off: full collections are left to V8');
    return () => {};
  }
  const gc = exposeGc();
  if (!gc) {
    log.debug('V8 gc not available: full collections are left to V8');
    return () => {};
  }
  // Incremental and concurrent, as V8's own full collections are: most of the marking runs beside
  // the event loop (the source's bottleneck) rather than in one pause of ~25 ms. The pacer's floor
  // follows once it is done.
  const pacer = new GcPacer(() => gc({ type: 'major', execution: 'async' }));
  const timer = setInterval(() => pacer.check(), INTERVAL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    log.debug({ collections: pacer.collections }, 'paced full collections');
  };
}
