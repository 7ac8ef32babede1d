// The REST routes: method, path pattern, and a handler returning the `result` of the envelope.
import { parseAliasActions } from './aliases.js';
import { Collection, type Store } from './collections.js';
import { ApiError, formatError } from './errors.js';
import type { Auth } from './auth.js';
import type { Faults } from './faults.js';
import { parsePathPointId } from './ids.js';
import { isObject, type JsonObject, type JsonValue, type Out } from './json.js';
import {
  asOf,
  parseBatch,
  parseClearPayload,
  parseDelete,
  parseDeletePayload,
  parseDeleteVectors,
  parseSetPayload,
  parseUpdateVectors,
  parseUpsert,
  type WriteModel,
  runWrite,
  type Version,
} from './points.js';
import { count, getPoint, query, queryBatch, retrieve, scroll, search } from './reads.js';
import { updateCollection } from './update-collection.js';

export const VERSION = '1.19.0';

export interface Ctx {
  params: string[];
  query: URLSearchParams;
  body: JsonValue | undefined;
}

export interface Route {
  method: string;
  pattern: RegExp;
  /** The handler needs a JSON body (an empty body is then a format error, as in Qdrant). */
  body?: boolean;
  /** Answer the handler's value as is, without the {result, status, time} envelope. */
  raw?: boolean;
  /** A POST that only reads (a read-only API key may call it). */
  read?: boolean;
  handle: (ctx: Ctx) => Out;
}

function obj(body: JsonValue | undefined): JsonObject {
  if (!isObject(body)) throw formatError('invalid type: expected a JSON object');
  return body;
}

const queryError = (detail: string) =>
  new ApiError(400, `Deserialize error in query parameters: Query deserialize error: ${detail}`);

/** The update query parameters (UpdateParams): wait, ordering, timeout. Returns `wait`. */
function wait(q: URLSearchParams): boolean {
  const ordering = q.get('ordering');
  if (ordering !== null && !['weak', 'medium', 'strong'].includes(ordering)) {
    throw queryError(`unknown variant \`${ordering}\`, expected one of \`weak\`, \`medium\`, \`strong\``);
  }
  const timeout = q.get('timeout');
  if (timeout !== null && !/^\d+$/.test(timeout)) throw queryError('invalid digit found in string');
  const w = q.get('wait');
  if (w === null || w === 'false') return false;
  if (w === 'true') return true;
  throw queryError('provided string was not `true` or `false`');
}

const C = '/collections/([^/]+)';
const name = (ctx: Ctx) => ctx.params[0]!;

export function buildRoutes(
  store: Store,
  faults: Faults,
  auth: Auth,
  version = VERSION,
  optimizedSegments = false,
): Route[] {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const v: Version = [major, minor];
  const model: WriteModel = {
    keepOmittedVectors: optimizedSegments && (major < 1 || (major === 1 && minor < 19)),
  };
  const coll = (ctx: Ctx) => store.get(name(ctx));
  type Parse = (body: JsonObject) => Parameters<typeof runWrite>[1];
  const write =
    (parse: Parse) =>
    (ctx: Ctx): Out => {
      const w = wait(ctx.query);
      const apply = parse(obj(ctx.body));
      return runWrite(coll(ctx), apply, w);
    };
  const route = (
    method: string,
    path: string,
    handle: Route['handle'],
    opts: Partial<Route> = {},
  ): Route => ({
    method,
    pattern: new RegExp(`^${path}$`),
    handle,
    ...opts,
  });
  const withBody = { body: true };
  const reading = { body: true, read: true };
  type Read = (c: Collection, body: JsonObject) => Out;
  const read =
    (fn: Read) =>
    (ctx: Ctx): Out => {
      const body = obj(ctx.body);
      return fn(coll(ctx), body);
    };
  const done = (fn: () => unknown) => () => {
    fn();
    return true;
  };

  return [
    route('GET', '/', () => ({ title: 'qdrant - vector search engine', version }), { raw: true }),
    route('GET', '/(?:healthz|livez|readyz)', () => 'healthz check passed', { raw: true }),
    route('GET', '/collections', () => ({ collections: store.names().map((n) => ({ name: n })) })),
    // Aliases (aliases.ts). The list of one collection is by its own name, not resolved, and is
    // empty for a name that is no collection.
    route(
      'POST',
      '/collections/aliases',
      (ctx) => {
        store.changeAliases(parseAliasActions(ctx.body));
        return true;
      },
      withBody,
    ),
    route('GET', '/aliases', () => ({ aliases: store.listAliases() })),
    route('GET', `${C}/aliases`, (ctx) => ({
      aliases: store.aliases
        .of(name(ctx))
        .sort()
        .map((alias) => ({ alias_name: alias, collection_name: name(ctx) })),
    })),
    route('GET', C, (ctx) => coll(ctx).info()),
    route('GET', `${C}/exists`, (ctx) => ({ exists: store.has(name(ctx)) })),
    route(
      'PUT',
      C,
      (ctx) => {
        store.add(Collection.create(name(ctx), ctx.body!));
        return true;
      },
      withBody,
    ),
    route('PATCH', C, (ctx) => updateCollection(coll(ctx), ctx.body), withBody),
    route('DELETE', C, (ctx) => store.delete(name(ctx))),
    route(
      'PUT',
      `${C}/index`,
      (ctx) => {
        const w = wait(ctx.query);
        const c = coll(ctx);
        c.createIndex(ctx.body!);
        return runWrite(c, () => undefined, w);
      },
      withBody,
    ),
    route('DELETE', `${C}/index/([^/]+)`, (ctx) => {
      const w = wait(ctx.query);
      const c = coll(ctx);
      c.payloadIndexes.delete(ctx.params[1]!);
      return runWrite(c, () => undefined, w);
    }),
    route(
      'PUT',
      `${C}/points`,
      write((b) => parseUpsert(asOf(v, b), model)),
      withBody,
    ),
    route('POST', `${C}/points/delete`, write(parseDelete), withBody),
    route(
      'PUT',
      `${C}/points/vectors`,
      write((b) => parseUpdateVectors(asOf(v, b))),
      withBody,
    ),
    route('POST', `${C}/points/vectors/delete`, write(parseDeleteVectors), withBody),
    route(
      'POST',
      `${C}/points/payload`,
      write((b) => parseSetPayload(b, false)),
      withBody,
    ),
    route(
      'PUT',
      `${C}/points/payload`,
      write((b) => parseSetPayload(b, true)),
      withBody,
    ),
    route('POST', `${C}/points/payload/delete`, write(parseDeletePayload), withBody),
    route('POST', `${C}/points/payload/clear`, write(parseClearPayload), withBody),
    route(
      'POST',
      `${C}/points/batch`,
      (ctx) => {
        const w = wait(ctx.query);
        const ops = parseBatch(obj(ctx.body), v, model);
        const c = coll(ctx);
        return ops.map((op) => runWrite(c, op, w));
      },
      withBody,
    ),
    route('GET', `${C}/points/([^/]+)`, (ctx) => getPoint(coll(ctx), parsePathPointId(ctx.params[1]!))),
    route('POST', `${C}/points`, read(retrieve), reading),
    route('POST', `${C}/points/scroll`, read(scroll), reading),
    route('POST', `${C}/points/count`, read(count), reading),
    route('POST', `${C}/points/query`, read(query), reading),
    route('POST', `${C}/points/query/batch`, read(queryBatch), reading),
    route('POST', `${C}/points/search`, read(search), reading),

    // Test-only endpoints.
    route('GET', '/__test/faults', () => faults.list()),
    route('POST', '/__test/faults', (ctx) => faults.add(ctx.body!), withBody),
    route(
      'DELETE',
      '/__test/faults',
      done(() => faults.clear()),
    ),
    route('POST', '/__test/api-key', (ctx) => done(() => auth.set(ctx.body!))(), withBody),
    route(
      'POST',
      '/__test/reset',
      done(() => store.clear()),
    ),
  ];
}
