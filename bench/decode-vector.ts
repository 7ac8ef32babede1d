// Decoding a 1536-dim `vector` cell (pgoutput binary: int16 dim, int16 unused, 1536 × float4 BE)
// into a Float32Array: readFloatBE per element (what pg-logical-replication users write) against
// the alternatives, ending with vecrelay's own decoder (memcpy + Buffer#swap32) and a whole-row
// figure (parse an Insert message and decode its cells). Run: npx tsx bench/decode-vector.ts
import { decodeVector } from '../src/source/decode/value.js';
import { decodeRow } from '../src/source/decode/row.js';
import { PgoutputParser } from '../src/source/pgoutput/parser.js';
import { RelationCache } from '../src/source/pgoutput/relation-cache.js';
import { rate } from './rate.js';

const DIM = 1536;
const cell = Buffer.alloc(4 + DIM * 4);
cell.writeInt16BE(DIM, 0);
for (let i = 0; i < DIM; i++) cell.writeFloatBE(Math.sin(i), 4 + i * 4);

const strategies: Record<string, (b: Buffer) => Float32Array> = {
  'readFloatBE per element': (b) => {
    const out = new Float32Array(DIM);
    for (let i = 0; i < DIM; i++) out[i] = b.readFloatBE(4 + i * 4);
    return out;
  },
  'DataView getFloat32 per element': (b) => {
    const out = new Float32Array(DIM);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < DIM; i++) out[i] = view.getFloat32(4 + i * 4);
    return out;
  },
  'DataView getUint32 into Uint32Array': (b) => {
    const out = new Float32Array(DIM);
    const bits = new Uint32Array(out.buffer);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < DIM; i++) bits[i] = view.getUint32(4 + i * 4);
    return out;
  },
  'memcpy + swap loop on Uint32Array': (b) => {
    const out = new Float32Array(DIM);
    new Uint8Array(out.buffer).set(b.subarray(4));
    const w = new Uint32Array(out.buffer);
    for (let i = 0; i < DIM; i++) {
      const x = w[i]!;
      w[i] = ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
    }
    return out;
  },
  'vecrelay decodeVector (memcpy + Buffer#swap32)': (b) => {
    const v = decodeVector({ name: 'embedding', typeName: 'vector' }, { kind: 'binary', bytes: b });
    return (v as { values: Float32Array }).values;
  },
};

const reference = strategies['readFloatBE per element']!(cell);
console.log(`decode one ${DIM}-dim vector cell (rows/s, single core)`);
for (const [name, fn] of Object.entries(strategies)) {
  const out = fn(cell);
  if (!out.every((x, i) => Object.is(x, reference[i]))) throw new Error(`${name} decodes differently`);
  console.log(
    `  ${name.padEnd(48)} ${Math.round(rate(() => fn(cell)))
      .toLocaleString('en-US')
      .padStart(12)}`,
  );
}

// A whole row as the source sees it: Insert message (id int8, title text, embedding vector) → parse → decode.
const cache = new RelationCache();
cache.addType({ tag: 'type', oid: 16385, schema: 'public', name: 'vector' });
const relation = cache.addRelation({
  tag: 'relation',
  oid: 1,
  schema: 'public',
  name: 'docs',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', isKey: true, typeOid: 20, typeMod: -1 },
    { name: 'title', isKey: false, typeOid: 25, typeMod: -1 },
    { name: 'embedding', isKey: false, typeOid: 16385, typeMod: DIM },
  ],
});
const title = Buffer.from('Change data capture for embeddings');
const msg = Buffer.concat([
  Buffer.from([0x49, 0, 0, 0, 1, 0x4e, 0, 3]),
  Buffer.from([0x62, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 42]),
  Buffer.from([0x62, 0, 0, 0, title.length]),
  title,
  Buffer.from([0x62]),
  Buffer.from(new Uint8Array(new Uint32Array([cell.length]).buffer).reverse()),
  cell,
]);
const parser = new PgoutputParser();
const row = () => {
  const m = parser.parse(msg);
  if (m.tag !== 'insert') throw new Error('not an insert');
  return decodeRow(relation, m.new);
};
console.log(`parse + decode one Insert of (int8, text, vector(${DIM})), copy on (rows/s, single core)`);
console.log(
  `  ${'PgoutputParser.parse + decodeRow'.padEnd(48)} ${Math.round(rate(row)).toLocaleString('en-US').padStart(12)}`,
);
