// Reading a Qdrant collection back (the stack's test server, or a real Qdrant via QDRANT_URL).
import { stackEnv } from './stack.js';

export interface StoredPoint {
  id: number | string;
  vector: number[] | Record<string, unknown> | undefined;
  payload: Record<string, unknown>;
}

export async function qdrantRequest<T>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; result: T }> {
  const env = stackEnv();
  const res = await fetch(`${env.qdrantUrl}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(env.qdrantApiKey ? { 'api-key': env.qdrantApiKey } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { result: T };
  return { status: res.status, result: json.result };
}

/** Every point of a collection (ids ascending), with payload and vectors; [] when it does not exist. */
export async function scrollAll(collection: string): Promise<StoredPoint[]> {
  const out: StoredPoint[] = [];
  let offset: unknown = null;
  do {
    const { status, result } = await qdrantRequest<{ points: StoredPoint[]; next_page_offset: unknown }>(
      'POST',
      `/collections/${collection}/points/scroll`,
      { limit: 1000, offset, with_payload: true, with_vector: true },
    );
    if (status === 404) return [];
    out.push(...result.points);
    offset = result.next_page_offset;
  } while (offset !== null && offset !== undefined);
  return out;
}

/** Exact number of points in a collection (0 when it does not exist). */
export async function pointCount(collection: string): Promise<number> {
  const { status, result } = await qdrantRequest<{ count: number }>(
    'POST',
    `/collections/${collection}/points/count`,
    { exact: true },
  );
  return status === 200 ? result.count : 0;
}

export async function dropCollection(collection: string): Promise<void> {
  await qdrantRequest('DELETE', `/collections/${collection}`).catch(() => {});
}

/** v / ‖v‖, as Qdrant stores Cosine vectors. */
export function normalise(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm === 0 ? v.map(() => 0) : v.map((x) => x / norm);
}

export function closeTo(a: number[], b: number[], tolerance = 1e-5): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= tolerance);
}
