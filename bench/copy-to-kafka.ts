// A raw baseline for the snapshot (bench/source.ts): what moving a table's bytes from Postgres to
// Kafka costs on this machine with no CDC work at all. `COPY … TO STDOUT (FORMAT binary)`, each
// row's bytes as they come (no decoding, no event, no Avro) become one record, keyed by the row's
// first column, sent with the Kafka client and settings vecrelay's source uses
// (src/kafka/event-producer.ts: idempotent, acks=all; source.producers producers of one request
// in flight each, requests of up to source.requestMaxBytes, source.batchMaxBytes a partition). vecrelay's snapshot reads, decodes,
// windows, encodes and records besides; this is the floor it cannot go under.
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createEventProducer, type EventMessage, type EventProducer } from '../src/kafka/event-producer.js';

export interface CopyToKafka {
  pgUrl: string;
  /** The COPY's SELECT. */
  select: string;
  brokers: string[];
  topic: string;
  partitions: number;
  producers: number;
  requestBytes: number;
  /** Bytes of one partition's records in a request, at most. */
  batchBytes: number;
}

/**
 * Splits a binary COPY stream into its rows, each a view of the stream's bytes: only a row that
 * spans two of the stream's chunks is copied (pg-copy-streams hands over several rows a chunk).
 */
class CopyRows {
  private pending = Buffer.alloc(0);
  private headerDone = false;
  private ended = false;

  /** The complete rows in `chunk` (the first one completed from the previous chunk's tail). */
  push(chunk: Buffer): Buffer[] {
    if (this.ended) return [];
    let buf = chunk;
    if (!this.headerDone) {
      // PGCOPY\n\377\r\n\0, int32 flags, int32 extension length, the extension.
      buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      this.pending = Buffer.alloc(0);
      if (buf.length < 19 || buf.length < 19 + buf.readInt32BE(15)) {
        this.pending = Buffer.from(buf);
        return [];
      }
      buf = buf.subarray(19 + buf.readInt32BE(15));
      this.headerDone = true;
    }
    const rows: Buffer[] = [];
    let at = 0;
    if (this.pending.length) {
      const end = rowEnd(this.pending, buf);
      if (end === TRAILER) return this.end(rows);
      if (end < 0) {
        this.pending = Buffer.concat([this.pending, buf]); // a row longer than the chunk
        return rows;
      }
      at = end - this.pending.length;
      rows.push(Buffer.concat([this.pending, buf.subarray(0, at)]));
      this.pending = Buffer.alloc(0);
    }
    for (;;) {
      const end = rowEndIn(buf, at);
      if (end === TRAILER) return this.end(rows);
      if (end < 0) break;
      rows.push(buf.subarray(at, end));
      at = end;
    }
    if (at < buf.length) this.pending = Buffer.from(buf.subarray(at));
    return rows;
  }

  private end(rows: Buffer[]): Buffer[] {
    this.ended = true;
    return rows;
  }
}

const TRAILER = -2;

/** Where the row that starts at `at` of `buf` ends; -1 when not in it, TRAILER at the end. */
function rowEndIn(buf: Buffer, at: number): number {
  if (buf.length - at < 2) return -1;
  const fields = buf.readInt16BE(at);
  if (fields === -1) return TRAILER;
  let p = at + 2;
  for (let i = 0; i < fields; i++) {
    if (buf.length - p < 4) return -1;
    p += 4 + Math.max(buf.readInt32BE(p), 0);
    if (p > buf.length) return -1;
  }
  return p;
}

/**
 * The length of the row that starts at the beginning of `a` then `b` (read as one), -1 when it
 * does not end in them, TRAILER at the end of the COPY.
 */
function rowEnd(a: Buffer, b: Buffer): number {
  const total = a.length + b.length;
  const byte = (i: number) => (i < a.length ? a[i]! : b[i - a.length]!);
  const int16 = (i: number) => (((byte(i) << 8) | byte(i + 1)) << 16) >> 16;
  const int32 = (i: number) => (byte(i) << 24) | (byte(i + 1) << 16) | (byte(i + 2) << 8) | byte(i + 3);
  if (total < 2) return -1;
  const fields = int16(0);
  if (fields === -1) return TRAILER;
  let p = 2;
  for (let i = 0; i < fields; i++) {
    if (total - p < 4) return -1;
    p += 4 + Math.max(int32(p), 0);
    if (p > total) return -1;
  }
  return p;
}

/** Runs the copy; resolves once Kafka stored every row. */
export async function copyToKafka(o: CopyToKafka): Promise<{ seconds: number; rows: number; bytes: number }> {
  const producers: EventProducer[] = await Promise.all(
    Array.from({ length: o.producers }, () =>
      createEventProducer({ brokers: o.brokers, clientId: 'bench-raw' }),
    ),
  );
  const client = new pg.Client({ connectionString: o.pgUrl });
  await client.connect();
  try {
    // Connected and with metadata before the clock starts, as vecrelay's are when it snapshots.
    await Promise.all(
      producers.map((p) =>
        p.send([{ topic: o.topic, partition: 0, key: Buffer.from('warm-up'), value: null }]),
      ),
    );
    const free = [...producers];
    const waiting: Array<() => void> = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const send = async (messages: EventMessage[]) => {
      while (!free.length) await new Promise<void>((r) => waiting.push(r));
      const producer = free.pop()!;
      const sent = producer
        .send(messages)
        .catch((err: unknown) => void (failure ??= err))
        .finally(() => {
          free.push(producer);
          inFlight.delete(sent);
          waiting.shift()?.();
        });
      inFlight.add(sent);
    };
    const t0 = performance.now();
    const rows = new CopyRows();
    let count = 0;
    let bytes = 0;
    let batch: EventMessage[] = [];
    let batchBytes = 0;
    const perPartition = new Array<number>(o.partitions).fill(0);
    const copy = client.query(copyTo(`COPY (${o.select}) TO STDOUT (FORMAT binary)`));
    for await (const chunk of copy as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      for (const row of rows.push(chunk)) {
        // The first column (an int4 key: length 4, then its bytes) is the record's key.
        const key = row.subarray(6, 10);
        const partition = key.readInt32BE(0) % o.partitions;
        // A request ends at requestBytes, or before a partition's batch would pass batchBytes
        // (the broker's message.max.bytes), as vecrelay's publisher cuts them.
        if (
          batchBytes + row.length > o.requestBytes ||
          perPartition[partition]! + row.length > o.batchBytes
        ) {
          await send(batch);
          batch = [];
          batchBytes = 0;
          perPartition.fill(0);
        }
        batch.push({ topic: o.topic, partition, key, value: row });
        batchBytes += row.length;
        perPartition[partition]! += row.length;
        count++;
      }
      if (failure) throw failure;
    }
    if (batch.length) await send(batch);
    await Promise.all(inFlight);
    if (failure) throw failure;
    return { seconds: (performance.now() - t0) / 1000, rows: count, bytes };
  } finally {
    await client.end();
    await Promise.all(producers.map((p) => p.close().catch(() => {})));
  }
}
