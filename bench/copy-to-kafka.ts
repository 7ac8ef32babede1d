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

/** Splits a binary COPY stream into its rows (each a view of the stream's bytes). */
class CopyRows {
  private pending = Buffer.alloc(0);
  private headerDone = false;

  /** The complete rows in `chunk` (and what was left of the previous one). */
  push(chunk: Buffer): Buffer[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    if (!this.headerDone) {
      // PGCOPY\n\377\r\n\0, int32 flags, int32 extension length, the extension.
      if (buf.length < 19) {
        this.keep(buf, 0);
        return [];
      }
      at = 19 + buf.readInt32BE(15);
      this.headerDone = true;
    }
    const rows: Buffer[] = [];
    for (;;) {
      const start = at;
      if (buf.length - at < 2) break;
      const fields = buf.readInt16BE(at);
      if (fields === -1) return rows; // the trailer
      let p = at + 2;
      let complete = true;
      for (let i = 0; i < fields; i++) {
        if (buf.length - p < 4) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(p);
        p += 4 + Math.max(len, 0);
        if (p > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) {
        at = start;
        break;
      }
      rows.push(buf.subarray(start, p));
      at = p;
    }
    this.keep(buf, at);
    return rows;
  }

  /** What is left of `buf` from `from` on: the start of the next row (a copy). */
  private keep(buf: Buffer, from: number): void {
    this.pending = Buffer.from(buf.subarray(from));
  }
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
