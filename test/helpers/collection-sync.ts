// Is a collection in sync with its table, or with another collection? The comparisons, as lists
// of differences (empty: in sync) so that a wait that times out can say what was still off.
import { closeTo, normalise, type StoredPoint } from './qdrant.js';
import { waitFor } from './stack.js';

/** A row of the sink tests' items table (sink-pipeline.ts). */
export interface Row {
  id: number;
  title: string;
  n: number | null;
  embedding: number[] | null;
}

/** Differences between the table and the collection (Cosine: stored vectors are normalised). */
export function differences(rows: Row[], points: StoredPoint[]): string[] {
  const byId = new Map(points.map((p) => [Number(p.id), p]));
  const out: string[] = [];
  if (points.length !== rows.length) out.push(`${rows.length} rows vs ${points.length} points`);
  for (const r of rows) {
    const p = byId.get(r.id);
    if (!p) {
      out.push(`row ${r.id} missing`);
      continue;
    }
    if (p.payload.title !== r.title) out.push(`row ${r.id}: title ${String(p.payload.title)} ≠ ${r.title}`);
    if ((p.payload.n ?? null) !== r.n) out.push(`row ${r.id}: n ${String(p.payload.n)} ≠ ${r.n}`);
    if (r.embedding && !(Array.isArray(p.vector) && closeTo(p.vector, normalise(r.embedding))))
      out.push(`row ${r.id}: vector differs`);
  }
  return out.slice(0, 10);
}

/** Differences between two collections: ids, payloads (all of it) and vectors. */
export function collectionDifferences(a: StoredPoint[], b: StoredPoint[]): string[] {
  const out: string[] = [];
  if (a.length !== b.length) out.push(`${a.length} points vs ${b.length} points`);
  const byId = new Map(b.map((p) => [String(p.id), p]));
  for (const pa of a) {
    const pb = byId.get(String(pa.id));
    if (!pb) {
      out.push(`point ${pa.id} missing`);
      continue;
    }
    if (JSON.stringify(sortKeys(pa.payload)) !== JSON.stringify(sortKeys(pb.payload)))
      out.push(`point ${pa.id}: payload ${JSON.stringify(pa.payload)} ≠ ${JSON.stringify(pb.payload)}`);
    if (!(Array.isArray(pa.vector) && Array.isArray(pb.vector) && closeTo(pa.vector, pb.vector)))
      out.push(`point ${pa.id}: vector differs`);
  }
  return out.slice(0, 10);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** Polls `differences` until it finds none; a timeout's error lists the last ones found. */
export async function waitInSync(
  what: string,
  differences: () => Promise<string[]>,
  timeoutMs = 90_000,
): Promise<void> {
  let last: string[] = [];
  await waitFor(
    what,
    async () => {
      last = await differences();
      return last.length === 0;
    },
    { timeoutMs, intervalMs: 300 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${last.join('; ')}`);
  });
}
