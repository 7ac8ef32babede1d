// The sampled top-k: for each sample row and each dense vector of the collection, the k nearest
// rows by exact kNN in Postgres (pgvector, the operator of the collection's distance, index scans
// off so no approximate index answers) against Qdrant's exact search (`params.exact`) — the same
// points expected — and against Qdrant's HNSW search, as applications will query it after the
// flip: recall@k = |HNSW ∩ exact| / k, averaged over the samples.
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
import { answeredId, type QdrantPoint } from './qdrant.js';
import { pgText as pgTextOf, type TableRow } from './rows.js';
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
  for (const name of layout.dense) {
    const params = ctx.params.get(layout.unnamed ? '' : name);
    const column = ctx.descriptor.vectors.find((v) => v.name === name);
    if (!params || !column) continue;
    const col = quoteIdent(name);
    // Arrays configured as vectors have no pgvector operators: as vector.
    const expr = column.kind === 'float4[]' || column.kind === 'float8[]' ? `${col}::vector` : col;
    const op = OPERATOR[params.distance];
    for (const key of samples) {
      const keyLit = ctx.reader.keyLiteral(ctx.reader.keyNames.map((n) => pgTextOf(key[n]!)));
      const query = `(SELECT ${expr} FROM ${ctx.reader.from} WHERE ${ctx.reader.keyTuple} = ${keyLit})`;
      let done = false;
      for (let attempt = 0; attempt < ATTEMPTS && !done; attempt++) {
        const since = await walInsertLsn(ctx.pipeline.sql);
        const using = layout.unnamed ? '' : name;
        let search: (() => Promise<[QdrantPoint[], QdrantPoint[]]>) | undefined;
        let searched: Promise<[QdrantPoint[], QdrantPoint[]]> | undefined;
        let nearest: TableRow[] = [];
        let position: bigint;
        await ctx.data.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          position = await walInsertLsn(ctx.data);
          await ctx.data.query('SET LOCAL enable_indexscan = off');
          await ctx.data.query('SET LOCAL enable_bitmapscan = off');
          const [sample] = await ctx.reader.byKeys([key]);
          const vector = sample?.event?.vectors[name];
          if (vector?.kind === 'dense') {
            const text = vectorJson(vector);
            search = () =>
              Promise.all([
                ctx.qdrant.nearest(text, using, k, true, [LSN_FIELD]),
                ctx.qdrant.nearest(text, using, k, false, []),
              ]);
            // Qdrant searches while Postgres scans: both are full scans of their side.
            searched = search();
            searched.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
            nearest = await ctx.reader.rows(
              `WHERE ${col} IS NOT NULL ORDER BY ${expr} ${op} ${query} LIMIT ${k}`,
              [`${expr} ${op} ${query}`],
            );
          }
          await ctx.data.query('COMMIT');
        } catch (err) {
          await ctx.data.query('ROLLBACK').catch(() => {});
          throw err;
        }
        if (!search || !searched) {
          done = true; // the row is gone, or its vector NULL now: nothing to compare
          continue;
        }
        const pgIds = nearest.map((r) => rowIdJson(ctx, r));
        const pgDistance = new Map(nearest.map((r, i) => [pgIds[i]!, Number(r.extras[0])]));
        const ids = (points: QdrantPoint[]) => points.map((p) => pointIdJson(answeredId(p.id)));
        // Compared at once, as rows are (table.ts): only answers that differ wait for the pipeline
        // to apply past the snapshot, and are asked again.
        let [exact, hnsw] = await searched;
        let exactIds = ids(exact);
        if (exactIds.length !== pgIds.length || pgIds.some((id) => !exactIds.includes(id))) {
          await awaitPipeline(ctx, position);
          [exact, hnsw] = await search();
          exactIds = ids(exact);
        }
        const onlyQdrant = exact.filter((_, i) => !pgDistance.has(exactIds[i]!));
        const onlyPostgres = pgIds.filter((id) => !exactIds.includes(id));
        if (onlyQdrant.length || onlyPostgres.length) {
          // In flight: a point that changed since the snapshot, on either side.
          const others = await ctx.qdrant.retrieve(
            nearest
              .filter((_, i) => onlyPostgres.includes(pgIds[i]!))
              .map((r) => pointIdOf(ctx.descriptor, ctx.namespace, r.key).id),
            false,
            [LSN_FIELD],
          );
          const changed =
            onlyQdrant.some((p) => lastChange(p) >= since) ||
            others.length < onlyPostgres.length ||
            others.some((p) => lastChange(p) >= since);
          if (changed && attempt < ATTEMPTS - 1) continue;
          if (changed) {
            result.skipped++;
            done = true;
            continue;
          }
          const kth = Math.max(...pgDistance.values());
          const tol = 1e-5 * Math.max(1, Math.abs(kth)) + 1e-6;
          const tie =
            onlyQdrant.every((p) => Math.abs(distanceOf(params.distance, Number(p.score)) - kth) <= tol) &&
            onlyPostgres.every((id) => Math.abs(pgDistance.get(id)! - kth) <= tol) &&
            exact.length === nearest.length;
          if (!tie && ctx.state.behind) {
            result.skipped++; // the pipeline is behind: cannot tell a divergence from a lag
            done = true;
            continue;
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
        done = true;
      }
    }
  }
  if (result.samples) result.exactTopKIdentical = result.differing.length === 0;
  if (recalls.length) result.recallAtK = recalls.reduce((a, b) => a + b, 0) / recalls.length;
  return result;
}
