// Point ids: an unsigned 64-bit integer (kept as a bigint, written back as a bare JSON number) or a
// UUID (kept lowercase hyphenated). Mirrors segment::types::ExtendedPointId: its Deserialize
// accepts a JSON integer in u64 range or a string the uuid crate parses (hyphenated, simple,
// `urn:uuid:`, braced; hex in any case); anything else is a format error.
import { formatError, wrongInput } from './errors.js';
import { stringify, type JsonValue } from './json.js';

export type PointId = bigint | string;

const U64_MAX = (1n << 64n) - 1n;
const HEX32 = /^[0-9a-fA-F]{32}$/;
const HYPHENATED = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The UUID in lowercase hyphenated form, or undefined when `s` is no UUID the uuid crate accepts. */
export function parseUuid(s: string): string | undefined {
  let body: string;
  if (s.length === 32) {
    if (!HEX32.test(s)) return undefined;
    body = s;
  } else {
    let hyphenated = s;
    if (s.length === 45 && s.startsWith('urn:uuid:')) hyphenated = s.slice(9);
    else if (s.length === 38 && s.startsWith('{') && s.endsWith('}')) hyphenated = s.slice(1, -1);
    if (!HYPHENATED.test(hyphenated)) return undefined;
    body = hyphenated.replaceAll('-', '');
  }
  const h = body.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A point id from a parsed JSON body; throws the 400 format error Qdrant gives for anything else. */
export function parsePointId(v: JsonValue | undefined): PointId {
  if (typeof v === 'bigint' && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === 'string') {
    const uuid = parseUuid(v);
    if (uuid !== undefined) return uuid;
  }
  throw formatError(
    `value ${v === undefined ? 'null' : stringify(v)} is not a valid point ID, ` +
      'valid values are either an unsigned integer or a UUID',
  );
}

export function parsePointIds(v: JsonValue | undefined, field: string): PointId[] {
  if (!Array.isArray(v)) throw formatError(`invalid type: expected a sequence of point ids for \`${field}\``);
  return v.map((x) => parsePointId(x));
}

/** A point id from a URL path segment (Rust `FromStr`: a u64 in decimal or a UUID). */
export function parsePathPointId(s: string): PointId {
  if (/^\+?\d+$/.test(s)) {
    const n = BigInt(s);
    if (n <= U64_MAX) return n;
  }
  const uuid = parseUuid(s);
  if (uuid !== undefined) return uuid;
  throw wrongInput(`Can not recognize "${s}" as point id`);
}

/** Map key: decimal digits for numbers, the hyphenated form for UUIDs (never collide). */
export function idKey(id: PointId): string {
  return typeof id === 'bigint' ? id.toString() : id;
}

/** Scroll order: every numeric id before every UUID, numbers numerically, UUIDs by their bytes. */
export function compareIds(a: PointId, b: PointId): number {
  if (typeof a === 'bigint') {
    if (typeof b !== 'bigint') return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof b === 'bigint') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function idToString(id: PointId): string {
  return typeof id === 'bigint' ? id.toString() : id;
}
