// Reads one snapshot chunk of a table: the next rows after a key, in key order, through
// COPY (SELECT ... ORDER BY key LIMIT n) TO STDOUT (FORMAT binary) (copy-out.ts). Cells are the
// types' send formats, the same bytes pgoutput sends in binary mode, so the stream's decoders
// read them too. Keyset pagination (`WHERE (k1, k2) > (…)`) walks the key's unique index: each
// chunk costs the same whatever its position in the table, and a restart resumes after the last
// key recorded (src/source/snapshot/).
import type pg from 'pg';
import type { BinaryCell, NullCell, TextCell } from '../pgoutput/index.js';
import { CopyOut } from './copy-out.js';
import { quoteIdent, quoteTable } from './connect.js';

export type SnapshotRow = Array<BinaryCell | TextCell | NullCell>;

export interface ChunkQuery {
  schema: string;
  table: string;
  columns: string[];
  /** Columns read as their text form (types whose binary format vecrelay does not decode). */
  textColumns?: ReadonlySet<string>;
  /** Key columns in key order, with the type each is cast back to in the next chunk's bound. */
  key: Array<{ name: string; type: string }>;
  /** Text form of the last key read; null for the first chunk. */
  after: string[] | null;
  /** Extra SQL condition (`vecrelay resync --where`). */
  where: string | null;
  /** The last key of the range (inclusive); null: to the end of the table. */
  upTo?: string[] | null;
  /** Only these keys (text form of each key column); `after` is then ignored. */
  keys?: string[][] | null;
  limit: number;
}

export interface Chunk {
  rows: SnapshotRow[];
  /** Text form of the last row's key: the next chunk's `after` (null when no row was read). */
  lastKey: string[] | null;
  /** Bytes of cell data read (sizes the next chunk). */
  bytes: number;
  /** Text form of every row's key, in row order: only when the query asked for `keys`. */
  keys: string[][];
}

export function chunkStatement(client: pg.Client, q: ChunkQuery): string {
  const text = q.textColumns ?? new Set<string>();
  const list = q.columns.map((c) => (text.has(c) ? `${quoteIdent(c)}::text` : quoteIdent(c)));
  // The key again, as text, after the row's own columns: the bound of the next chunk.
  // Under names of their own: ORDER BY would find two output columns called like the key.
  const keyText = q.key.map((k, i) => `${quoteIdent(k.name)}::text AS ${quoteIdent(`_vecrelay_after_${i}`)}`);
  const keyList = q.key.map((k) => quoteIdent(k.name)).join(', ');
  const conditions: string[] = [];
  const literal = (texts: string[]) =>
    `(${q.key.map((k, i) => `CAST(${client.escapeLiteral(texts[i]!)} AS ${k.type})`).join(', ')})`;
  if (q.keys) conditions.push(`(${keyList}) IN (${q.keys.map(literal).join(', ')})`);
  else if (q.after) {
    // The text form casts back to the column's type exactly (its input function reads what its
    // output function wrote), so the row comparison uses the key's own btree order.
    const bound = q.key.map((k, i) => `CAST(${client.escapeLiteral(q.after![i]!)} AS ${k.type})`).join(', ');
    conditions.push(`(${keyList}) > (${bound})`);
  }
  if (q.upTo) conditions.push(`(${keyList}) <= ${literal(q.upTo)}`);
  if (q.where) conditions.push(`(${q.where})`);
  return (
    `COPY (SELECT ${[...list, ...keyText].join(', ')} FROM ${quoteTable(q.schema, q.table)}` +
    (conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '') +
    ` ORDER BY ${keyList} LIMIT ${q.limit}) TO STDOUT (FORMAT binary)`
  );
}

/** Reads one chunk into memory (its size is bounded by `limit`, which the caller sizes by bytes). */
export async function readChunk(client: pg.Client, q: ChunkQuery): Promise<Chunk> {
  const text = q.textColumns ?? new Set<string>();
  const isText = q.columns.map((c) => text.has(c));
  const width = q.columns.length;
  const copy = client.query(new CopyOut(chunkStatement(client, q)));
  const rows: SnapshotRow[] = [];
  let last: SnapshotRow | undefined;
  let bytes = 0;
  const keys: string[][] = [];
  const keyText = (row: SnapshotRow) =>
    row.slice(width).map((cell) => (cell.kind === 'binary' ? cell.bytes.toString('utf8') : ''));
  for await (const batch of copy.batches()) {
    for (const row of batch as SnapshotRow[]) {
      for (let i = 0; i < width; i++) {
        const cell = row[i]!;
        if (cell.kind === 'binary') bytes += cell.bytes.length;
        // A text column's send format is its UTF-8 bytes.
        if (isText[i] && cell.kind === 'binary') row[i] = { kind: 'text', text: cell.bytes.toString('utf8') };
      }
      // The key texts of each row only when asked for by key; the last row's always (below).
      if (q.keys) keys.push(keyText(row));
      if (last) last.length = width;
      last = row;
      rows.push(row);
    }
  }
  const lastKey = last ? keyText(last) : null;
  if (last) last.length = width;
  return { rows, lastKey, bytes, keys };
}
