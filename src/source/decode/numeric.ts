// numeric's binary send format → the exact text numeric_out prints.
//   int16 ndigits, int16 weight, uint16 sign, int16 dscale, ndigits × int16 base-10000 digits
// sign: 0x0000 positive, 0x4000 negative, 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity.
// Digit i is worth 10000^(weight - i); dscale is the number of decimal digits after the point.
import { expectLength } from './floats.js';

const SPECIAL: Record<number, string> = { 0xc000: 'NaN', 0xd000: 'Infinity', 0xf000: '-Infinity' };

export function numericFromBinary(bytes: Buffer): string {
  if (bytes.length < 8) throw new Error(`numeric header needs 8 bytes, got ${bytes.length}`);
  const ndigits = bytes.readInt16BE(0);
  const weight = bytes.readInt16BE(2);
  const sign = bytes.readUInt16BE(4);
  const dscale = bytes.readInt16BE(6);
  const special = SPECIAL[sign];
  if (special !== undefined) return special;
  if ((sign !== 0 && sign !== 0x4000) || ndigits < 0 || dscale < 0) {
    throw new Error(`bad numeric header: ndigits ${ndigits}, sign 0x${sign.toString(16)}, dscale ${dscale}`);
  }
  expectLength(bytes, 8 + ndigits * 2, `numeric with ${ndigits} digits`);
  const digit = (i: number): number => {
    if (i < 0 || i >= ndigits) return 0;
    const d = bytes.readInt16BE(8 + i * 2);
    if (d < 0 || d > 9999) throw new Error(`numeric digit ${d} outside 0..9999`);
    return d;
  };
  let text = sign === 0x4000 ? '-' : '';
  // Integer part: the first base-10000 digit unpadded, the rest as 4 decimal digits each.
  if (weight < 0) text += '0';
  else for (let i = 0; i <= weight; i++) text += i === 0 ? String(digit(i)) : pad4(digit(i));
  if (dscale > 0) {
    let frac = '';
    for (let i = weight + 1; frac.length < dscale; i++) frac += pad4(digit(i));
    text += '.' + frac.slice(0, dscale);
  }
  return text;
}

const pad4 = (d: number): string => String(d).padStart(4, '0');

const NUMERIC_TEXT = /^(?:-?\d+(?:\.\d+)?|NaN|-?Infinity)$/;

/** numeric_out text, checked: the event keeps it as it is. */
export function numericFromText(text: string): string {
  if (!NUMERIC_TEXT.test(text)) throw new Error(`not a numeric: ${JSON.stringify(text)}`);
  return text;
}
