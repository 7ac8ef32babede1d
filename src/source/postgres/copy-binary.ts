// Reads PostgreSQL's binary COPY format (COPY ... TO STDOUT (FORMAT binary)) incrementally.
//
// Wire format (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format"):
//   header:  11-byte signature "PGCOPY\n\377\r\n\0", int32 flags, int32 extension length + bytes
//   tuple:   int16 field count, then per field int32 length (-1 = NULL) and that many bytes,
//            each field in its type's send format (the same bytes pgoutput sends in binary mode)
//   trailer: int16 -1
// All integers are network byte order. Chunks from the socket split tuples anywhere, so the
// reader keeps the unconsumed tail and resumes there.
import { Arena } from '../../shared/arena.js';
import type { BinaryCell, NullCell } from '../pgoutput/index.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const NULL: NullCell = Object.freeze({ kind: 'null' });
const EMPTY = Buffer.alloc(0);
/**
 * Tuples of every COPY, one allocation each: shared, so that a slab whose rows were emitted (the
 * stream session gives each row back, src/shared/arena.ts) holds the next chunks' rows. A chunk
 * (snapshot.chunkBytes, 8 MiB by default) comes back within moments: its slabs are all kept for
 * the next one rather than collected and allocated again.
 */
const tuples = new Arena(undefined, 8);

export type CopyRow = Array<BinaryCell | NullCell>;

export class CopyBinaryReader {
  private pending: Buffer = EMPTY;
  private headerDone = false;
  private ended = false;

  get done(): boolean {
    return this.ended;
  }

  /** Feeds one chunk; returns the rows completed by it. Cells own their bytes. */
  push(chunk: Buffer): CopyRow[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    const rows: CopyRow[] = [];
    if (!this.headerDone) {
      if (buf.length < 19) return this.keep(buf, 0, rows);
      if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('COPY binary: bad signature');
      const extension = buf.readInt32BE(15);
      if (buf.length < 19 + extension) return this.keep(buf, 0, rows);
      pos = 19 + extension;
      this.headerDone = true;
    }
    while (pos + 2 <= buf.length && !this.ended) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        this.ended = true;
        pos += 2;
        break;
      }
      // Find the end of the tuple before building it, so a split tuple is re-read whole later.
      let p = pos + 2;
      let complete = true;
      for (let i = 0; i < fields; i++) {
        if (p + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4 + (len > 0 ? len : 0);
        if (p > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      // One copy per tuple, so the cells do not pin the chunk (or the concatenation) in memory;
      // into an arena (src/shared/arena.ts), not a Buffer per tuple. Every cell of the row is a
      // view of that one allocation.
      const tuple = tuples.copy(buf.subarray(pos + 2, p));
      const row: CopyRow = new Array(fields);
      let q = 0;
      for (let i = 0; i < fields; i++) {
        const len = tuple.readInt32BE(q);
        q += 4;
        if (len < 0) row[i] = NULL;
        else {
          row[i] = { kind: 'binary', bytes: tuple.subarray(q, q + len) };
          q += len;
        }
      }
      rows.push(row);
      pos = p;
    }
    return this.keep(buf, pos, rows);
  }

  private keep(buf: Buffer, pos: number, rows: CopyRow[]): CopyRow[] {
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : EMPTY;
    return rows;
  }
}
