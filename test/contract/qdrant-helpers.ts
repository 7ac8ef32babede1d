// Shared pieces of the Qdrant contract suites: the client, raw HTTP (for status codes, headers and
// exact body text), and per-test collections that are dropped afterwards, so the suites can run
// against a shared real Qdrant (QDRANT_URL / QDRANT_API_KEY) as well as the bundled test server.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import { stackEnv, uniqueName } from '../helpers/stack.js';

export const env = stackEnv();

export function qdrantClient(): QdrantClient {
  return new QdrantClient({ url: env.qdrantUrl, apiKey: env.qdrantApiKey, checkCompatibility: false });
}

export type PointIdJson = number | string;

export interface ErrorStatus {
  error: string;
}

export interface Envelope<T> {
  result?: T;
  status: 'ok' | ErrorStatus;
  time: number;
}

export interface RawResponse<T> {
  status: number;
  headers: Headers;
  text: string;
  body: Envelope<T>;
}

/**
 * One HTTP call to the Qdrant under test (or `target`). A string body is sent as is (for exact
 * JSON text).
 */
export async function raw<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  target: { url: string; apiKey: string | undefined } = { url: env.qdrantUrl, apiKey: env.qdrantApiKey },
): Promise<RawResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (target.apiKey) headers['api-key'] = target.apiKey;
  const res = await fetch(`${target.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Envelope<T>;
  try {
    parsed = JSON.parse(text) as Envelope<T>;
  } catch {
    parsed = { status: { error: `(not JSON) ${text.slice(0, 200)}` }, time: 0 };
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** The `result` of a 200 answer; fails the test with the body otherwise. */
export async function ok<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await raw<T>(method, path, body);
  assert.equal(res.status, 200, `${method} ${path} → ${res.status} ${res.text.slice(0, 500)}`);
  assert.equal(res.body.status, 'ok');
  return res.body.result as T;
}

/** Asserts Qdrant's error envelope with one of `statuses` and a message starting with one of `prefixes`. */
export function assertError(
  res: RawResponse<unknown>,
  statuses: number | number[],
  prefixes: string | string[],
): string {
  const wanted = ([] as number[]).concat(statuses);
  assert.ok(wanted.includes(res.status), `expected HTTP ${wanted.join('/')}, got ${res.status}: ${res.text}`);
  assert.ok(!('result' in res.body), `an error envelope has no result: ${res.text}`);
  assert.equal(typeof res.body.time, 'number');
  const status = res.body.status;
  assert.ok(typeof status === 'object' && typeof status.error === 'string', `no status.error in ${res.text}`);
  const message = status.error;
  const allowed = ([] as string[]).concat(prefixes);
  assert.ok(
    allowed.some((p) => message.startsWith(p)),
    `error ${JSON.stringify(message)} starts with none of ${JSON.stringify(allowed)}`,
  );
  return message;
}

export async function dropCollection(name: string): Promise<void> {
  try {
    await raw('DELETE', `/collections/${name}`);
  } catch {
    // best effort: the server may already be gone
  }
}

/** Creates a uniquely named collection for this test and drops it when the test ends. */
export async function collection(t: TestContext, config: Record<string, unknown>): Promise<string> {
  const name = uniqueName('contract');
  t.after(() => dropCollection(name));
  await ok('PUT', `/collections/${name}`, config);
  return name;
}

export const single = (size: number, distance = 'Cosine') => ({ vectors: { size, distance } });

/** Points of a scroll over the whole collection, in the server's order. */
export async function scrollAll<P = Record<string, unknown>>(
  name: string,
  body: Record<string, unknown> = {},
): Promise<Array<{ id: PointIdJson; payload?: P; vector?: unknown }>> {
  const res = await ok<{ points: Array<{ id: PointIdJson; payload?: P; vector?: unknown }> }>(
    'POST',
    `/collections/${name}/points/scroll`,
    { limit: 1000, with_payload: true, ...body },
  );
  return res.points;
}

export function assertClose(actual: number[], expected: number[], tolerance: number, what = 'vector'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((x, i) => {
    assert.ok(
      Math.abs(x - expected[i]!) <= tolerance,
      `${what}[${i}]: ${x} vs ${expected[i]} (±${tolerance})`,
    );
  });
}

export function normalised(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return n === 0 ? v.map(() => 0) : v.map((x) => x / n);
}

/** Reason to skip tests of the bundled test server's own endpoints against a real Qdrant. */
export const testServerOnly = env.qdrantIsReal
  ? 'QDRANT_URL points at a real Qdrant, which has no /__test/ endpoints'
  : false;
