// Errors as Qdrant's gRPC front answers them. The model throws ApiErrors carrying the HTTP status
// the REST front answers; Qdrant derives both from one StorageError (REST: src/actix/helpers.rs,
// gRPC: lib/storage/src/content_manager/conversions.rs), with the same message text:
//   BadInput / BadRequest (400), validation (422)   → INVALID_ARGUMENT
//   NotFound (404)                                  → NOT_FOUND
//   AlreadyExists (409)                             → ALREADY_EXISTS
//   Forbidden (403)                                 → PERMISSION_DENIED
//   missing / unknown API key (401)                 → UNAUTHENTICATED (src/tonic/auth.rs)
//   RateLimitExceeded (429)                         → RESOURCE_EXHAUSTED (+ retry-after metadata)
//   Timeout (408 / 504)                             → DEADLINE_EXCEEDED
//   ServiceError (500)                              → INTERNAL
//   ShardUnavailable (503)                          → UNAVAILABLE
// A validation error reads "Validation error in body: …" over gRPC (src/tonic/api/mod.rs), where
// REST says "Validation error in JSON body: …".
import { Code, ConnectError } from '@connectrpc/connect';
import { ApiError } from '../errors.js';
import type { Fault } from '../faults.js';

const CODES: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  408: Code.DeadlineExceeded,
  409: Code.AlreadyExists,
  422: Code.InvalidArgument,
  429: Code.ResourceExhausted,
  500: Code.Internal,
  503: Code.Unavailable,
  504: Code.DeadlineExceeded,
};

export function toConnectError(err: unknown, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof ApiError) {
    const message = err.message.replace(/^Validation error in JSON body/, 'Validation error in body');
    const metadata = new Headers();
    if (err.headers['retry-after']) metadata.set('retry-after', err.headers['retry-after']);
    return new ConnectError(message, CODES[err.status] ?? Code.Unknown, metadata);
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`qdrant-test-server: gRPC ${method}: ${message}`);
  return new ConnectError(`Service internal error: ${message.split('\n')[0]}`, Code.Internal);
}

const MESSAGES: Partial<Record<Code, string>> = {
  [Code.Unavailable]: 'Shard temporarily unavailable: injected by the test server',
  [Code.ResourceExhausted]: 'Rate limiting exceeded: injected by the test server',
  [Code.Internal]: 'Service internal error: injected by the test server',
  [Code.DeadlineExceeded]: 'Timeout: injected by the test server',
  [Code.InvalidArgument]: 'Wrong input: injected by the test server',
  [Code.NotFound]: 'Not found: injected by the test server',
  [Code.PermissionDenied]: 'Forbidden: injected by the test server',
  [Code.Unauthenticated]: 'Invalid API key or JWT',
};

/** An injected gRPC fault (faults.ts, transport "grpc"). */
export function faultToConnectError(f: Fault): ConnectError {
  const metadata = new Headers();
  if (f.retryAfter !== undefined) metadata.set('retry-after', String(Math.ceil(f.retryAfter)));
  const code = f.status as Code;
  return new ConnectError(MESSAGES[code] ?? `Injected fault: gRPC code ${code}`, code, metadata);
}
