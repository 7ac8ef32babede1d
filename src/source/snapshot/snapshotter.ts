// Chunked, online snapshots (DESIGN.md "Snapshot"): the stream runs all along; each table is read
// in key order, one chunk at a time between two watermarks (watermarks.ts), and the stream session
// emits each chunk at its high watermark (windows.ts). Several tables are read at once, up to
// snapshot.parallelism.
//
// Progress (src/event/snapshot-state.ts) is written to the state topic once Kafka acknowledged a
// chunk's events, in chunk order. A restart resumes after the last recorded key: at worst a chunk
// is read again (its rows replace themselves; they are read under new watermarks, so never older
// than what the stream emitted). The slot is never dropped and keeps advancing: changes made
// while vecrelay was down arrive through it, and no WAL is held for the snapshot's sake.
import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import {
  snapshotStateKey,
  type SnapshotReason,
  type TableSnapshotState,
} from '../../event/snapshot-state.js';
import { backoffDelay, sleep } from '../../shared/backoff.js';
import type { Logger } from '../../shared/log.js';
import { metrics } from '../../shared/metrics.js';
import { RESTART_BACKOFF } from '../../shared/retry.js';
import { crashPoint } from '../../shared/crash-point.js';
import { RelationPlan } from '../changes.js';
import { decodesBinary } from '../decode/index.js';
import type { TableInfo } from '../postgres/catalog.js';
import { connectClient, passwordSource, pgClientConfig } from '../postgres/connect.js';
import { isFatalPgError } from '../postgres/errors.js';
import { readChunk } from '../postgres/snapshot.js';
import type { RoutedTable } from '../stream-session.js';
import { relationFromCatalog } from './catalog-relation.js';
import { emitWatermark, waitForRunningTransactions } from './watermarks.js';
import { ChunkWindows } from './windows.js';

/** Where progress records go (the pipeline's state topic). */
export interface ProgressStore {
  write(key: string, value: TableSnapshotState): Promise<void>;
}

export interface SnapshotJob {
  table: string;
  reason: SnapshotReason;
  where: string | null;
  request?: string;
  /** A record left by an earlier run of this job: resume after its key. */
  resume?: TableSnapshotState;
}

export interface SnapshotterDeps {
  config: LoadedConfig;
  log: Logger;
  tables: Array<{ info: TableInfo; routed: RoutedTable }>;
  progress: ProgressStore;
  /** A table's initial snapshot started or completed (the sink bulk-loads in between). */
  onStatus?: (table: string, status: 'running' | 'done') => Promise<void>;
}

/** Chunks start small, to learn the row size, then grow to snapshot.chunkRows / chunkBytes. */
const FIRST_CHUNK_ROWS = 1000;
/** Chunks of one table read ahead while earlier ones wait for Kafka: bounds memory. */
const CHUNKS_AHEAD = 2;
const PROGRESS_LOG_MS = 5000;

export class Snapshotter {
  readonly windows = new ChunkWindows();
  private readonly queue: SnapshotJob[] = [];
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: SnapshotterDeps) {}

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
    await this.deps.progress.write(snapshotStateKey(entry.info.schema, entry.info.table), state);
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
    const key = snapshotStateKey(info.schema, info.table);
    const bulk = job.reason !== 'resync';
    if (!job.resume) await this.deps.progress.write(key, persisted);
    crashPoint('snapshot-recorded');
    if (bulk) await this.deps.onStatus?.(job.table, 'running');
    log.info(
      {
        table: job.table,
        reason: job.reason,
        after: persisted.after ?? undefined,
        where: job.where ?? undefined,
      },
      persisted.after ? 'snapshot of table resumes' : 'snapshot of table starts',
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
          if (job.reason !== 'resync') throw err;
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

  /** Reads chunks after `progress.persisted.after` until the table ends, recording each. */
  private async readTable(
    entry: { info: TableInfo; routed: RoutedTable },
    progress: { persisted: TableSnapshotState },
    key: string,
    signal: AbortSignal,
  ): Promise<void> {
    const from = progress.persisted;
    const { config, log } = this.deps;
    const { info, routed } = entry;
    const table = `${info.schema}.${info.table}`;
    const plan = new RelationPlan(relationFromCatalog(info), routed.table);
    const types = new Map(info.columns.map((c) => [c.name, c.typeName]));
    const query = {
      schema: info.schema,
      table: info.table,
      columns: info.columns.map((c) => c.name),
      textColumns: new Set(info.columns.filter((c) => !decodesBinary(c.udtName)).map((c) => c.name)),
      key: info.key.map((name) => ({ name, type: types.get(name)! })),
      where: from.where,
    };
    const { chunkRows, chunkBytes } = config.snapshot;
    const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
    let lastLog = Date.now();
    try {
      // The watermarks' commits flush the WAL themselves, whatever the server's setting: the
      // walsender sends only flushed WAL, and under synchronous_commit = off the WAL writer
      // flushes a commit up to wal_writer_delay (200 ms) later — the chunk waited that long for
      // its high watermark to reach the stream (bench/source.ts: a third of the snapshot's time).
      // `local`: flushed here, without waiting for a synchronous standby. Only the order LW →
      // wait → read → HW matters to correctness (watermarks.ts), and that is unchanged.
      await sql.query(`SET synchronous_commit = local`);
      let after = from.after;
      let limit = Math.min(chunkRows, FIRST_CHUNK_ROWS);
      let chain: Promise<void> = Promise.resolve();
      const ahead: Array<Promise<void>> = [];
      for (;;) {
        while (ahead.length >= CHUNKS_AHEAD) await ahead.shift();
        const id = randomUUID();
        const emitted = this.windows.register(id, table);
        emitted.catch(() => {}); // awaited through `chain`
        let chunk;
        try {
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'low' });
          crashPoint('chunk-low-watermark');
          await waitForRunningTransactions(sql, log, signal);
          chunk = await readChunk(sql, { ...query, after, limit });
          this.windows.fill(id, { table, plan, rows: chunk.rows });
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'high' });
          crashPoint('chunk-high-watermark');
        } catch (err) {
          this.windows.fail(id, err as Error);
          throw err;
        }
        const { lastKey, bytes } = chunk;
        const rows = chunk.rows.length;
        // Fewer rows than asked for: the table ends here. Rows added since (keys after the last
        // one) committed after this chunk's low watermark: the stream carries them.
        const last = rows < limit;
        if (rows > 0) {
          // Next chunk sized by bytes as well as rows: wide rows make smaller chunks.
          limit = Math.max(1, Math.min(chunkRows, Math.floor((chunkBytes * rows) / Math.max(bytes, 1))));
          after = lastKey;
        }
        chain = chain
          .then(() => emitted)
          .then(async (sent) => {
            if (rows === 0) return; // the end of the table: the caller records "done"
            const recorded = {
              ...progress.persisted,
              after: lastKey,
              rows: progress.persisted.rows + rows,
              chunks: progress.persisted.chunks + 1,
              updatedAt: new Date().toISOString(),
            };
            crashPoint('chunk-acknowledged'); // in Kafka, not yet recorded
            await this.deps.progress.write(key, recorded);
            progress.persisted = recorded;
            crashPoint('chunk-recorded');
            metrics.snapshotRows.inc({ kind: 'published' }, sent);
            if (Date.now() - lastLog > PROGRESS_LOG_MS) {
              lastLog = Date.now();
              log.info(
                { table, rows: recorded.rows, estimatedRows: info.estimatedRows, chunks: recorded.chunks },
                'snapshot progress',
              );
            }
          });
        const settled = chain.then(() => {});
        settled.catch(() => {}); // surfaced by the awaits below
        ahead.push(settled);
        if (last) break;
      }
      await chain;
    } finally {
      await sql.end().catch(() => {});
    }
  }
}

/** An error of the statement itself (syntax, unknown column, bad value: SQLSTATE classes 42, 22). */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('42') || code.startsWith('22'));
}
