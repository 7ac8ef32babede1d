// IEEE 754 binary16 → binary32, exactly, as bit patterns (so NaN payloads survive: a NaN read
// into a JS number may be canonicalised). halfvec sends each element as a big-endian uint16.

/** The float32 bit pattern of a float16 bit pattern; every half value is exact in float32. */
export function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f80_0000 | (mant << 13)) >>> 0; // ±Infinity, NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 → 127
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal: mant × 2^-24. Shift until the implicit bit (0x400) is set; each shift lowers the exponent.
  let shift = 0;
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    shift++;
  }
  return (sign | ((113 - shift) << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

let table: Uint32Array | undefined;

/** All 65536 conversions (256 KB), built on first use: one lookup per element on the hot path. */
export function halfTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloatBits(h);
  }
  return table;
}

/** A float16 bit pattern as a JS number. */
export function halfToFloat(h: number): number {
  const bits = new Uint32Array([halfToFloatBits(h)]);
  return new Float32Array(bits.buffer)[0]!;
}
