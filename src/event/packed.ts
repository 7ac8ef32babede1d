// Packed little-endian float32 / int32 arrays: the wire form of vectors in the Avro event
// (schemas/change-event.avsc). On a little-endian host (x86, arm64) a typed array's memory already
// is that form, so packing is a view and unpacking a view or one memcpy; a big-endian host takes
// the DataView path, element by element.

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The elements of `a` as packed little-endian bytes. On a little-endian host this is a view of
 * `a`'s memory, not a copy: do not change `a` while the bytes are in use.
 */
export function packLE(a: Float32Array | Int32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const out = Buffer.allocUnsafe(a.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (a instanceof Float32Array) for (let i = 0; i < a.length; i++) view.setFloat32(i * 4, a[i]!, true);
  else for (let i = 0; i < a.length; i++) view.setInt32(i * 4, a[i]!, true);
  return out;
}

/**
 * Packed little-endian float32 → Float32Array. Shares `bytes`' memory when it is 4-byte aligned on
 * a little-endian host (a Float32Array cannot start at an unaligned offset), else copies once.
 */
export function unpackFloat32LE(bytes: Uint8Array, what: string): Float32Array {
  const n = elementCount(bytes, what);
  if (LITTLE_ENDIAN) {
    if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Packed little-endian int32 → Int32Array, sharing memory under the same rule as above. */
export function unpackInt32LE(bytes: Uint8Array, what: string): Int32Array {
  const n = elementCount(bytes, what);
  if (LITTLE_ENDIAN) {
    if (bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Int32Array(n);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const out = new Int32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

function elementCount(bytes: Uint8Array, what: string): number {
  if (bytes.byteLength % 4 !== 0) {
    throw new RangeError(`${what}: ${bytes.byteLength} bytes is not a whole number of 4-byte elements`);
  }
  return bytes.byteLength / 4;
}
