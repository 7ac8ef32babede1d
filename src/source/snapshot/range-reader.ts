// Reads one key range of a table chunk by chunk between watermarks (watermarks.ts): register the
// window, low watermark, wait for running transactions, read, hand the rows to the window, high
// watermark; the stream session emits the chunk (windows.ts). The next chunk is read while the
// previous waits for Kafka (at most CHUNKS_AHEAD per range, and `held` over all ranges, in memory);
// `recorded` is called in chunk order, once Kafka has a chunk, for the caller to write its progress.
import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../../config/load.js';
import type { Logger } from '../../shared/log.js';
import { crashPoint } from '../../shared/crash-point.js';
import type { Semaphore } from '../../shared/semaphore.js';
import { RelationPlan } from '../changes.js';
import { decodesBinary } from '../decode/index.js';
import type { Tuple } from '../pgoutput/index.js';
import type { TableInfo } from '../postgres/catalog.js';
import { connectClient, passwordSource, pgClientConfig } from '../postgres/connect.js';
import { readChunk } from '../postgres/snapshot.js';
import type { CapturedTable } from '../stream-session.js';
import { relationFromCatalog } from './catalog-relation.js';
import { emitWatermark, waitForRunningTransactions } from './watermarks.js';
import type { ChunkWindows } from './windows.js';

/** Chunks start small, to learn the row size, then grow to snapshot.chunkRows / chunkBytes. */
const FIRST_CHUNK_ROWS = 1000;
/** Chunks of one range read ahead while earlier ones wait for Kafka: bounds memory. */
const CHUNKS_AHEAD = 2;

export interface RangeReaderDeps {
  config: LoadedConfig;
  log: Logger;
  windows: ChunkWindows;
  /** Chunk reads at once, over every table and range: snapshot.parallelism. */
  readers: Semaphore;
  /**
   * Chunks in memory at once, over every table and range, from their read until Kafka has their
   * events: what bounds the snapshot's memory (about this many times snapshot.chunkBytes).
   */
  held: Semaphore;
}

export interface ReadRange {
  after: string[] | null;
  upTo: string[] | null;
  where: string | null;
  /** Only these keys (verify --repair): read in batches; a key with no row becomes a delete. */
  keys: string[][] | null;
}

/** Called in chunk order once Kafka has a chunk, for the caller to write its progress. */
export type Recorded = (lastKey: string[] | null, rows: number, last: boolean) => Promise<void>;

export class RangeReader {
  constructor(private readonly deps: RangeReaderDeps) {}

  /**
   * Reads chunks of one key range until it ends (or `signal` aborts: it throws then);
   * `recorded` after Kafka has each chunk. Settles only once no `recorded` call can follow.
   */
  async read(
    entry: { info: TableInfo; routed: CapturedTable },
    range: ReadRange,
    signal: AbortSignal,
    recorded: Recorded,
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
    // The chunks' progress records, in chunk order, each behind its chunk's acknowledgement.
    let chain: Promise<void> = Promise.resolve();
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
      const ahead: Array<Promise<void>> = [];
      for (;;) {
        while (ahead.length >= CHUNKS_AHEAD) await ahead.shift();
        signal.throwIfAborted();
        // Held from before its read until Kafka has its events (or its window failed).
        const unhold = await this.deps.held.acquire();
        const id = randomUUID();
        const emitted = this.deps.windows.register(id, table);
        emitted.then(unhold, unhold); // and awaited through `chain`
        let chunk;
        let batch: string[][] | null = null;
        const release = await this.deps.readers.acquire();
        try {
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'low' });
          crashPoint('chunk-low-watermark');
          await waitForRunningTransactions(sql, log, signal);
          batch = byKey?.slice(next, next + limit) ?? null;
          chunk = await readChunk(sql, { ...query, after, limit, keys: batch });
          const absent = batch ? missingKeys(plan, batch, chunk.keys) : [];
          this.deps.windows.fill(id, { table, plan, rows: chunk.rows, absent });
          await emitWatermark(sql, { pipeline: config.name, window: id, kind: 'high' });
          crashPoint('chunk-high-watermark');
        } catch (err) {
          this.deps.windows.fail(id, err as Error);
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
          .then(async () => {
            if (rows === 0 && !batch && !range.upTo) return; // the end of the table: the caller records "done"
            await recorded(rows > 0 ? lastKey : null, rows, last);
          });
        // What bounds the read-ahead is memory: the session gives a chunk's rows back as it
        // encodes them, and their events once Kafka stored them (src/shared/arena.ts). So the
        // next reads wait for that, not for the progress record, written behind it in chunk
        // order (`chain`) — an earlier record that failed stops them as well.
        const freed = Promise.race([emitted.then(() => {}), chain]);
        freed.catch(() => {}); // surfaced by the awaits below
        ahead.push(freed);
        if (last) break;
      }
      await chain;
    } finally {
      // Failed or stopped: the chunks already read still settle (Kafka has them or their session
      // ended), and their records are written in order before this returns — never after.
      await chain.catch(() => {});
      await sql.end().catch(() => {});
    }
  }
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
