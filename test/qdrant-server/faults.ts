// Test-only fault injection (Qdrant has nothing like it): POST /__test/faults
// {"status": 503, "count": N, "retry_after"?: seconds, "paths"?: "regex", "delay_ms"?: ms}
// makes the next N requests whose path matches fail with that status, in Qdrant's error envelope
// (and a Retry-After header when retry_after is given); with only delay_ms they are answered
// normally after the delay (for client timeouts). Rules are consulted in the order added.
//
// The gRPC front (grpc/server.ts) takes its faults from the same list: a rule with
// "grpc_code": "UNAVAILABLE" (a canonical gRPC status name, or its number) fails the next N gRPC
// calls whose path ("/qdrant.Points/Upsert": `paths` matches against it) matches with that status
// (and `retry-after` metadata, as Qdrant sends on RESOURCE_EXHAUSTED); "transport": "grpc" with
// only delay_ms delays gRPC calls. REST rules never touch gRPC calls, nor gRPC rules REST ones.
// A gRPC rule with "point_id": 7 (or a UUID) fails only calls whose request names that point
// (anywhere: a point's id, a selector's ids, a has_id condition), so a test can make one record of
// a batch fail and watch a client isolate it.
//
// Any rule with "collection": "<name>" matches only requests to that collection: REST by the name
// in the path (/collections/<name>/...), gRPC by the request message's collection_name field
// (collectionName: every Points call and the Collections calls on one collection). The name is
// compared as the request gives it (an alias is not resolved). The stack's test server is shared
// by every test file running at once: a rule on a method path alone (all gRPC upserts, say) would
// also hit the other files' collections, so a test scopes its rules to its own collection.
import { ApiError, formatError } from './errors.js';
import { parseUuid } from './ids.js';
import { isNumeric, isObject, type JsonValue, type Out } from './json.js';

export type Transport = 'rest' | 'grpc';

/** gRPC status codes by their canonical names (grpc/status.proto). */
export const GRPC_CODES: Record<string, number> = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

export interface Fault {
  transport: Transport;
  /** 0: no error, only the delay (an HTTP status for REST, a gRPC code for gRPC). */
  status: number;
  remaining: number;
  retryAfter?: number;
  paths?: RegExp;
  delayMs: number;
  /** gRPC: only requests naming this point id (idKey form) match. */
  pointId?: string;
  /** Only requests to this collection (as named in the request) match. */
  collection?: string;
}

const MESSAGES: Record<number, string> = {
  408: 'Timeout: injected by the test server',
  429: 'Rate limiting exceeded: injected by the test server',
  500: 'Service internal error: injected by the test server',
  503: 'Shard temporarily unavailable: injected by the test server',
};

export class Faults {
  private rules: Fault[] = [];

  add(body: JsonValue): Out {
    if (!isObject(body)) throw formatError('expected a fault object');
    const { status, count, retry_after: retryAfter, paths, delay_ms: delayMs } = body;
    const { grpc_code: grpcCode, transport = grpcCode === undefined ? 'rest' : 'grpc' } = body;
    const { point_id: pointId, collection } = body;
    if (
      pointId !== undefined &&
      (transport !== 'grpc' || (typeof pointId !== 'bigint' && typeof pointId !== 'string'))
    )
      throw formatError('`point_id` (a gRPC rule only) must be a point id');
    if (transport !== 'rest' && transport !== 'grpc') throw formatError('`transport` is "rest" or "grpc"');
    const delayOnly = status === undefined && grpcCode === undefined && delayMs !== undefined;
    let code = 0;
    if (transport === 'grpc' && !delayOnly) {
      code = typeof grpcCode === 'string' ? (GRPC_CODES[grpcCode] ?? -1) : Number(grpcCode);
      if (!Number.isInteger(code) || code < 1 || code > 16 || status !== undefined) {
        throw formatError('`grpc_code` must be a gRPC status name (e.g. "UNAVAILABLE") or code 1-16');
      }
    } else if (!delayOnly && (!isNumeric(status) || Number(status) < 400 || Number(status) > 599)) {
      throw formatError('`status` must be an HTTP error status (400-599)');
    }
    if (count !== undefined && (!isNumeric(count) || Number(count) < 1)) {
      throw formatError('`count` must be a positive integer');
    }
    if (retryAfter !== undefined && !isNumeric(retryAfter))
      throw formatError('`retry_after` must be a number');
    if (paths !== undefined && typeof paths !== 'string') throw formatError('`paths` must be a regex string');
    if (collection !== undefined && (typeof collection !== 'string' || collection === ''))
      throw formatError('`collection` must be a collection name');
    if (delayMs !== undefined && !isNumeric(delayMs)) throw formatError('`delay_ms` must be a number');
    let re: RegExp | undefined;
    try {
      re = paths === undefined ? undefined : new RegExp(paths);
    } catch (err) {
      throw formatError(`invalid \`paths\` regex: ${(err as Error).message}`);
    }
    this.rules.push({
      transport,
      status: delayOnly ? 0 : transport === 'grpc' ? code : Number(status),
      remaining: count === undefined ? 1 : Number(count),
      retryAfter: retryAfter === undefined ? undefined : Number(retryAfter),
      paths: re,
      delayMs: delayMs === undefined ? 0 : Number(delayMs),
      pointId: pointId === undefined ? undefined : (parseUuid(String(pointId)) ?? String(pointId)),
      collection,
    });
    return this.list();
  }

  clear(): void {
    this.rules = [];
  }

  list(): Out {
    return this.rules.map((r) => ({
      transport: r.transport,
      status: r.status,
      remaining: r.remaining,
      retry_after: r.retryAfter,
      paths: r.paths?.source,
      point_id: r.pointId,
      collection: r.collection,
      delay_ms: r.delayMs,
    }));
  }

  /**
   * The fault for a request to `path`, if any, counting it against its rule. `names` tells
   * whether the request names a point id (rules with point_id match only then); `collection` is
   * the collection the request is to (REST: read from the path; gRPC: the caller's to give), and
   * rules with a collection match only when it is theirs.
   */
  take(
    path: string,
    transport: Transport = 'rest',
    names?: (pointId: string) => boolean,
    collection: string | undefined = transport === 'rest' ? restCollection(path) : undefined,
  ): Fault | undefined {
    const rule = this.rules.find(
      (r) =>
        r.transport === transport &&
        r.remaining > 0 &&
        (!r.paths || r.paths.test(path)) &&
        (r.pointId === undefined || names?.(r.pointId) === true) &&
        (r.collection === undefined || r.collection === collection),
    );
    if (!rule) return undefined;
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return rule;
  }
}

/** The collection a REST path is to: /collections/<name>[/...], the name URL-decoded. */
export function restCollection(path: string): string | undefined {
  const segment = /^\/collections\/([^/]+)/.exec(path)?.[1];
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a malformed escape: compared as written
  }
}

export function faultError(f: Fault): ApiError {
  const headers: Record<string, string> = {};
  if (f.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(f.retryAfter));
  return new ApiError(f.status, MESSAGES[f.status] ?? `Injected fault: HTTP ${f.status}`, headers);
}
