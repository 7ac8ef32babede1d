// The decoders the source uses for every cell, streamed or snapshotted (src/source/decode/).
import type { CellDecoders } from './changes.js';
import { decodeValue, decodeVector } from './decode/index.js';

export const cellDecoders: CellDecoders = {
  value: decodeValue,
  vector: decodeVector,
};
