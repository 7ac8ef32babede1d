// Chunked, online snapshots (DESIGN.md "Snapshot"): the stream runs all along; each table is read
// in key order, chunk by chunk between two watermarks (range-reader.ts, watermarks.ts), and the
// stream session emits each chunk at its high watermark (windows.ts). Jobs — a table's first
// snapshot, a resync — run beside each other, a big table in key ranges (key-ranges.ts); at most
// snapshot.parallelism chunk reads at once.
//
// Progress (src/event/snapshot-state.ts) is written to the state topic once Kafka acknowledged a
// chunk's events, in chunk order. A restart resumes after the last recorded key: at worst a chunk
// is read again (its rows replace themselves; they are read under new watermarks, so never older
// than what the stream emitted). The slot is never dropped and keeps advancing: changes made
// while vecrelay was down arrive through it, and no WAL is held for the snapshot's sake.
import type { LoadedConfig } from '../../config/load.js';
import {
  resyncStateKey,
  snapshotStateKey,
  type SnapshotReason,
  type TableSnapshotState,
} from '../../event/snapshot-state.js';
import { backoffDelay, sleep } from '../../shared/backoff.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { metrics } from '../../shared/metrics.js';
import { RESTART_BACKOFF } from '../../shared/retry.js';
import { crashPoint } from '../../shared/crash-point.js';
import type { TableInfo } from '../postgres/catalog.js';
import { isFatalPgError } from '../postgres/errors.js';
import type { CapturedTable } from '../stream-session.js';
import { ChunkWindows } from './windows.js';
import { Semaphore } from '../../shared/semaphore.js';
import { keyRanges } from './key-ranges.js';
import { RangeReader, type ReadRange, type Recorded } from './range-reader.js';

/** Where progress records go (the pipeline's state topic). */
export interface ProgressStore {
  write(key: string, value: TableSnapshotState): Promise<void>;
}

export interface SnapshotJob {
  table: string;
  reason: SnapshotReason;
  where: string | null;
  /** Only these keys (verify --repair); a key with no row is deleted. */
  keys?: string[][];
  request?: string;
  /** A record left by an earlier run of this job: resume after its key. */
  resume?: TableSnapshotState;
}

export interface SnapshotterDeps {
  config: LoadedConfig;
  log: Logger;
  tables: Array<{ info: TableInfo; routed: CapturedTable }>;
  progress: ProgressStore;
  /** A table's initial snapshot started or completed (the sink bulk-loads in between). */
  onStatus?: (table: string, status: 'running' | 'done') => Promise<void>;
}

const PROGRESS_LOG_MS = 5000;

export class Snapshotter {
  readonly windows = new ChunkWindows();
  private readonly reader: RangeReader;
  private lastLog = 0;
  private readonly queue: SnapshotJob[] = [];
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: SnapshotterDeps) {
    const { parallelism } = deps.config.snapshot;
    const readers = new Semaphore(parallelism);
    // One chunk more than are read at once: each reader reads its next chunk while the session
    // emits its last one.
    const held = new Semaphore(parallelism + 1);
    this.reader = new RangeReader({
      config: deps.config,
      log: deps.log,
      windows: this.windows,
      readers,
      held,
    });
  }

  /** Queues a table (after any job of it already queued or running). */
  enqueue(job: SnapshotJob): void {
    this.queue.push(job);
    this.wake?.();
  }

  /**
   * A `vecrelay resync` request met in the stream: recorded before the stream confirms past it
   * (so a crash cannot lose it), then queued.
   */
  async request(job: SnapshotJob): Promise<void> {
    const entry = this.entry(job.table);
    if (!entry) {
      this.deps.log.warn(
        { table: job.table },
        'resync requested for a table this pipeline does not capture: ignored',
      );
      return;
    }
    const state = this.newState(job);
    await this.deps.progress.write(stateKey(job, entry.info), state);
    this.deps.log.info({ table: job.table, where: job.where ?? undefined }, 'resync requested');
    this.enqueue({ ...job, resume: state });
  }

  private entry(table: string) {
    return this.deps.tables.find((t) => `${t.info.schema}.${t.info.table}` === table);
  }

  private newState(job: SnapshotJob): TableSnapshotState {
    const now = new Date().toISOString();
    return {
      table: job.table,
      status: 'running',
      reason: job.reason,
      after: null,
      where: job.where,
      ...(job.keys ? { keys: job.keys } : {}),
      rows: 0,
      chunks: 0,
      startedAt: now,
      updatedAt: now,
      ...(job.request ? { request: job.request } : {}),
    };
  }

  /** Resolves once nothing is queued or running (initial_only waits for it). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Runs jobs as they come, up to snapshot.parallelism at once, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const parallelism = this.deps.config.snapshot.parallelism;
    const running = new Set<Promise<void>>();
    let failure: unknown;
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    while (!signal.aborted && failure === undefined) {
      const next = this.queue.findIndex((j) => !this.busy.has(j.table));
      if (next >= 0 && running.size < parallelism) {
        const job = this.queue.splice(next, 1)[0]!;
        this.busy.add(job.table);
        this.active++;
        const task = this.runJob(job, signal)
          .catch((err: unknown) => {
            if (!signal.aborted) failure ??= err;
          })
          .finally(() => {
            this.busy.delete(job.table);
            this.active--;
            running.delete(task);
            this.wake?.();
          });
        running.add(task);
        continue;
      }
      if (this.queue.length === 0 && this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
      await Promise.race([new Promise<void>((resolve) => (this.wake = resolve)), stopped]);
      this.wake = undefined;
    }
    await Promise.allSettled(running);
    this.windows.failAll(new Error('the snapshot stopped'));
    if (failure !== undefined && !signal.aborted) throw failure;
  }

  private async runJob(job: SnapshotJob, signal: AbortSignal): Promise<void> {
    const { log } = this.deps;
    const entry = this.entry(job.table);
    if (!entry) {
      log.warn({ table: job.table }, 'not a configured table: nothing to snapshot');
      return;
    }
    const { info } = entry;
    // What the state topic holds, updated by readTable chunk by chunk: a retry resumes there.
    const progress = { persisted: job.resume ?? this.newState(job) };
    let persisted = progress.persisted;
    const key = stateKey(job, info);
    const bulk = job.reason !== 'resync';
    if (!job.resume) await this.deps.progress.write(key, persisted);
    crashPoint('snapshot-recorded');
    if (bulk) await this.deps.onStatus?.(job.table, 'running');
    log.info(
      {
        table: job.table,
        reason: job.reason,
        after: persisted.after ?? undefined,
        rows: persisted.rows,
        ranges: persisted.segments?.map((r) => r.after?.[0] ?? null),
        where: job.where ?? undefined,
      },
      persisted.after || persisted.rows > 0 ? 'snapshot of table resumes' : 'snapshot of table starts',
    );
    const started = Date.now();
    let attempt = 0;
    for (;;) {
      try {
        await this.readTable(entry, progress, key, signal);
        persisted = progress.persisted;
        break;
      } catch (err) {
        persisted = progress.persisted;
        if (signal.aborted) return;
        if (isFatalPgError(err)) throw err;
        if (isStatementError(err)) {
          // Retrying the same statement cannot help. A resync's own condition (--where) is the
          // likely cause: that request ends here; an initial snapshot stops the source.
          if (job.reason !== 'resync')
            throw new ConfigError(
              `the snapshot of ${job.table} cannot be read: ${(err as Error).message} ` +
                `(SQLSTATE ${(err as { code?: string }).code}); fix the table or leave it out of tables[]`,
              { cause: err },
            );
          log.error(
            { table: job.table, where: job.where ?? undefined, err },
            'resync failed: request dropped',
          );
          await this.deps.progress.write(key, {
            ...persisted,
            status: 'done',
            error: (err as Error).message,
            updatedAt: new Date().toISOString(),
          });
          return;
        }
        // A session that ended, a server restarting: resume after the last recorded chunk.
        const delayMs = backoffDelay(attempt++, RESTART_BACKOFF);
        log.debug({ table: job.table, err, delayMs }, 'snapshot chunk failed');
        await sleep(delayMs, signal).catch(() => {});
        if (signal.aborted) return;
        log.info(
          { table: job.table, after: persisted.after ?? undefined, rows: persisted.rows },
          'snapshot of table resumes after its last recorded chunk',
        );
      }
    }
    const done = { ...persisted, status: 'done' as const, updatedAt: new Date().toISOString() };
    await this.deps.progress.write(key, done);
    crashPoint('table-done');
    if (bulk) await this.deps.onStatus?.(job.table, 'done');
    log.info(
      { table: job.table, rows: done.rows, chunks: done.chunks, seconds: (Date.now() - started) / 1000 },
      'snapshot of table done',
    );
  }

  /**
   * Reads the table (or its --where rows, or its --keys) after the recorded position until it
   * ends, recording each chunk. A table with many rows is split into snapshot.parallelism key
   * ranges read at once, each with its own position in the record.
   */
  private async readTable(
    entry: { info: TableInfo; routed: CapturedTable },
    progress: { persisted: TableSnapshotState },
    key: string,
    signal: AbortSignal,
  ): Promise<void> {
    const from = progress.persisted;
    if (!from.segments && !from.keys && from.after === null) {
      const segments = await keyRanges(this.deps.config, entry.info, from.where);
      if (segments) {
        progress.persisted = { ...from, segments };
        await this.deps.progress.write(key, progress.persisted);
      }
    }
    // Records are written one at a time, each the whole table's state, in the order chunks end.
    let writing: Promise<void> = Promise.resolve();
    const record = (update: (s: TableSnapshotState) => TableSnapshotState) => {
      const next = (writing = writing.then(async () => {
        const before = progress.persisted;
        const recorded = update(before);
        crashPoint('chunk-acknowledged'); // in Kafka, not yet recorded
        await this.deps.progress.write(key, recorded);
        progress.persisted = recorded;
        crashPoint('chunk-recorded');
        metrics.snapshotRows.inc({ kind: 'published' }, recorded.rows - before.rows);
        if (Date.now() - this.lastLog > PROGRESS_LOG_MS) {
          this.lastLog = Date.now();
          this.deps.log.info(
            {
              table: recorded.table,
              rows: recorded.rows,
              chunks: recorded.chunks,
              estimatedRows: entry.info.estimatedRows,
            },
            'snapshot progress',
          );
        }
      }));
      return next;
    };
    // One attempt's readers end together: the first that fails stops the others, and the attempt
    // ends only once none of them reads and every record it queued is written. Otherwise a
    // reader of the failed attempt, or a record of it held up in Kafka (a broker restarting),
    // lands after the next attempt's records and puts an older state back — its positions, its
    // counts, even "running" after "done" (snapshot-kafka-restart.test.ts saw that).
    const attempt = new AbortController();
    const stop = () => attempt.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    const read = (range: ReadRange, recorded: Recorded) =>
      this.reader.read(entry, range, attempt.signal, recorded).catch((err: unknown) => {
        attempt.abort(err);
        throw err;
      });
    try {
      const segments = progress.persisted.segments;
      if (!segments) {
        await read(
          { after: from.after, upTo: null, where: from.where, keys: from.keys ?? null },
          (lastKey, rows) =>
            record((s) => ({
              ...s,
              after: from.keys ? null : lastKey,
              rows: s.rows + rows,
              chunks: s.chunks + 1,
              updatedAt: new Date().toISOString(),
            })),
        );
        return;
      }
      const reads = await Promise.allSettled(
        segments.map((segment, i) =>
          segment.done
            ? undefined
            : read(
                { after: segment.after, upTo: segment.upTo, where: from.where, keys: null },
                (lastKey, rows, last) =>
                  record((s) => {
                    const all = [...s.segments!];
                    all[i] = { ...all[i]!, after: lastKey ?? all[i]!.after, done: last };
                    return {
                      ...s,
                      segments: all,
                      rows: s.rows + rows,
                      chunks: s.chunks + 1,
                      updatedAt: new Date().toISOString(),
                    };
                  }),
              ),
        ),
      );
      const failed = reads.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      signal.removeEventListener('abort', stop);
      await writing.catch(() => {}); // a failed record failed its reader: thrown above
    }
  }
}

/** Where a job's progress is recorded: its table's key, or its resync request's. */
function stateKey(job: SnapshotJob, info: TableInfo): string {
  return job.reason === 'resync' && job.request
    ? resyncStateKey(job.request)
    : snapshotStateKey(info.schema, info.table);
}

/** An error of the statement itself (syntax, unknown column, bad value: SQLSTATE classes 42, 22). */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('42') || code.startsWith('22'));
}
