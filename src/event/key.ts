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
