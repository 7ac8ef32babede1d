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
import { RelationPlan } from '../changes.js';
import { decodesBinary } from '../decode/index.js';
import type { TableInfo } from '../postgres/catalog.js';
import {
  connectClient,
  passwordSource,
  pgClientConfig,
  quoteIdent,
  quoteTable,
} from '../postgres/connect.js';
import { isFatalPgError } from '../postgres/errors.js';
import { readChunk } from '../postgres/snapshot.js';
import type { RoutedTable } from '../stream-session.js';
import { relationFromCatalog } from './catalog-relation.js';
import { emitWatermark, waitForRunningTransactions } from './watermarks.js';
import { ChunkWindows } from './windows.js';
import { Semaphore } from '../../shared/semaphore.js';
import type { Tuple } from '../pgoutput/index.js';

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
  /** Chunk reads at once, over every table and key range: snapshot.parallelism. */
  private readonly readers: Semaphore;
  private lastLog = 0;
  private readonly queue: SnapshotJob[] = [];
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: SnapshotterDeps) {
    this.readers = new Semaphore(deps.config.snapshot.parallelism);
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
   * ends, recording each chunk. A table with a single integer key and many rows is split into
   * snapshot.parallelism key ranges read at once, each with its own position in the record.
   */
  private async readTable(
    entry: { info: TableInfo; routed: RoutedTable },
    progress: { persisted: TableSnapshotState },
    key: string,
    signal: AbortSignal,
  ): Promise<void> {
    const from = progress.persisted;
    if (!from.segments && !from.keys && from.after === null) {
      const segments = await this.split(entry.info, from.where);
      if (segments) {
        progress.persisted = { ...from, segments };
        await this.deps.progress.write(key, progress.persisted);
      }
    }
    // Records are written one at a time, each the whole table's state, in the order chunks end.
    let writing: Promise<void> = Promise.resolve();
    const record = (update: (s: TableSnapshotState) => TableSnapshotState) => {
      const next = (writing = writing.then(async () => {
        const recorded = update(progress.persisted);
        crashPoint('chunk-acknowledged'); // in Kafka, not yet recorded
        await this.deps.progress.write(key, recorded);
        progress.persisted = recorded;
        crashPoint('chunk-recorded');
      }));
      return next;
    };
    const segments = progress.persisted.segments;
    if (!segments) {
      await this.readRange(
        entry,
        { after: from.after, upTo: null, where: from.where, keys: from.keys ?? null },
        signal,
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
    await Promise.all(
      segments.map((segment, i) =>
        segment.done
          ? undefined
          : this.readRange(
              entry,
              { after: segment.after, upTo: segment.upTo, where: from.where, keys: null },
              signal,
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
  }

  /** Key ranges for a big table with a single integer key; undefined to read it in one. */
  private async split(info: TableInfo, where: string | null): Promise<KeyRange[] | undefined> {
    const { config } = this.deps;
    const parts = config.snapshot.parallelism;
    const column = info.columns.find((c) => c.name === info.key[0]);
    if (parts < 2 || info.key.length !== 1 || !column || !['int2', 'int4', 'int8'].includes(column.udtName))
      return undefined;
    const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
    try {
      const k = quoteIdent(column.name);
      const { rows } = await sql.query<{ lo: string | null; hi: string | null }>(
        `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${quoteTable(info.schema, info.table)}` +
          (where ? ` WHERE (${where})` : ''),
      );
      const lo = rows[0]?.lo;
      const hi = rows[0]?.hi;
      if (lo == null || hi == null) return undefined;
      // Worth it when each range spans at least a chunk's worth of keys.
      const span = BigInt(hi) - BigInt(lo);
      if (span < BigInt(parts * config.snapshot.chunkRows)) return undefined;
      // Range i holds keys in (bound i, bound i+1]; the first has no lower bound, the last no upper.
      const bounds = Array.from({ length: parts - 1 }, (_, i) =>
        (BigInt(lo) + (span * BigInt(i + 1)) / BigInt(parts)).toString(),
      );
      return Array.from({ length: parts }, (_, i) => ({
        after: i === 0 ? null : [bounds[i - 1]!],
        upTo: i === parts - 1 ? null : [bounds[i]!],
        done: false,
      }));
    } finally {
      await sql.end().catch(() => {});
    }
  }

  /** Reads chunks of one key range until it ends; `recorded` after Kafka has each chunk. */
  private async readRange(
    entry: { info: TableInfo; routed: RoutedTable },
    range: { after: string[] | null; upTo: string[] | null; where: string | null; keys: string[][] | null },
    signal: AbortSignal,
    recorded: (lastKey: string[] | null, rows: number, last: boolean) => Promise<void>,
  ): Promise<void> {
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
      where: range.where,
      upTo: range.upTo,
    };
    const { chunkRows, chunkBytes } = config.snapshot;
    const sql = await connectClient(pgClientConfig(config), { password: passwordSource(config), config });
    try {
      // The watermarks' commits flush the WAL themselves, whatever the server's setting: the
      // walsender sends only flushed WAL, and under synchronous_commit = off the WAL writer
      // flushes a commit up to wal_writer_delay (200 ms) later — the chunk waited that long for
      // its high watermark to reach the stream (bench/source.ts: a third of the snapshot's time).
      // `local`: flushed here, without waiting for a synchronous standby. Only the order LW →
      // wait → read → HW matters to correctness (watermarks.ts), and that is unchanged.
      await sql.query(`SET synchronous_commit = local`);
      // Keys asked for by name (verify --repair) go in batches, from the first again after a
      // restart (they are few); a table or a --where range goes after the last recorded key.
      const byKey = range.keys;
      let next = 0;
      let after = byKey ? null : range.after;
      let limit = Math.min(chunkRows, FIRST_CHUNK_ROWS);
      let chain: Promise<void> = Promise.resolve();
      const ahead: Array<Promise<void>> = [];
      for (;;) {
        while (ahead.length >= CHUNKS_AHEAD) await ahead.shift();
        const id = randomUUID();
        const emitted = this.windows.register(id, table);
        emitted.catch(() => {}); // awaited through `chain`
        let chunk;
        let batch: string[][] | null = null;
        const release = await this.readers.acquire();
        try {
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'low' });
          crashPoint('chunk-low-watermark');
          await waitForRunningTransactions(sql, log, signal);
          batch = byKey?.slice(next, next + limit) ?? null;
          chunk = await readChunk(sql, { ...query, after, limit, keys: batch });
          const absent = batch ? missingKeys(plan, batch, chunk.keys) : [];
          this.windows.fill(id, { table, plan, rows: chunk.rows, absent });
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'high' });
          crashPoint('chunk-high-watermark');
        } catch (err) {
          this.windows.fail(id, err as Error);
          throw err;
        } finally {
          release();
        }
        const { lastKey, bytes } = chunk;
        const rows = chunk.rows.length;
        // Fewer rows than asked for: the range ends here. Rows added since (keys after the last
        // one) committed after this chunk's low watermark: the stream carries them.
        const last = batch ? next + batch.length >= byKey!.length : rows < limit;
        if (batch) next += batch.length;
        if (rows > 0) {
          // Next chunk sized by bytes as well as rows: wide rows make smaller chunks.
          limit = Math.max(1, Math.min(chunkRows, Math.floor((chunkBytes * rows) / Math.max(bytes, 1))));
          after = lastKey;
        }
        chain = chain
          .then(() => emitted)
          .then(async (sent) => {
            if (rows === 0 && !batch && !range.upTo) return; // the end of the table: the caller records "done"
            await recorded(rows > 0 ? lastKey : null, rows, last);
            metrics.snapshotRows.inc({ kind: 'published' }, sent);
            if (Date.now() - this.lastLog > PROGRESS_LOG_MS) {
              this.lastLog = Date.now();
              log.info({ table, rows: sent, estimatedRows: info.estimatedRows }, 'snapshot progress');
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

interface KeyRange {
  after: string[] | null;
  upTo: string[] | null;
  done: boolean;
}

/** Where a job's progress is recorded: its table's key, or its resync request's. */
function stateKey(job: SnapshotJob, info: TableInfo): string {
  return job.reason === 'resync' && job.request
    ? resyncStateKey(job.request)
    : snapshotStateKey(info.schema, info.table);
}

/** Key-only tuples (the rest NULL) of the keys in `asked` that `found` lacks. */
function missingKeys(plan: RelationPlan, asked: string[][], found: string[][]): Tuple[] {
  const have = new Set(found.map((k) => JSON.stringify(k)));
  const columns = plan.relation.columns;
  return asked
    .filter((k) => !have.has(JSON.stringify(k)))
    .map((k) => {
      const tuple: Tuple = columns.map(() => ({ kind: 'null' }) as const);
      plan.keyIndexes.forEach((index, i) => (tuple[index] = { kind: 'text', text: k[i]! }));
      return tuple;
    });
}

/** An error of the statement itself (syntax, unknown column, bad value: SQLSTATE classes 42, 22). */
function isStatementError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('42') || code.startsWith('22'));
}
