// Column value decoders: pgoutput cells (binary or text) → the event model's values.
export {
  decodeValue,
  decodeVector,
  decodesBinary,
  VECTOR_TYPES,
  FLOAT_ARRAY_TYPES,
  type DecodeColumn,
} from './value.js';
export { decodeRow, isVectorColumn, type DecodedRow, type DecodeRowOptions } from './row.js';
export { DecodeError, UnsupportedTypeError } from './errors.js';
export { halfToFloat, halfToFloatBits } from './half.js';
export { formatTimestamp } from './datetime.js';
