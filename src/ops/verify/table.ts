// One table against its collection, in bounded memory at any size:
//   1. the rows in key order, a chunk at a time, each chunk's points fetched by id and compared
//      (compare.ts): a missing or differing point is a candidate;
//   2. the collection scrolled in id order, a page at a time, each page's ids looked up in
//      Postgres by key: a point with no row is a candidate;
//   3. candidates are settled in batches (settle.ts) — rechecked once the pipeline has applied
//      what their reading saw — and only the ones that still differ are reported;
//   4. the sampled top-k (topk.ts) on rows drawn uniformly at the start, run beside 1-3 on a
//      connection of its own.
// Memory: two chunks of rows and their points, two pages of ids (the next ones are read ahead), at
// most SETTLE_BATCH candidates, the samples, and the keys reported (capped at MAX_LISTED per kind;
// the counts stay exact).
import type { ColumnValue } from '../../event/change-event.js';
import { canonicalKey, parseCanonicalKey } from '../../event/key.js';
import { metrics } from '../../shared/metrics.js';
import { KEY_FIELD, pointIdJson, pointIdOf, type PointId } from '../../sink/qdrant/point-id.js';
import type { TableContext } from './context.js';
import { answeredId, type QdrantPoint } from './qdrant.js';
import type { TableRow } from './rows.js';
import { judge, rowIdJson, settle, type Candidate, type Divergence } from './settle.js';
import { sampledTopK, type TopKResult } from './topk.js';

export interface VerifyOptions {
  chunkSize: number;
  sample: number;
  topK: number;
}

export interface TableReport {
  collection: string;
  rows: number;
  points: number;
  /** Keys of rows with no point. */
  missing: unknown[];
  /** Ids of points with no row. */
  extra: unknown[];
  /** Keys of rows whose point differs. */
  mismatched: unknown[];
  nullVectorViolations: number;
  recallAtK: number | null;
  exactTopKIdentical: boolean | null;
  /** Exact counts (the lists stop at MAX_LISTED). */
  counts: { missing: number; extra: number; mismatched: number };
  /** What differs, per mismatched row (the first MAX_LISTED). */
  details: Array<{ key: unknown; problems: string[] }>;
  topK: Omit<TopKResult, 'recallAtK' | 'exactTopKIdentical' | 'differing'> & {
    k: number;
    differing: Array<{ key: unknown; vector: string; onlyPostgres: string[]; onlyQdrant: string[] }>;
  };
  /** Keys found different while reading (changes in flight, or divergent), and so rechecked. */
  rechecked: number;
  /** Keys that kept changing through every recheck (not reported as divergent). */
  unsettled: number;
  /**
   * Keys that differed while the pipeline was behind (pipelineBehind): not named as divergent,
   * but the table is not proven equal either.
   */
  notApplied: number;
  /** Set when the pipeline did not catch up in time: rows were then compared without waiting. */
  pipelineBehind?: string[];
  /** The WAL insert position the verify started at. */
  startLsn: string;
  /** Why the table could not be compared at all (e.g. no collection). */
  error?: string;
}

export const MAX_LISTED = 10_000;
const SETTLE_BATCH = 512;
/**
 * Points a page of the id scroll (pass 2): ids and the key payload only, a few hundred KB. Fewer
 * round trips than a chunk of rows a page; and a test server filters its whole collection for
 * each page.
 */
const ID_PAGE = 2048;

/** A key as JSON: the value of a one-column key, else the list of values in key order. */
export function keyJson(keyNames: string[], key: Record<string, ColumnValue>): unknown {
  const values = JSON.parse(canonicalKey(keyNames, key), (_k, v: unknown, ctx?: { source?: string }) =>
    typeof v === 'number' && !Number.isSafeInteger(v) && ctx?.source && /^-?\d+$/.test(ctx.source)
      ? ctx.source
      : v,
  ) as unknown[];
  return values.length === 1 ? values[0] : values;
}

/** A point id as JSON: integers as numbers while exact, else as text; uuids as text. */
export const idOut = (id: PointId): unknown =>
  typeof id === 'bigint' ? (id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id.toString()) : id;

/** The row key a point stands for, when its id is the one the sink gives that key. */
function keyOfPoint(ctx: TableContext, point: QdrantPoint): Record<string, ColumnValue> | undefined {
  const id = answeredId(point.id);
  let key: Record<string, ColumnValue> | undefined;
  const stored = point.payload?.[KEY_FIELD];
  const columns = ctx.descriptor.key;
  try {
    if (typeof stored === 'string') key = parseCanonicalKey(columns, stored);
    else if (
      columns.length === 1 &&
      typeof id === 'bigint' &&
      ['int2', 'int4', 'int8'].includes(columns[0]!.type)
    )
      key = { [columns[0]!.name]: id };
    else if (columns.length === 1 && typeof id === 'string' && columns[0]!.type === 'uuid')
      key = { [columns[0]!.name]: { kind: 'uuid', uuid: id } };
  } catch {
    return undefined; // not a key of this table
  }
  if (!key) return undefined;
  return pointIdJson(pointIdOf(ctx.descriptor, ctx.namespace, key).id) === pointIdJson(id) ? key : undefined;
}

/** Divergences as they are found: exact counts, the first MAX_LISTED of each kind kept. */
class Findings {
  readonly counts = { missing: 0, extra: 0, mismatched: 0 };
  nullVectors = 0;
  /** By point id, in the order found; a key found twice (in both passes) counts once. */
  readonly listed = new Map<string, Divergence>();
  private readonly listedOf = { missing: 0, extra: 0, mismatched: 0 };

  add(d: Divergence): void {
    if (this.listed.has(d.idJson)) return;
    this.counts[d.kind]++;
    if (d.problems.some((p) => p.kind === 'null-vector')) this.nullVectors++;
    if (this.listedOf[d.kind] >= MAX_LISTED) return;
    this.listedOf[d.kind]++;
    this.listed.set(d.idJson, d);
  }

  has(idJson: string): boolean {
    return this.listed.has(idJson);
  }
}

export async function verifyTable(
  ctx: TableContext,
  options: VerifyOptions,
  startLsn: string,
  progress: (done: number) => void,
): Promise<{ report: TableReport; keys: Array<Record<string, ColumnValue>> }> {
  const found = new Findings();
  let candidates = new Map<string, Candidate>();
  const flush = async (force = false) => {
    if (!candidates.size || (!force && candidates.size < SETTLE_BATCH)) return;
    const batch = candidates;
    candidates = new Map();
    for (const d of await settle(ctx, batch)) found.add(d);
  };
  // 4. (first, as it runs beside the rest) The sampled top-k on rows drawn uniformly, on the
  // connection of its own: Postgres and Qdrant scan for it while the rows are compared.
  const samples = await ctx.knn.reader.sampleKeys(ctx.mapping.layout.dense, options.sample);
  const topKDone = sampledTopK(ctx, samples, options.topK);
  topKDone.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const checked = metrics.verifyRows.labels({ table: ctx.table, side: 'postgres' });

  // 1. Rows in key order. The next chunk is read, and its points fetched, while this one is
  // compared, so Postgres, Qdrant and the comparison work at once; the connection queues its
  // queries, so a settle round's transaction starts after that read.
  let rows = 0;
  type Chunk = { rows: TableRow[]; points: Promise<QdrantPoint[]> };
  const read = (after: string[] | null): Promise<Chunk> => {
    const next = ctx.reader.chunk(after, options.chunkSize).then((chunk) => {
      const ids = chunk.map((r) => pointIdOf(ctx.descriptor, ctx.namespace, r.key).id);
      const points = ctx.qdrant.retrieve(ids, true);
      points.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      return { rows: chunk, points };
    });
    next.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    return next;
  };
  for (let next = read(null); ;) {
    ctx.signal?.throwIfAborted();
    const { rows: chunk, points: fetched } = await next;
    if (!chunk.length) break;
    next = read(chunk.at(-1)!.keyText);
    rows += chunk.length;
    const points = new Map((await fetched).map((p) => [pointIdJson(answeredId(p.id)), p]));
    for (const row of chunk) {
      const idJson = rowIdJson(ctx, row);
      if (judge(ctx, idJson, row, points.get(idJson)))
        candidates.set(idJson, { id: pointIdOf(ctx.descriptor, ctx.namespace, row.key).id, key: row.key });
    }
    checked.inc(chunk.length);
    progress(rows);
    await flush();
  }
  await flush(true);

  // 2. Points in id order: those with no row.
  let pointCount = 0;
  const scanned = metrics.verifyRows.labels({ table: ctx.table, side: 'qdrant' });
  const scroll = (offset: PointId | null) => {
    const page = ctx.qdrant.scroll(offset, Math.max(options.chunkSize, ID_PAGE), [KEY_FIELD]);
    page.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    return page;
  };
  for (let next = scroll(null); ;) {
    ctx.signal?.throwIfAborted();
    const page = await next;
    // The next page is read while this one's keys are looked up in Postgres.
    if (page.next !== null) next = scroll(page.next);
    pointCount += page.points.length;
    const keyed: Array<{ point: QdrantPoint; key: Record<string, ColumnValue> }> = [];
    for (const point of page.points) {
      const key = keyOfPoint(ctx, point);
      const id = answeredId(point.id);
      // A point whose id no key of this table maps to: no write of the pipeline made it.
      if (!key)
        found.add({
          kind: 'extra',
          idJson: pointIdJson(id),
          id,
          key: undefined,
          problems: [],
        });
      else keyed.push({ point, key });
    }
    const present = new Set(
      (await ctx.reader.existing(keyed.map((k) => k.key))).map((r) => rowIdJson(ctx, r)),
    );
    for (const { point, key } of keyed) {
      const idJson = pointIdJson(answeredId(point.id));
      if (!present.has(idJson) && !found.has(idJson))
        candidates.set(idJson, { id: answeredId(point.id), key });
    }
    scanned.inc(page.points.length);
    progress(rows + pointCount);
    await flush();
    if (page.next === null) break;
  }
  await flush(true);

  const topK = await topKDone;

  const keyOut = (key: Record<string, ColumnValue>) => keyJson(ctx.reader.keyNames, key);
  const report: TableReport = {
    collection: ctx.qdrant.collection,
    rows,
    points: pointCount,
    missing: [],
    extra: [],
    mismatched: [],
    nullVectorViolations: found.nullVectors,
    recallAtK: topK.recallAtK,
    exactTopKIdentical: topK.exactTopKIdentical,
    counts: found.counts,
    details: [],
    topK: {
      k: options.topK,
      samples: topK.samples,
      skipped: topK.skipped,
      differing: topK.differing.map((d) => ({ ...d, key: keyOut(d.key) })),
    },
    rechecked: ctx.state.rechecked,
    unsettled: ctx.state.unsettled,
    notApplied: ctx.state.notApplied,
    ...(ctx.state.behind ? { pipelineBehind: ctx.state.behind } : {}),
    startLsn,
  };
  /** The divergent rows' keys, for a resync (repair.ts). */
  const keys: Array<Record<string, ColumnValue>> = [];
  for (const d of found.listed.values()) {
    if (d.key) keys.push(d.key);
    report[d.kind].push(d.kind === 'extra' || !d.key ? idOut(d.id) : keyOut(d.key));
    if (d.kind === 'mismatched')
      report.details.push({ key: keyOut(d.key!), problems: d.problems.map((p) => p.detail) });
  }
  for (const kind of ['missing', 'extra', 'mismatched'] as const)
    metrics.verifyDivergent.set({ table: ctx.table, kind }, report.counts[kind]);
  metrics.verifyDivergent.set({ table: ctx.table, kind: 'null_vector' }, report.nullVectorViolations);
  if (report.recallAtK !== null) metrics.verifyRecall.set({ table: ctx.table }, report.recallAtK);
  return { report, keys };
}

/** Whether the table equals its collection (top-k included). */
export const tableOk = (t: TableReport): boolean =>
  !t.error &&
  t.counts.missing === 0 &&
  t.counts.extra === 0 &&
  t.counts.mismatched === 0 &&
  t.notApplied === 0 &&
  t.exactTopKIdentical !== false;
