// API keys, as Qdrant checks them (src/actix/auth.rs, src/common/auth/mod.rs, lib/storage rbac):
// the key comes in the `api-key` header or as `Authorization: Bearer <key>`; none → 401
// "Must provide an API key or an Authorization bearer token", an unknown one → 401 "Invalid API
// key or JWT" (both as plain text, from the middleware); the read-only key on a write → 403
// "Forbidden: Global manage access is required" (in the JSON error envelope). GET /, /healthz,
// /readyz and /livez need no key. The test-only /__test/ endpoints need none either; POST
// /__test/api-key {"api_key", "read_only_api_key"} changes the keys (what restarting a real
// Qdrant with a new service.api_key does), null removes one.
import type http from 'node:http';
import { ApiError, formatError } from './errors.js';
import { isObject, type JsonValue } from './json.js';

export interface ApiKeys {
  apiKey?: string | undefined;
  readOnlyApiKey?: string | undefined;
}

/** An error the auth middleware answers with a plain-text body. */
export class AuthError extends ApiError {}

const WHITELIST = (path: string) =>
  path === '/' ||
  path === '/healthz' ||
  path.startsWith('/readyz') ||
  path.startsWith('/livez') ||
  path.startsWith('/__test/');

export class Auth {
  constructor(private keys: ApiKeys = {}) {}

  set(body: JsonValue): void {
    if (!isObject(body)) throw formatError('expected {"api_key": ..., "read_only_api_key": ...}');
    const key = (v: JsonValue | undefined) => (typeof v === 'string' && v !== '' ? v : undefined);
    this.keys = { apiKey: key(body.api_key), readOnlyApiKey: key(body.read_only_api_key) };
  }

  /** Throws what Qdrant answers when the request may not go on; `write`: it changes data. */
  check(req: http.IncomingMessage, path: string, write: boolean): void {
    if (WHITELIST(path)) return;
    this.checkHeaders((name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    }, write);
  }

  /** The same check on any request's headers (the gRPC front passes its metadata). */
  checkHeaders(header: (name: string) => string | undefined, write: boolean): void {
    const { apiKey, readOnlyApiKey } = this.keys;
    if (!apiKey && !readOnlyApiKey) return;
    const given = header('api-key') ?? header('authorization')?.replace(/^Bearer /, '');
    if (given === undefined)
      throw new AuthError(401, 'Must provide an API key or an Authorization bearer token');
    if (given === apiKey) return;
    if (given === readOnlyApiKey) {
      if (write) throw new ApiError(403, 'Forbidden: Global manage access is required');
      return;
    }
    throw new AuthError(401, 'Invalid API key or JWT');
  }
}
