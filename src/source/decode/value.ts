// One cell → one value of the event model (change-event.ts), by the column's type name
// (pg_type.typname, resolved by RelationCache). pgoutput sends a column in binary when its type
// has a send function and `binary 'true'` was asked for, else as text: every decoder reads both.
// Integers of every width become bigint (the event model's rule), float4 the number of the float32.
import type { ColumnValue, VectorValue } from '../../event/change-event.js';
import type { ValueCell } from '../pgoutput/messages.js';
import { ARRAY_ELEMENTS, arrayJsonFromBinary, arrayJsonFromText } from './array.js';
import { floatArrayVectorFromBinary, floatArrayVectorFromText } from './array.js';
import { dateFromBinary, dateFromText, timestampFromBinary, timestampFromText } from './datetime.js';
import { DecodeError, UnsupportedTypeError } from './errors.js';
import { expectLength, parseInteger, parseNumber } from './floats.js';
import { numericFromBinary, numericFromText } from './numeric.js';
import { halfvecFromBinary, sparsevecFromBinary, sparsevecFromText, vectorFromBinary } from './vector.js';
import { vectorFromText } from './vector.js';

/** What the decoders need to know of a column (RelationCache's ResolvedColumn has it). */
export interface DecodeColumn {
  name: string;
  /** pg_type.typname: 'int4', '_float4', 'vector', … */
  typeName: string;
}

type Binary = (b: Buffer) => ColumnValue;
type Text = (s: string) => ColumnValue;

const utf8: Binary = (b) => b.toString('utf8');
const same: Text = (s) => s;
const json = (text: string): ColumnValue => ({ kind: 'json', json: text });
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const SCALARS: Record<string, readonly [Binary, Text]> = {
  bool: [
    (b) => (expectLength(b, 1, 'bool'), b[0] !== 0),
    (s) => (s === 't' ? true : s === 'f' ? false : fail(`bad bool ${JSON.stringify(s)}`)),
  ],
  int2: [(b) => (expectLength(b, 2, 'int2'), BigInt(b.readInt16BE(0))), parseInteger],
  int4: [(b) => (expectLength(b, 4, 'int4'), BigInt(b.readInt32BE(0))), parseInteger],
  int8: [(b) => (expectLength(b, 8, 'int8'), b.readBigInt64BE(0)), parseInteger],
  oid: [(b) => (expectLength(b, 4, 'oid'), BigInt(b.readUInt32BE(0))), parseInteger],
  float4: [(b) => (expectLength(b, 4, 'float4'), b.readFloatBE(0)), (s) => Math.fround(parseNumber(s))],
  float8: [(b) => (expectLength(b, 8, 'float8'), b.readDoubleBE(0)), parseNumber],
  numeric: [
    (b) => ({ kind: 'decimal', text: numericFromBinary(b) }),
    (s) => ({ kind: 'decimal', text: numericFromText(s) }),
  ],
  // The server encoding is UTF-8 (send functions convert to the client encoding, which node-pg sets to UTF8).
  text: [utf8, same],
  varchar: [utf8, same],
  bpchar: [utf8, same],
  name: [utf8, same],
  uuid: [
    (b) => {
      expectLength(b, 16, 'uuid');
      const h = b.toString('hex');
      return {
        kind: 'uuid',
        uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`,
      };
    },
    (s) => (UUID_TEXT.test(s) ? { kind: 'uuid', uuid: s } : fail(`bad uuid ${JSON.stringify(s)}`)),
  ],
  json: [(b) => json(b.toString('utf8')), json],
  // jsonb_send: a version byte (1), then the same text as jsonb_out.
  jsonb: [
    (b) => (b[0] === 1 ? json(b.toString('utf8', 1)) : fail(`jsonb version ${b[0]}, expected 1`)),
    json,
  ],
  bytea: [(b) => new Uint8Array(b), byteaFromText],
  date: [dateFromBinary, dateFromText],
  timestamp: [(b) => timestampFromBinary(b, false), (s) => timestampFromText(s, false)],
  timestamptz: [(b) => timestampFromBinary(b, true), (s) => timestampFromText(s, true)],
};

function fail(problem: string): never {
  throw new Error(problem);
}

/** bytea text: hex format '\x00ff' (bytea_output = hex, the default) or the escape format. */
function byteaFromText(s: string): Uint8Array {
  if (s.startsWith('\\x')) {
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s.slice(2))) fail('bad hex bytea text');
    return new Uint8Array(Buffer.from(s.slice(2), 'hex'));
  }
  // Escape format: printable ASCII as is, '\\' for a backslash, '\nnn' (octal) for other bytes.
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      out.push(s.charCodeAt(i));
    } else if (s[i + 1] === '\\') {
      out.push(0x5c);
      i += 1;
    } else if (/^[0-3][0-7][0-7]$/.test(s.slice(i + 1, i + 4))) {
      out.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      fail(`bad escape at offset ${i} of bytea text`);
    }
  }
  return Uint8Array.from(out);
}

export const VECTOR_TYPES: ReadonlySet<string> = new Set(['vector', 'halfvec', 'sparsevec']);
/** Array types that decodeVector also accepts (for columns configured as vectors). */
export const FLOAT_ARRAY_TYPES: ReadonlySet<string> = new Set(['_float4', '_float8']);

/**
 * A non-vector cell → ColumnValue. Unknown types: text → the text as a string; binary →
 * UnsupportedTypeError (see errors.ts for the fallback). Malformed cells → DecodeError.
 */
export function decodeValue(column: DecodeColumn, cell: ValueCell): ColumnValue {
  if (cell.kind === 'null') return null;
  const type = column.typeName;
  try {
    const scalar = SCALARS[type];
    if (scalar) return cell.kind === 'binary' ? scalar[0](cell.bytes) : scalar[1](cell.text);
    const element = ARRAY_ELEMENTS[type];
    if (element) {
      return json(
        cell.kind === 'binary'
          ? arrayJsonFromBinary(cell.bytes, element)
          : arrayJsonFromText(cell.text, element),
      );
    }
    if (VECTOR_TYPES.has(type)) throw new Error('a vector column: decode it with decodeVector');
  } catch (err) {
    throw new DecodeError(column.name, type, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  if (cell.kind === 'text') return cell.text;
  throw new UnsupportedTypeError(column.name, type);
}

/** A vector, halfvec, sparsevec, or float4[]/float8[] cell → VectorValue (NULL → null). */
export function decodeVector(column: DecodeColumn, cell: ValueCell): VectorValue | null {
  if (cell.kind === 'null') return null;
  const type = column.typeName;
  const binary = cell.kind === 'binary';
  try {
    switch (type) {
      case 'vector':
        return binary ? vectorFromBinary(cell.bytes) : vectorFromText(cell.text, false);
      case 'halfvec':
        return binary ? halfvecFromBinary(cell.bytes) : vectorFromText(cell.text, true);
      case 'sparsevec':
        return binary ? sparsevecFromBinary(cell.bytes) : sparsevecFromText(cell.text);
      case '_float4':
      case '_float8':
        return binary ? floatArrayVectorFromBinary(cell.bytes) : floatArrayVectorFromText(cell.text);
    }
  } catch (err) {
    throw new DecodeError(column.name, type, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  throw new DecodeError(
    column.name,
    type,
    'not a vector type (vector, halfvec, sparsevec, real[], double precision[])',
  );
}

/**
 * Whether a type's binary send format is decoded here. When a captured column's type is not
 * (interval, inet, enums, domains…), the source streams in text mode instead, which every type has.
 */
export function decodesBinary(typeName: string): boolean {
  return (
    typeName in SCALARS ||
    typeName in ARRAY_ELEMENTS ||
    VECTOR_TYPES.has(typeName) ||
    FLOAT_ARRAY_TYPES.has(typeName)
  );
}
