// The sampled top-k: for each sample row and each dense vector of the collection, the k nearest
// rows by exact kNN in Postgres (pgvector, the operator of the collection's distance, index scans
// off so no approximate index answers) against Qdrant's exact search (`params.exact`) — the same
// points expected — and against Qdrant's HNSW search, as applications will query it after the
// flip: recall@k = |HNSW ∩ exact| / k, averaged over the samples.
//
// All samples of a vector are answered together (knn.ts): one snapshot, one scan of the table
// computing every sample's distances, one request of Qdrant searches — not a full scan each.
//
// Like rows (settle.ts), a sample that differs is asked again when a point involved changed since
// the Postgres snapshot (`_vecrelay_lsn` ≥ the position before it) or is missing: the writes in
// flight move neighbours in and out. Distances equal within float rounding (Postgres sums in its
// own order, Qdrant in SIMD lanes) may order ties either way: a difference among neighbours at the
// k-th distance is a tie, not a divergence.
import type { ColumnValue } from '../../event/change-event.js';
import type { Distance } from '../../sink/qdrant/collections.js';
import { pointIdJson, pointIdOf } from '../../sink/qdrant/point-id.js';
import { LSN_FIELD, vectorJson } from '../../sink/qdrant/points.js';
import { quoteIdent } from '../../source/postgres/connect.js';
import { walInsertLsn } from './applied.js';
import type { TableContext } from './context.js';
import { nearestMany, type KnnColumn } from './knn.js';
import { answeredId, type NearestQuery, type QdrantPoint } from './qdrant.js';
import { literal, pgText as pgTextOf, type TableRow } from './rows.js';
import { awaitPipeline, lastChange, rowIdJson } from './settle.js';

export interface TopKResult {
  /** Mean recall@k of Qdrant's HNSW search against the exact kNN; null without a sample. */
  recallAtK: number | null;
  /** Every compared sample had the same k nearest in Postgres and in Qdrant's exact search. */
  exactTopKIdentical: boolean | null;
  samples: number;
  /** Samples that kept changing under writes (not compared). */
  skipped: number;
  /** Samples whose exact top-k differs: the sample's key, the vector, and ids on one side only. */
  differing: Array<{
    key: Record<string, ColumnValue>;
    vector: string;
    onlyPostgres: string[];
    onlyQdrant: string[];
  }>;
}

const OPERATOR: Record<Distance, string> = { Cosine: '<=>', Euclid: '<->', Dot: '<#>', Manhattan: '<+>' };

/** A Qdrant score as the pgvector operator's distance. */
const distanceOf = (distance: Distance, score: number): number =>
  distance === 'Cosine' ? 1 - score : distance === 'Dot' ? -score : score;

const ATTEMPTS = 3;

type Answers = [exact: QdrantPoint[], hnsw: QdrantPoint[]];

/** One sample's answers, from one Postgres snapshot. */
interface Pass {
  key: Record<string, ColumnValue>;
  /** The WAL insert position before the snapshot, and the one read in it. */
  since: bigint;
  position: bigint;
  /** The k nearest rows in Postgres, nearest first, with their distance. */
  nearest: Array<{ row: TableRow; distance: number }>;
  answers: Answers;
  /** Asks Qdrant again (both searches). */
  search: () => Promise<Answers>;
}

/**
 * Every sample of `keys` answered in one REPEATABLE READ snapshot: the samples' vectors, one scan
 * of the table for all their kNN (knn.ts), and meanwhile one batch of Qdrant searches (exact and
 * HNSW for each). A sample whose row is gone or whose vector is NULL now has no pass.
 */
async function passes(
  ctx: TableContext,
  keys: Array<Record<string, ColumnValue>>,
  name: string,
  col: KnnColumn,
  expr: string,
  k: number,
): Promise<Map<Record<string, ColumnValue>, Pass>> {
  const using = ctx.mapping.layout.unnamed ? '' : name;
  const searches = (vectorJson: string): NearestQuery[] => [
    { vectorJson, using, limit: k, exact: true, withPayload: [LSN_FIELD] },
    { vectorJson, using, limit: k, exact: false, withPayload: [] },
  ];
  const out = new Map<Record<string, ColumnValue>, Pass>();
  const since = await walInsertLsn(ctx.pipeline.sql);
  const { reader, data } = ctx.knn;
  await data.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const position = await walInsertLsn(data);
    const list = keys.map((key) => reader.keyLiteral(reader.keyNames.map((n) => pgTextOf(key[n]!))));
    // The samples' vectors: as events (what Qdrant is asked with, as the sink writes it) and as
    // Postgres prints them (what the scan is asked with: it reads back exactly).
    const sampled = await reader.rows(`WHERE ${reader.keyTuple} IN (${list.join(', ')})`, [expr]);
    const byId = new Map(
      sampled.map((r) => [pointIdJson(pointIdOf(ctx.descriptor, ctx.namespace, r.key).id), r]),
    );
    const asked: Array<{ key: Record<string, ColumnValue>; json: string; text: string }> = [];
    for (const key of keys) {
      const row = byId.get(pointIdJson(pointIdOf(ctx.descriptor, ctx.namespace, key).id));
      const vector = row?.event?.vectors[name];
      const text = row?.extras[0];
      if (vector?.kind === 'dense' && text) asked.push({ key, json: vectorJson(vector), text });
    }
    if (asked.length) {
      // Qdrant searches while Postgres scans: both are full scans of their side.
      const searched = ctx.qdrant.nearestBatch(asked.flatMap((a) => searches(a.json)));
      searched.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
      await data.query('SET LOCAL enable_indexscan = off');
      await data.query('SET LOCAL enable_bitmapscan = off');
      const found = await nearestMany(
        data,
        reader.from,
        col,
        asked.map((a) => a.text),
        k,
      );
      const tids = [...new Set(found.flat().map((n) => n.tid))];
      const rows = tids.length
        ? await reader.rows(`WHERE ctid IN (${tids.map((t) => `${literal(t)}::tid`).join(', ')})`, ['ctid'])
        : [];
      const byTid = new Map(rows.map((r) => [r.extras[0]!, r]));
      const answers = await searched;
      asked.forEach((a, i) => {
        const search = async () => {
          const [exact, hnsw] = await ctx.qdrant.nearestBatch(searches(a.json));
          return [exact!, hnsw!] as Answers;
        };
        out.set(a.key, {
          key: a.key,
          since,
          position,
          nearest: found[i]!.map((n) => ({ row: byTid.get(n.tid)!, distance: n.distance })),
          answers: [answers[2 * i]!, answers[2 * i + 1]!],
          search,
        });
      });
    }
    await data.query('COMMIT');
  } catch (err) {
    await data.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return out;
}

export async function sampledTopK(
  ctx: TableContext,
  samples: Array<Record<string, ColumnValue>>,
  k: number,
): Promise<TopKResult> {
  const result: TopKResult = {
    recallAtK: null,
    exactTopKIdentical: null,
    samples: 0,
    skipped: 0,
    differing: [],
  };
  const recalls: number[] = [];
  const { layout } = ctx.mapping;
  if (samples.length === 0) return result;
  for (const name of layout.dense) {
    const params = ctx.params.get(layout.unnamed ? '' : name);
    const column = ctx.descriptor.vectors.find((v) => v.name === name);
    if (!params || !column) continue;
    const isArray = column.kind === 'float4[]' || column.kind === 'float8[]';
    const col: KnnColumn = {
      column: quoteIdent(name),
      type: column.kind === 'halfvec' ? 'halfvec' : 'vector',
      isArray,
      op: OPERATOR[params.distance],
    };
    // Arrays configured as vectors have no pgvector operators: as vector.
    const expr = isArray ? `${col.column}::vector` : col.column;
    const first = await passes(ctx, samples, name, col, expr, k);
    for (const key of samples) {
      let pass = first.get(key);
      for (let attempt = 0; pass;) {
        if (!(await compare(ctx, result, recalls, pass, name, params.distance, attempt))) break;
        if (++attempt >= ATTEMPTS) break;
        // Asked again, alone, from a new snapshot.
        pass = (await passes(ctx, [key], name, col, expr, k)).get(key);
      }
    }
  }
  if (result.samples) result.exactTopKIdentical = result.differing.length === 0;
  if (recalls.length) result.recallAtK = recalls.reduce((a, b) => a + b, 0) / recalls.length;
  return result;
}

/**
 * One sample's answers compared (and counted in `result`); true when it must be asked again from
 * a new snapshot (a point involved changed meanwhile).
 */
async function compare(
  ctx: TableContext,
  result: TopKResult,
  recalls: number[],
  pass: Pass,
  name: string,
  distance: Distance,
  attempt: number,
): Promise<boolean> {
  const { nearest, key, since } = pass;
  const pgIds = nearest.map((n) => rowIdJson(ctx, n.row));
  const pgDistance = new Map(nearest.map((n, i) => [pgIds[i]!, n.distance]));
  const ids = (points: QdrantPoint[]) => points.map((p) => pointIdJson(answeredId(p.id)));
  // Compared at once, as rows are (table.ts): only answers that differ wait for the pipeline
  // to apply past the snapshot, and are asked again.
  let [exact, hnsw] = pass.answers;
  let exactIds = ids(exact);
  if (exactIds.length !== pgIds.length || pgIds.some((id) => !exactIds.includes(id))) {
    await awaitPipeline(ctx, pass.position);
    [exact, hnsw] = await pass.search();
    exactIds = ids(exact);
  }
  const onlyQdrant = exact.filter((_, i) => !pgDistance.has(exactIds[i]!));
  const onlyPostgres = pgIds.filter((id) => !exactIds.includes(id));
  if (onlyQdrant.length || onlyPostgres.length) {
    // In flight: a point that changed since the snapshot, on either side.
    const others = await ctx.qdrant.retrieve(
      nearest
        .filter((_, i) => onlyPostgres.includes(pgIds[i]!))
        .map((n) => pointIdOf(ctx.descriptor, ctx.namespace, n.row.key).id),
      false,
      [LSN_FIELD],
    );
    const changed =
      onlyQdrant.some((p) => lastChange(p) >= since) ||
      others.length < onlyPostgres.length ||
      others.some((p) => lastChange(p) >= since);
    if (changed && attempt < ATTEMPTS - 1) return true;
    if (changed) {
      result.skipped++;
      return false;
    }
    const kth = Math.max(...pgDistance.values());
    const tol = 1e-5 * Math.max(1, Math.abs(kth)) + 1e-6;
    const tie =
      onlyQdrant.every((p) => Math.abs(distanceOf(distance, Number(p.score)) - kth) <= tol) &&
      onlyPostgres.every((id) => Math.abs(pgDistance.get(id)! - kth) <= tol) &&
      exact.length === nearest.length;
    if (!tie && ctx.state.behind) {
      result.skipped++; // the pipeline is behind: cannot tell a divergence from a lag
      return false;
    }
    if (!tie)
      result.differing.push({
        key,
        vector: name,
        onlyPostgres,
        onlyQdrant: onlyQdrant.map((p) => pointIdJson(answeredId(p.id))),
      });
  }
  result.samples++;
  const truth = new Set(pgIds);
  if (truth.size)
    recalls.push(hnsw.filter((p) => truth.has(pointIdJson(answeredId(p.id)))).length / truth.size);
  return false;
}
