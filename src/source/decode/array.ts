// Arrays → the JSON text of a (nested) JSON array, written by hand so int8 and numeric keep every
// digit; and float4[] / float8[] → DenseVector for columns configured as vectors.
// Binary (array_send): int32 ndim, int32 flags (1 = has NULLs), uint32 element type OID,
//   ndim × (int32 length, int32 lower bound), then each element: int32 length (-1 = NULL), bytes.
//   ndim = 0 is the empty array.
// Text (array_out): {1,2,NULL}, {{1,2},{3,4}}, elements double-quoted with backslash escapes when
//   they contain specials ("a b", "c\"d", "NULL"), unquoted NULL = null, and a '[0:1]=' prefix
//   when a lower bound is not 1 (JSON has no lower bounds: it is dropped).
// JSON elements: NaN and ±Infinity (floats, numeric) become strings; see floats.ts#floatJson.
import type { DenseVector } from '../../event/change-event.js';
import { floatJson, parseInteger, parseNumber } from './floats.js';
import { numericFromBinary, numericFromText } from './numeric.js';
import { floatList } from './vector.js';

interface ElementCodec {
  oid: number;
  binary(bytes: Buffer): string;
  text(s: string): string;
}

const integer = (oid: number, size: 2 | 4 | 8): ElementCodec => ({
  oid,
  binary: (b) => {
    if (b.length !== size) throw new Error(`int${size} element of ${b.length} bytes`);
    return size === 2
      ? String(b.readInt16BE(0))
      : size === 4
        ? String(b.readInt32BE(0))
        : b.readBigInt64BE(0).toString();
  },
  text: (s) => parseInteger(s).toString(),
});
const numericJson = (t: string): string =>
  t.charCodeAt(t.length - 1) === 0x79 || t === 'NaN' ? `"${t}"` : t;
const string = (oid: number): ElementCodec => ({
  oid,
  binary: (b) => JSON.stringify(b.toString('utf8')),
  text: (s) => JSON.stringify(s),
});

/** Array type name (pg_type.typname) → its element codec. */
export const ARRAY_ELEMENTS: Readonly<Record<string, ElementCodec>> = {
  _bool: {
    oid: 16,
    binary: (b) => (b.length === 1 ? (b[0] ? 'true' : 'false') : badLength('bool', b)),
    text: (s) => (s === 't' ? 'true' : s === 'f' ? 'false' : badText('bool', s)),
  },
  _int2: integer(21, 2),
  _int4: integer(23, 4),
  _int8: integer(20, 8),
  _float4: {
    oid: 700,
    binary: (b) => (b.length === 4 ? floatJson(b.readFloatBE(0), true) : badLength('float4', b)),
    text: (s) => floatJson(Math.fround(parseNumber(s)), true),
  },
  _float8: {
    oid: 701,
    binary: (b) => (b.length === 8 ? floatJson(b.readDoubleBE(0), false) : badLength('float8', b)),
    text: (s) => floatJson(parseNumber(s), false),
  },
  _numeric: {
    oid: 1700,
    binary: (b) => numericJson(numericFromBinary(b)),
    text: (s) => numericJson(numericFromText(s)),
  },
  _text: string(25),
  _varchar: string(1043),
  _bpchar: string(1042),
};

function badLength(type: string, b: Buffer): never {
  throw new Error(`${type} element of ${b.length} bytes`);
}
function badText(type: string, s: string): never {
  throw new Error(`bad ${type} element ${JSON.stringify(s)}`);
}

interface BinaryArray {
  dims: number[];
  elemOid: number;
  /** Offset of the first element. */
  start: number;
}

function header(bytes: Buffer): BinaryArray {
  if (bytes.length < 12) throw new Error(`array header needs 12 bytes, got ${bytes.length}`);
  const ndim = bytes.readInt32BE(0);
  if (ndim < 0 || ndim > 6 || bytes.length < 12 + ndim * 8) throw new Error(`bad array header: ndim ${ndim}`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(bytes.readInt32BE(12 + i * 8));
  return { dims, elemOid: bytes.readUInt32BE(8), start: 12 + ndim * 8 };
}

export function arrayJsonFromBinary(bytes: Buffer, element: ElementCodec): string {
  const { dims, elemOid, start } = header(bytes);
  if (dims.length === 0) return '[]';
  if (elemOid !== element.oid) throw new Error(`array element type OID ${elemOid}, expected ${element.oid}`);
  let pos = start;
  const next = (): string => {
    if (pos + 4 > bytes.length) throw new Error('array ends before its last element');
    const len = bytes.readInt32BE(pos);
    pos += 4;
    if (len === -1) return 'null';
    if (len < 0 || pos + len > bytes.length)
      throw new Error(`array element of ${len} bytes runs past the end`);
    pos += len;
    return element.binary(bytes.subarray(pos - len, pos));
  };
  const level = (d: number): string => {
    const parts = new Array<string>(dims[d]!);
    for (let i = 0; i < parts.length; i++) parts[i] = d === dims.length - 1 ? next() : level(d + 1);
    return `[${parts.join(',')}]`;
  };
  const json = level(0);
  if (pos !== bytes.length) throw new Error(`${bytes.length - pos} bytes after the last array element`);
  return json;
}

export function arrayJsonFromText(text: string, element: ElementCodec): string {
  let pos = text.charCodeAt(0) === 0x5b ? text.indexOf('=') + 1 : 0; // skip '[l:u]=' bounds
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${pos} of array ${JSON.stringify(text.slice(0, 60))}`);
  };
  const array = (): string => {
    if (text[pos] !== '{') fail(`expected '{'`);
    pos++;
    if (text[pos] === '}') return (pos++, '[]');
    const parts: string[] = [];
    for (;;) {
      const c = text[pos];
      if (c === '{') parts.push(array());
      else if (c === '"') {
        let s = '';
        for (pos++; text[pos] !== '"'; pos++) {
          if (pos >= text.length) fail('unterminated quoted element');
          if (text[pos] === '\\') pos++;
          s += text[pos];
        }
        pos++;
        parts.push(element.text(s));
      } else {
        let end = pos;
        while (end < text.length && text[end] !== ',' && text[end] !== '}') end++;
        const s = text.slice(pos, end);
        pos = end;
        parts.push(s === 'NULL' ? 'null' : element.text(s));
      }
      if (text[pos] === ',') pos++;
      else if (text[pos] === '}') return (pos++, `[${parts.join(',')}]`);
      else fail(`expected ',' or '}'`);
    }
  };
  const json = array();
  if (pos !== text.length) fail('trailing characters');
  return json;
}

/** A one-dimensional float4[] / float8[] without NULLs as a float32 vector (float8 is rounded). */
export function floatArrayVectorFromBinary(bytes: Buffer): DenseVector {
  const { dims, elemOid, start } = header(bytes);
  if (dims.length > 1)
    throw new Error(`a vector needs a one-dimensional array, got ${dims.length} dimensions`);
  if (elemOid !== 700 && elemOid !== 701 && dims.length === 1)
    throw new Error(`element type OID ${elemOid} is not a float`);
  const n = dims[0] ?? 0;
  const size = elemOid === 700 ? 4 : 8;
  if (bytes.length !== start + n * (4 + size))
    throw new Error('NULL element or bad length: a vector needs no NULLs');
  const values = new Float32Array(n);
  const bits = new Uint32Array(values.buffer);
  for (let i = 0, pos = start; i < n; i++, pos += 4 + size) {
    if (bytes.readInt32BE(pos) !== size) throw new Error(`element ${i} is NULL or not ${size} bytes`);
    if (size === 4)
      bits[i] = bytes.readUInt32BE(pos + 4); // bit-exact copy
    else values[i] = bytes.readDoubleBE(pos + 4);
  }
  return { kind: 'dense', values, half: false };
}

export function floatArrayVectorFromText(text: string): DenseVector {
  const start = text.charCodeAt(0) === 0x5b ? text.indexOf('=') + 1 : 0;
  if (text[start] !== '{' || text[text.length - 1] !== '}' || text.indexOf('{', start + 1) >= 0) {
    throw new Error(`a vector needs a one-dimensional array, got ${JSON.stringify(text.slice(0, 40))}`);
  }
  if (/(^|[{,])NULL(?=[,}])/.test(text)) throw new Error('NULL element: a vector needs no NULLs');
  return { kind: 'dense', values: floatList(text, start + 1, text.length - 1), half: false };
}
