// Full garbage collections paced by how much the process has grown since the last one.
//
// V8 runs a full (mark-compact) collection when the old generation has grown by its heap-growing
// factor, or when memory outside the heap (ArrayBuffers: every Buffer over 4 KB) has grown by
// 64 MB since the last one. vecrelay's data path is made of such buffers: COPY rows, encoded
// events, the Kafka client's request copies, Qdrant batches. Those of a batch in flight outlive two
// young-generation collections, are promoted, and only a full collection frees them. So between
// two of them the process carries up to 64 MB of dead buffers plus as much dead heap again: a
// third of the snapshot's peak RSS (bench/source.ts: 299–334 MB without pacing).
//
// The pacer samples V8's used heap plus external memory every INTERVAL_MS and runs a full
// collection once that sum grew by more than max(MIN_STEP_BYTES, LIVE_FRACTION × what was left
// after the previous one). The step grows with what is live, so a process holding a lot (a large
// transaction, a big verify batch) is not collected over and over for the same few megabytes.
// The commands that read Postgres pace (source, run, verify): their peaks are what it bounds, for
// CPU within the noise of bench/source.ts. The sink does not: its peak stays under 300 MB with
// V8's schedule, and pacing it cost about a quarter more CPU (bench/sink.ts).
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
/** Growth since the previous collection that triggers one, at least. */
export const MIN_STEP_BYTES = 48 * MiB;
/** ...or this fraction of what the previous collection left, when more. */
export const LIVE_FRACTION = 0.5;
const INTERVAL_MS = 25;

/** The bytes the pacer watches: V8's used heap plus memory held by ArrayBuffers and the like. */
export function heldBytes(): number {
  const s = v8.getHeapStatistics();
  return s.used_heap_size + s.external_memory;
}

/** V8's full collection, or undefined when it cannot be had. */
export function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

export interface PacerLimits {
  minStep: number;
  liveFraction: number;
}

const LIMITS: PacerLimits = { minStep: MIN_STEP_BYTES, liveFraction: LIVE_FRACTION };

export class GcPacer {
  /** Held bytes after the previous collection (or the lowest seen since: V8's own collections). */
  private floor: number;

  constructor(
    private readonly collect: () => void,
    private readonly held: () => number = heldBytes,
    private readonly limits: PacerLimits = LIMITS,
  ) {
    this.floor = held();
  }

  /** One sample: collects when the process grew by more than the step. */
  check(): void {
    const now = this.held();
    const { minStep, liveFraction } = this.limits;
    if (now - this.floor > Math.max(minStep, liveFraction * this.floor)) {
      this.collect();
      this.floor = this.held();
    } else if (now < this.floor) {
      this.floor = now; // V8 collected by itself
    }
  }
}

/** Paces full collections for the rest of the process's life; never keeps it alive. */
export function paceCollections(log: Logger): void {
  if (process.env.VECRELAY_GC_PACING === 'off') {
    log.debug('VECRELAY_GC_PACING=off: full collections are left to V8');
    return;
  }
  const gc = exposeGc();
  if (!gc) {
    log.debug('V8 gc not available: full collections are left to V8');
    return;
  }
  const pacer = new GcPacer(gc);
  setInterval(() => pacer.check(), INTERVAL_MS).unref();
}
