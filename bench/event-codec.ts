// Throughput of the event codec on the hot path: one 1536-dim embedding per event (the size of
// OpenAI's text-embedding-3-small / ada-002), a bigint key and a few payload columns, against a
// raw baseline that only copies the vector bytes. Run: npx tsx bench/event-codec.ts
import { decodeEvent, encodeEvent } from '../src/event/avro.js';
import type { ChangeEvent } from '../src/event/change-event.js';
import { rate } from './rate.js';

const DIM = 1536;
const values = new Float32Array(DIM).map(() => Math.random() * 2 - 1);
const event: ChangeEvent = {
  op: 'u',
  source: {
    lsn: 0x16b3748n,
    xid: 7612,
    commitTimeMicros: 1_717_000_000_123_456n,
    schema: 'public',
    table: 'documents',
    snapshot: false,
    seq: 0,
  },
  key: { id: 9_007_199_254_740_993n },
  values: {
    title: 'Change data capture for embeddings',
    updated_at: '2024-05-29T16:26:40.123456Z',
    meta: { kind: 'json', json: '{"lang":"en","tags":["cdc","vectors"]}' },
    score: 0.75,
  },
  vectors: { embedding: { kind: 'dense', values, half: false } },
  unchanged: [],
};

const encoded = encodeEvent(event);
const rawBytes = Buffer.from(values.buffer);
const results = {
  'encode (avro)': rate(() => encodeEvent(event)),
  'decode (avro)': rate(() => decodeEvent(encoded)),
  'baseline: copy vector to Buffer': rate(() => Buffer.from(values.buffer.slice(0))),
  'baseline: copy bytes to Float32Array': rate(() => new Float32Array(rawBytes.buffer.slice(0))),
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`event with one ${DIM}-dim vector: ${encoded.length} bytes (vector alone: ${DIM * 4})`);
for (const [name, r] of Object.entries(results)) console.log(`${fmt(r)} events/s  ${name}`);
