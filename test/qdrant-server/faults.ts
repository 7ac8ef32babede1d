// Test-only fault injection (Qdrant has nothing like it): POST /__test/faults
// {"status": 503, "count": N, "retry_after"?: seconds, "paths"?: "regex", "delay_ms"?: ms}
// makes the next N requests whose path matches fail with that status, in Qdrant's error envelope
// (and a Retry-After header when retry_after is given); with only delay_ms they are answered
// normally after the delay (for client timeouts). Rules are consulted in the order added.
import { ApiError, formatError } from './errors.js';
import { isNumeric, isObject, type JsonValue, type Out } from './json.js';

export interface Fault {
  /** 0: no error, only the delay. */
  status: number;
  remaining: number;
  retryAfter?: number;
  paths?: RegExp;
  delayMs: number;
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
    const delayOnly = status === undefined && delayMs !== undefined;
    if (!delayOnly && (!isNumeric(status) || Number(status) < 400 || Number(status) > 599)) {
      throw formatError('`status` must be an HTTP error status (400-599)');
    }
    if (count !== undefined && (!isNumeric(count) || Number(count) < 1)) {
      throw formatError('`count` must be a positive integer');
    }
    if (retryAfter !== undefined && !isNumeric(retryAfter))
      throw formatError('`retry_after` must be a number');
    if (paths !== undefined && typeof paths !== 'string') throw formatError('`paths` must be a regex string');
    if (delayMs !== undefined && !isNumeric(delayMs)) throw formatError('`delay_ms` must be a number');
    let re: RegExp | undefined;
    try {
      re = paths === undefined ? undefined : new RegExp(paths);
    } catch (err) {
      throw formatError(`invalid \`paths\` regex: ${(err as Error).message}`);
    }
    this.rules.push({
      status: delayOnly ? 0 : Number(status),
      remaining: count === undefined ? 1 : Number(count),
      retryAfter: retryAfter === undefined ? undefined : Number(retryAfter),
      paths: re,
      delayMs: delayMs === undefined ? 0 : Number(delayMs),
    });
    return this.list();
  }

  clear(): void {
    this.rules = [];
  }

  list(): Out {
    return this.rules.map((r) => ({
      status: r.status,
      remaining: r.remaining,
      retry_after: r.retryAfter,
      paths: r.paths?.source,
      delay_ms: r.delayMs,
    }));
  }

  /** The fault for a request to `path`, if any, counting it against its rule. */
  take(path: string): Fault | undefined {
    const rule = this.rules.find((r) => r.remaining > 0 && (!r.paths || r.paths.test(path)));
    if (!rule) return undefined;
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return rule;
  }
}

export function faultError(f: Fault): ApiError {
  const headers: Record<string, string> = {};
  if (f.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(f.retryAfter));
  return new ApiError(f.status, MESSAGES[f.status] ?? `Injected fault: HTTP ${f.status}`, headers);
}
