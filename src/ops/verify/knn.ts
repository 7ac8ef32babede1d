// Exact kNN in Postgres for many query vectors in ONE scan of the table: pgvector's own operator
// computes every query's distance to every row, and the k nearest of each query are kept here in
// a bounded heap (k entries a query, whatever the table's size). No index answers: it is a plain
// sequential scan, so the answer is exact.
//
// Why one scan: a vector of more than ~500 dimensions is stored out of line (TOAST), and fetching
// it back is most of a kNN's cost (about 5 µs a row for 1536 dimensions, the distance under 1 µs).
// Postgres fetches it again for every operator that reads the column — `v <=> $1, v <=> $2`
// fetches it twice — so the vector is read once in a subquery kept apart by OFFSET 0 (the planner
// does not merge it into the outer query), as `v + 0` (pgvector's addition: a copy in memory, x +
// 0 = x for every float), and the outer query's operators read that copy.
//
// Ties: rows at the same distance may be kept in any order, as `ORDER BY … LIMIT k` would; the
// caller treats differences at the k-th distance as ties (topk.ts).
import type pg from 'pg';
import { CopyOut } from '../../source/postgres/copy-out.js';

export interface KnnColumn {
  /** The column, quoted. */
  column: string;
  /** The pgvector type the distances are computed in (float arrays as `vector`). */
  type: 'vector' | 'halfvec';
  /** Whether the column is a float array (cast to vector: that cast already makes a copy). */
  isArray: boolean;
  /** The pgvector operator of the collection's distance. */
  op: string;
}

export interface Neighbour {
  /** The row's ctid, as text: valid within the snapshot the scan ran in. */
  tid: string;
  distance: number;
}

/** Larger first (the root is the farthest kept); NaN (a zero vector's cosine) sorts last. */
const farther = (a: number, b: number): boolean => (Number.isNaN(a) ? !Number.isNaN(b) : a > b);

/** A bounded max-heap of the k nearest. */
class Nearest {
  private readonly d: number[] = [];
  private readonly t: Array<[number, number]> = [];

  constructor(private readonly k: number) {}

  /** Whether a row at `distance` would be kept (cheap: most rows are not). */
  wants(distance: number): boolean {
    return this.d.length < this.k || farther(this.d[0]!, distance);
  }

  push(distance: number, tid: [number, number]): void {
    const { d, t } = this;
    if (d.length < this.k) {
      d.push(distance);
      t.push(tid);
      for (let i = d.length - 1; i > 0;) {
        const up = (i - 1) >> 1;
        if (!farther(d[i]!, d[up]!)) break;
        this.swap(i, up);
        i = up;
      }
      return;
    }
    d[0] = distance;
    t[0] = tid;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < d.length && farther(d[l]!, d[top]!)) top = l;
      if (r < d.length && farther(d[r]!, d[top]!)) top = r;
      if (top === i) break;
      this.swap(i, top);
      i = top;
    }
  }

  private swap(i: number, j: number) {
    [this.d[i], this.d[j]] = [this.d[j]!, this.d[i]!];
    [this.t[i], this.t[j]] = [this.t[j]!, this.t[i]!];
  }

  /** Nearest first. */
  sorted(): Neighbour[] {
    return this.d
      .map((distance, i) => ({ distance, tid: `(${this.t[i]![0]},${this.t[i]![1]})` }))
      .sort((a, b) => (farther(a.distance, b.distance) ? 1 : farther(b.distance, a.distance) ? -1 : 0));
  }
}

/**
 * The k nearest rows of `from` to each query (its vector as Postgres text, as `vector_out`
 * prints it, so it reads back exactly), as of the client's current transaction. Rows whose
 * column is NULL are not candidates.
 */
export async function nearestMany(
  client: pg.Client,
  from: string,
  col: KnnColumn,
  queries: string[],
  k: number,
): Promise<Neighbour[][]> {
  if (queries.length === 0) return [];
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'::${col.type}`;
  // The dimension of the zero added: the queries' (a row of another dimension cannot be compared
  // with them anyway: pgvector refuses it, as it would in ORDER BY).
  const dims = queries[0]!.split(',').length;
  const once = col.isArray
    ? `${col.column}::vector`
    : `${col.column} + array_fill(0::real, ARRAY[${dims}])::vector::${col.type}`;
  const distances = queries.map((q) => `v ${col.op} ${literal(q)}`).join(', ');
  const copy = client.query(
    new CopyOut(
      `COPY (SELECT t, ${distances} FROM (SELECT ctid AS t, ${once} AS v FROM ${from} ` +
        `WHERE ${col.column} IS NOT NULL OFFSET 0) s) TO STDOUT (FORMAT binary)`,
    ),
  );
  const heaps = queries.map(() => new Nearest(k));
  for await (const batch of copy.batches())
    for (const row of batch) {
      const tid = row[0]!;
      if (tid.kind === 'null') continue;
      let at: [number, number] | undefined;
      for (let q = 0; q < heaps.length; q++) {
        const cell = row[q + 1]!;
        // float8 in network order; NULL only when the operator returns it (never for pgvector's).
        const distance = cell.kind === 'null' ? NaN : cell.bytes.readDoubleBE(0);
        if (!heaps[q]!.wants(distance)) continue;
        at ??= [tid.bytes.readUInt32BE(0), tid.bytes.readUInt16BE(4)];
        heaps[q]!.push(distance, at);
      }
    }
  return heaps.map((h) => h.sorted());
}
