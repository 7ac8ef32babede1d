// Shared number reading for the decoders: big-endian 32-bit words into typed arrays (the vector
// hot path) and strict parsing of the numbers PostgreSQL prints.
import { Arena } from '../../shared/arena.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Decoded vectors are views into shared slabs (src/shared/arena.ts), not an ArrayBuffer each.
const words = new Arena();

/**
 * Copies `n` big-endian 32-bit words starting at `src[offset]` into host-order bytes, 8-byte
 * aligned so that a Float32Array or Int32Array can view them. One memcpy plus Buffer#swap32
 * (native for large buffers): measured ~6× faster than readFloatBE per element for 1536 floats
 * (bench/decode-vector.ts), and bit-exact (NaN payloads included), since no value passes through
 * a JS number.
 */
function wordsFromBE(src: Buffer, offset: number, n: number): Buffer {
  const out = words.copy(src.subarray(offset, offset + n * 4));
  if (LITTLE_ENDIAN) out.swap32(); // in place
  return out;
}

/** `n` big-endian float4 at `src[offset]` → Float32Array. */
export function float32FromBE(src: Buffer, offset: number, n: number): Float32Array {
  const b = wordsFromBE(src, offset, n);
  return new Float32Array(b.buffer, b.byteOffset, n);
}

/** `n` big-endian int4 at `src[offset]` → Int32Array. */
export function int32FromBE(src: Buffer, offset: number, n: number): Int32Array {
  const b = wordsFromBE(src, offset, n);
  return new Int32Array(b.buffer, b.byteOffset, n);
}

/** Checks a binary cell's length; the message names what was expected. */
export function expectLength(bytes: Buffer, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new Error(`${what}: expected ${length} bytes, got ${bytes.length}`);
  }
}

/**
 * A number as PostgreSQL prints it (float4/float8 output, vector elements). Number() alone would
 * accept '' and ' ' as 0, so those are rejected; 'NaN', 'Infinity', '-Infinity' are accepted.
 */
export function parseNumber(s: string): number {
  const x = Number(s);
  if (
    s.length === 0 ||
    s.charCodeAt(0) <= 32 ||
    s.charCodeAt(s.length - 1) <= 32 ||
    (x !== x && s !== 'NaN')
  ) {
    throw new Error(`not a number: ${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)}`);
  }
  return x;
}

/** Integer text (int2/int4/int8/oid output) → bigint; BigInt() alone accepts '' and spaces. */
export function parseInteger(s: string): bigint {
  if (!/^-?\d+$/.test(s)) throw new Error(`not an integer: ${JSON.stringify(s)}`);
  return BigInt(s);
}

/**
 * The JSON text of a float: shortest round-trip digits; NaN and ±Infinity (not JSON numbers)
 * as strings; -0 keeps its sign. For float4, the shortest digits that round-trip through
 * float32, as PostgreSQL prints float4, so binary and text cells give the same JSON.
 */
export function floatJson(x: number, single: boolean): string {
  if (!Number.isFinite(x)) return x !== x ? '"NaN"' : x > 0 ? '"Infinity"' : '"-Infinity"';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  if (!single) return String(x);
  for (let p = 1; p < 9; p++) {
    const digits = x.toPrecision(p);
    if (Math.fround(Number(digits)) === x) return String(Number(digits));
  }
  return String(Number(x.toPrecision(9))); // 9 significant digits always round-trip float32
}
