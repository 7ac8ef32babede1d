// How vecrelay turns an Avro schema into an avsc Type. Every schema — the current one and any
// writer schema from the past — goes through avroType() so they read values the same way:
//   - `long` is a JS bigint. avsc's own long is a JS number and silently rounds above 2^53, which
//     would corrupt int8 keys, LSNs and microsecond timestamps.
//   - unions are always wrapped ({long: 5n}, {'dev.vecrelay.v1.Json': {...}}): the column-value
//     union has both long and double, which an unwrapped union cannot tell apart;
//   - and, when resolving an old schema against a new one, a union branch is read into the branch
//     of the same name (see ExactBranchUnion below).
import { readFileSync } from 'node:fs';
import avro from 'avsc';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export const isInt64 = (n: unknown): n is bigint => typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX;

// avsc zigzag-encodes the 8 bytes toBuffer returns (and may invert them in place, so they must not
// be shared with the caller). One scratch buffer is enough: avsc consumes it before the next call.
const scratch = Buffer.alloc(8);

const BIGINT_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): bigint => buf.readBigInt64LE(0),
  toBuffer: (n: bigint): Buffer => {
    scratch.writeBigInt64LE(n);
    return scratch;
  },
  // JSON forms are only used for schema defaults and avsc's clone(); a string keeps every digit.
  fromJSON: (json: number | string | bigint): bigint => BigInt(json),
  toJSON: (n: bigint): number | string => (Number.isSafeInteger(Number(n)) ? Number(n) : n.toString()),
  isValid: isInt64,
  compare: (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0),
});

/** The avsc internals ExactBranchUnion relies on (avsc 5.7; pinned by test/unit/event-schema.test.ts). */
interface AvscType {
  branchName: string;
  createResolver(writer: AvscType, opts: ResolverOpts): { _read(tap: unknown): unknown };
  _branchConstructor: (new (v: unknown) => unknown) | null;
}
interface ResolverOpts {
  registry: Record<string, unknown>;
}

/**
 * avsc resolves a writer's union branch into the FIRST reader branch that can read it, and Avro lets
 * string and bytes read each other: a bytea value written as `bytes` came back through a resolver
 * as a `string`. Java's Avro prefers the branch of the same name first; so does this union.
 * It also tries each candidate with a child registry: avsc registers a record-to-record resolver
 * before knowing the records match and leaves the failed one behind, where the next union that
 * tries the same pair (our column-value union appears twice) picks it up without a read function.
 */
class ExactBranchUnion extends avro.types.WrappedUnionType {
  _update(resolver: { _read: unknown }, writer: AvscType, opts: ResolverOpts): void {
    const branches = (this as unknown as { types: AvscType[] }).types;
    const candidates = [...branches.filter((b) => b.branchName === writer.branchName), ...branches];
    for (const reader of candidates) {
      let branchResolver;
      try {
        branchResolver = reader.createResolver(writer, { ...opts, registry: Object.create(opts.registry) });
      } catch {
        continue; // not readable into this branch; try the next, as avsc does
      }
      const Branch = reader._branchConstructor;
      resolver._read = Branch ? (tap: unknown) => new Branch(branchResolver._read(tap)) : () => null;
      return;
    }
    // No _read: avsc's createResolver then reports the union as unreadable.
  }
}

const isLongSchema = (schema: unknown): boolean =>
  schema === 'long' ||
  (typeof schema === 'object' &&
    schema !== null &&
    !Array.isArray(schema) &&
    (schema as { type?: unknown }).type === 'long');

/** An avsc Type for `schema` (an object, or its JSON text) with vecrelay's value mapping. */
export function avroType(schema: object | string): avro.Type {
  const parsed = typeof schema === 'string' ? (JSON.parse(schema) as object) : schema;
  // A fresh options object per call: avsc registers named types in it, and two schemas (say, two
  // versions of ChangeEvent) must not see each other's names.
  return avro.Type.forSchema(parsed as avro.Schema, {
    wrapUnions: true,
    typeHook: (s, opts) => {
      if (isLongSchema(s)) return BIGINT_LONG;
      // The constructor builds the branches through forSchema, so they pass through this hook too.
      if (Array.isArray(s)) return new ExactBranchUnion(s, opts);
      return undefined;
    },
  });
}

/** The repository's (or image's) schemas/ directory: ../../ from both src/event/ and dist/event/. */
export const schemasDir = new URL('../../schemas/', import.meta.url);

/** Reads a schema file from schemas/, e.g. 'change-event.avsc' or 'history/change-event.v1.avsc'. */
export const readSchemaFile = (name: string): object =>
  JSON.parse(readFileSync(new URL(name, schemasDir), 'utf8')) as object;

/** The current ChangeEvent schema (schemas/change-event.avsc), as JSON. */
export const CHANGE_EVENT_SCHEMA: object = readSchemaFile('change-event.avsc');

/** The avsc Type of the current schema, built once. */
export const CHANGE_EVENT_TYPE: avro.Type = avroType(CHANGE_EVENT_SCHEMA);
