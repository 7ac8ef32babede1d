// pgoutput protocol version 1 → PgoutputMessage (./messages.ts).
//
// Wire format (PostgreSQL 15, src/backend/replication/logical/proto.c; docs: "Logical Replication
// Message Formats"). Each XLogData payload is one message: a tag byte, then fields in network byte
// order. String = UTF-8 bytes ending in a 0 byte. Int64 times are µs since 2000-01-01 00:00 UTC.
//   'B' Begin     Int64 final LSN (of the commit record), Int64 commit time, Int32 xid
//   'C' Commit    Int8 flags (0), Int64 commit LSN, Int64 end LSN, Int64 commit time
//   'O' Origin    Int64 commit LSN on the origin, String origin name
//   'Y' Type      Int32 type OID, String schema ('' = pg_catalog), String type name
//   'R' Relation  Int32 OID, String schema ('' = pg_catalog), String name,
//                 Int8 replica identity (relreplident: 'd' default, 'n' nothing, 'f' full, 'i' index),
//                 Int16 ncols, ncols × (Int8 flags (1 = key column), String name, Int32 type OID, Int32 typmod)
//   'I' Insert    Int32 relation OID, 'N', TupleData
//   'U' Update    Int32 relation OID, optional ('K' | 'O', TupleData), 'N', TupleData
//                 ('K' = old key when the key changed, 'O' = old row under REPLICA IDENTITY FULL)
//   'D' Delete    Int32 relation OID, 'K' | 'O', TupleData
//   'T' Truncate  Int32 nrels, Int8 options (1 = CASCADE, 2 = RESTART IDENTITY), nrels × Int32 OID
//   'M' Message   Int8 flags (1 = transactional), Int64 LSN, String prefix, Int32 n, n bytes content
//   TupleData     Int16 ncols, ncols × cell: 'n' null | 'u' unchanged TOAST (no value sent)
//                 | 't' Int32 n, n bytes text output | 'b' Int32 n, n bytes binary send output
// Version 2 (streaming) inserts an Int32 xid after the tag of R, Y, I, U, D, T and M while between
// Stream Start 'S' and Stream Stop 'E', and adds 'S', 'E', Stream Commit 'c', Stream Abort 'A'.
// To add it: keep an `inStream` flag on the parser (set by 'S', cleared by 'E'), read the xid in
// `parse` before dispatching, and add the four tags to the switch and the union.
//
// Buffers: binary cells and message content are views (subarray) into the parsed buffer, so that
// the hot path copies each row's bytes at most once. pg-logical-replication 2.5.0 does NOT hand
// over a fresh buffer: it passes `chunk.subarray(25)` where `chunk` is a view into pg-protocol's
// receive buffer, which pg-protocol overwrites when it compacts a partial message (Parser.mergeBuffer
// moves the tail to the start of the same buffer). With flow control the parsed message is queued
// and read later, so the parser copies the message first (`copy: true`, the default) for the tags
// that carry bytes (I, U, D, M), into an arena (src/shared/arena.ts) rather than a Buffer each.
// Pass `copy: false` only for buffers nobody reuses. Each copied message is one arena allocation
// (every cell of it a view): its owner may give it back with releaseView() once done with it
// (src/source/stream-session.ts does, after the row's events are encoded).
import { Arena } from '../../shared/arena.js';
import type { Cell, PgoutputMessage, RelationColumn, ReplicaIdentity, Tuple } from './messages.js';

/** µs from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch). */
export const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;

const NULL_CELL: Cell = Object.freeze({ kind: 'null' });
const UNCHANGED_CELL: Cell = Object.freeze({ kind: 'unchanged' });

const REPLICA_IDENTITY: Record<string, ReplicaIdentity> = {
  d: 'default',
  n: 'nothing',
  f: 'full',
  i: 'index',
};

const EMPTY = Buffer.alloc(0);

export interface PgoutputParserOptions {
  /** Copy messages that carry bytes before taking views into them (default true; see above). */
  copy?: boolean;
}

export class PgoutputParser {
  private readonly copy: boolean;
  private readonly copies = new Arena();
  private buf: Buffer = EMPTY;
  private pos = 0;

  constructor(options: PgoutputParserOptions = {}) {
    this.copy = options.copy ?? true;
  }

  /** Parses one pgoutput message (the XLogData payload, without the 25-byte XLogData header). */
  parse(buffer: Buffer): PgoutputMessage {
    if (buffer.length === 0) throw new Error('pgoutput: empty message');
    const tag = buffer[0]!;
    // I, U, D, M hold views into the buffer; the other tags are decoded into fresh values.
    const holdsBytes = tag === 0x49 || tag === 0x55 || tag === 0x44 || tag === 0x4d;
    this.buf = this.copy && holdsBytes ? this.copies.copy(buffer) : buffer;
    this.pos = 1;
    try {
      const message = this.message(tag);
      if (this.pos !== this.buf.length) {
        throw new Error(`${this.buf.length - this.pos} unread bytes at the end`);
      }
      return message;
    } catch (err) {
      const name = String.fromCharCode(tag);
      throw new Error(`pgoutput: malformed '${name}' message (${buffer.length} bytes): ${String(err)}`, {
        cause: err,
      });
    } finally {
      this.buf = EMPTY; // do not keep the last message alive
    }
  }

  private message(tag: number): PgoutputMessage {
    switch (tag) {
      case 0x42: // 'B'
        return { tag: 'begin', finalLsn: this.u64(), commitTimeMicros: this.time(), xid: this.u32() };
      case 0x43: // 'C'
        return {
          tag: 'commit',
          flags: this.u8(),
          commitLsn: this.u64(),
          endLsn: this.u64(),
          commitTimeMicros: this.time(),
        };
      case 0x4f: // 'O'
        return { tag: 'origin', originLsn: this.u64(), name: this.string() };
      case 0x59: // 'Y'
        return { tag: 'type', oid: this.u32(), schema: this.string(), name: this.string() };
      case 0x52: // 'R'
        return this.relation();
      case 0x49: {
        // 'I'
        const relationOid = this.u32();
        this.expect(0x4e);
        return { tag: 'insert', relationOid, new: this.tuple() };
      }
      case 0x55: // 'U'
        return this.update();
      case 0x44: {
        // 'D'
        const relationOid = this.u32();
        const kind = this.u8();
        if (kind !== 0x4b && kind !== 0x4f) throw new Error(`expected 'K' or 'O', got 0x${hex(kind)}`);
        return { tag: 'delete', relationOid, old: this.tuple(), oldIsKeyOnly: kind === 0x4b };
      }
      case 0x54: // 'T'
        return this.truncate();
      case 0x4d: {
        // 'M'
        const transactional = (this.u8() & 1) === 1;
        const lsn = this.u64();
        const prefix = this.string();
        const content = this.bytes(this.u32());
        return { tag: 'message', transactional, lsn, prefix, content };
      }
      default:
        throw new Error(`unknown message tag 0x${hex(tag)} (streaming and two-phase need protocol v2+)`);
    }
  }

  private relation(): PgoutputMessage {
    const oid = this.u32();
    const schema = this.string();
    const name = this.string();
    const identity = String.fromCharCode(this.u8());
    const replicaIdentity = REPLICA_IDENTITY[identity];
    if (!replicaIdentity) throw new Error(`unknown replica identity '${identity}'`);
    const ncols = this.u16();
    const columns: RelationColumn[] = new Array<RelationColumn>(ncols);
    for (let i = 0; i < ncols; i++) {
      const isKey = (this.u8() & 1) === 1;
      columns[i] = { name: this.string(), isKey, typeOid: this.u32(), typeMod: this.i32() };
    }
    return { tag: 'relation', oid, schema, name, replicaIdentity, columns };
  }

  private update(): PgoutputMessage {
    const relationOid = this.u32();
    let kind = this.u8();
    if (kind === 0x4b || kind === 0x4f) {
      const old = this.tuple();
      const oldIsKeyOnly = kind === 0x4b;
      kind = this.u8();
      if (kind !== 0x4e) throw new Error(`expected 'N' after the old tuple, got 0x${hex(kind)}`);
      return { tag: 'update', relationOid, old, oldIsKeyOnly, new: this.tuple() };
    }
    if (kind !== 0x4e) throw new Error(`expected 'K', 'O' or 'N', got 0x${hex(kind)}`);
    return { tag: 'update', relationOid, new: this.tuple() };
  }

  private truncate(): PgoutputMessage {
    const count = this.u32();
    const options = this.u8();
    const relationOids = new Array<number>(count);
    for (let i = 0; i < count; i++) relationOids[i] = this.u32();
    return {
      tag: 'truncate',
      relationOids,
      cascade: (options & 1) !== 0,
      restartIdentity: (options & 2) !== 0,
    };
  }

  private tuple(): Tuple {
    const ncols = this.u16();
    const cells: Tuple = new Array<Cell>(ncols);
    for (let i = 0; i < ncols; i++) {
      const kind = this.u8();
      if (kind === 0x62) cells[i] = { kind: 'binary', bytes: this.bytes(this.u32()) };
      else if (kind === 0x74) {
        const length = this.u32();
        const end = this.pos + length;
        if (end > this.buf.length)
          throw new Error(`${length}-byte text cell of column ${i} runs past the end`);
        cells[i] = { kind: 'text', text: this.buf.toString('utf8', this.pos, end) };
        this.pos = end;
      } else if (kind === 0x6e) cells[i] = NULL_CELL;
      else if (kind === 0x75) cells[i] = UNCHANGED_CELL;
      else throw new Error(`unknown cell kind 0x${hex(kind)} in column ${i}`);
    }
    return cells;
  }

  private expect(byte: number): void {
    const got = this.u8();
    if (got !== byte) throw new Error(`expected '${String.fromCharCode(byte)}', got 0x${hex(got)}`);
  }
  private u8(): number {
    return this.buf.readUInt8(this.pos++);
  }
  private u16(): number {
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private i32(): number {
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  private time(): bigint {
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v + PG_EPOCH_OFFSET_MICROS;
  }
  private string(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new Error('unterminated string');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return s;
  }
  private bytes(length: number): Buffer {
    const end = this.pos + length;
    if (end > this.buf.length) throw new Error(`${length}-byte field runs past the end`);
    const b = this.buf.subarray(this.pos, end);
    this.pos = end;
    return b;
  }
}

const hex = (b: number): string => b.toString(16).padStart(2, '0');

/** Parses one message with a default (copying) parser; the class saves the allocation per call. */
export function parsePgoutput(buffer: Buffer, options?: PgoutputParserOptions): PgoutputMessage {
  return new PgoutputParser(options).parse(buffer);
}
