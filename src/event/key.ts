// The canonical primary key: the Kafka message key (so every event of a row lands in one
// partition, and compaction keeps the row's last event) and the name the sink hashes into a
// UUIDv5 point id. Changing this encoding moves every row to another partition and another point
// id, so it is frozen: a JSON array of the key values in key-column order, without spaces —
//
//   int2/int4/int8 (bigint)     exact decimal digits, unquoted          42, -9223372036854775808
//   float4/float8 (number)      JS shortest round-trip form, unquoted   0.5, 1e+21
//                               non-finite as strings                   "NaN", "Infinity", "-Infinity"
//   boolean                     true / false
//   text, date/time (string)    JSON string, code points as they are    "a,\"b\"", "ü"
//   numeric (Decimal)           its text as a JSON string               "12.340"
//   uuid                        lowercase hyphenated, JSON string       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
//   bytea (Uint8Array)          lowercase hex, JSON string              "00ff"
//   json/jsonb                  its text as a JSON string               "{\"a\": 1}"
//
// e.g. keyColumns ['tenant', 'id'] with {id: 7n, tenant: 'acme'} → ["acme",7]. Every element is a
// complete JSON value, so a separator or quote inside a string cannot shift element boundaries.
// Values of different types may print alike ("1" for text '1' and numeric 1): the key is
// unambiguous within one table, whose key columns each have one type. JSON.stringify prints the
// same string for the same code points, and PostgreSQL compares key text byte-wise, so no
// Unicode normalisation is applied (normalising would merge keys Postgres keeps apart).
import type { ColumnValue } from './change-event.js';

/**
 * The canonical text of a primary key. `keyColumns` gives the order (the table's key columns as
 * PostgreSQL lists them); other entries of `key` are ignored. Throws if a key column is missing or
 * NULL, or holds a value that has no canonical form.
 */
export function canonicalKey(
  keyColumns: readonly string[],
  key: Readonly<Record<string, ColumnValue>>,
): string {
  if (keyColumns.length === 0) throw new Error('canonical key: the table has no key columns');
  const parts: string[] = [];
  for (const col of keyColumns) {
    if (!Object.hasOwn(key, col))
      throw new Error(`canonical key: key column ${col} is missing from the event`);
    parts.push(canonicalValue(col, key[col]!));
  }
  return `[${parts.join(',')}]`;
}

/** The canonical key as UTF-8 bytes: the Kafka message key. */
export const keyBytes = (keyColumns: readonly string[], key: Readonly<Record<string, ColumnValue>>): Buffer =>
  Buffer.from(canonicalKey(keyColumns, key), 'utf8');

function canonicalValue(col: string, v: ColumnValue): string {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      // -0 prints as 0: PostgreSQL treats them as one key (-0 = 0), so must we.
      return Number.isFinite(v) ? JSON.stringify(v) : JSON.stringify(String(v));
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'object':
      if (v === null) throw new Error(`canonical key: key column ${col} is NULL (key columns never are)`);
      if (v instanceof Uint8Array)
        return JSON.stringify(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex'));
      switch (v.kind) {
        case 'decimal':
          return JSON.stringify(v.text);
        case 'uuid':
          return JSON.stringify(v.uuid.toLowerCase());
        case 'json':
          return JSON.stringify(v.json);
      }
  }
  throw new TypeError(`canonical key: key column ${col} holds a value with no canonical form`);
}

/** A key column as the table descriptor lists it: name and pg_type name. */
export interface KeyColumn {
  name: string;
  type: string;
}

const INTEGER_KEY_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);
const FLOAT_KEY_TYPES = new Set(['float4', 'float8']);
/** One element of a canonical key: a JSON string, or a bare number / boolean. */
const ELEMENT = /"(?:[^"\\]|\\.)*"|[^,\]]+/y;

/**
 * The inverse of canonicalKey: the key values of a Kafka message key, typed by the table's key
 * columns (the sink needs them for a tombstone, which carries nothing else). The result is
 * checked by encoding it again: a key that does not come back byte for byte is not this table's
 * (another key type, another key order) and throws, as a bad record.
 */
export function parseCanonicalKey(columns: readonly KeyColumn[], text: string): Record<string, ColumnValue> {
  const fail = (why: string): never => {
    throw new Error(`canonical key ${JSON.stringify(text.slice(0, 200))}: ${why}`);
  };
  if (!text.startsWith('[') || !text.endsWith(']')) fail('not a JSON array');
  const tokens: string[] = [];
  let at = 1;
  while (at < text.length - 1) {
    if (tokens.length) {
      if (text[at] !== ',') fail(`expected a comma at ${at}`);
      at++;
    }
    ELEMENT.lastIndex = at;
    const m = ELEMENT.exec(text);
    if (!m) fail(`no value at ${at}`);
    tokens.push(m![0]);
    at += m![0].length;
  }
  if (tokens.length !== columns.length)
    fail(
      `${tokens.length} values for ${columns.length} key columns (${columns.map((c) => c.name).join(', ')})`,
    );
  const key: Record<string, ColumnValue> = {};
  columns.forEach((col, i) => {
    try {
      key[col.name] = typedValue(col.type, tokens[i]!);
    } catch (err) {
      fail(`key column ${col.name} (${col.type}): ${(err as Error).message}`);
    }
  });
  let again: string;
  try {
    again = canonicalKey(
      columns.map((c) => c.name),
      key,
    );
  } catch (err) {
    return fail((err as Error).message);
  }
  if (again !== text) fail(`does not encode back to itself as ${JSON.stringify(again.slice(0, 200))}`);
  return key;
}

function typedValue(type: string, token: string): ColumnValue {
  if (token === 'true' || token === 'false') return token === 'true';
  if (!token.startsWith('"')) {
    // A bare number: integers stay exact (bigint), floats are JS numbers.
    if (!FLOAT_KEY_TYPES.has(type) && /^-?\d+$/.test(token)) return BigInt(token);
    if (INTEGER_KEY_TYPES.has(type)) throw new Error(`not an integer: ${token}`);
    const n = Number(token);
    if (Number.isNaN(n)) throw new Error(`not a number: ${token}`);
    return n;
  }
  const s = JSON.parse(token) as string;
  if (FLOAT_KEY_TYPES.has(type)) return Number(s); // "NaN", "Infinity", "-Infinity"
  if (INTEGER_KEY_TYPES.has(type)) throw new Error(`a string for an integer column: ${token}`);
  switch (type) {
    case 'uuid':
      return { kind: 'uuid', uuid: s };
    case 'numeric':
      return { kind: 'decimal', text: s };
    case 'bytea':
      if (!/^(?:[0-9a-f]{2})*$/.test(s)) throw new Error('not lowercase hex');
      return new Uint8Array(Buffer.from(s, 'hex'));
    case 'json':
    case 'jsonb':
      return { kind: 'json', json: s };
    default:
      // text-like, date/time, and anything else printed as text (arrays, enums): its text. The
      // point id depends only on the canonical text for these, so the exact kind does not matter.
      return s;
  }
}
