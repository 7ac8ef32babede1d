// What the CollectionWriter unit tests write, over REST (sink-writer.test.ts) and over gRPC
// (sink-grpc-transport.test.ts): an items table, the upsert of its row i with a vector of its own,
// a step of such changes, the writer's options. One set of rows for both transports, so that
// both check every point against the same values.
import type { ChangeEvent, ColumnValue } from '../../src/event/change-event.js';
import type { TableDescriptor } from '../../src/event/table-descriptor.js';
import type { Logger } from '../../src/shared/log.js';
import type { PointChange, SinkRecord, Step } from '../../src/sink/plan.js';
import type { WriterOptions } from '../../src/sink/qdrant/writer.js';

export const silent = { warn() {}, info() {}, debug() {}, error() {} } as unknown as Logger;

/** public.items: key `key`, payload title and n, one dense vector `embedding` of `dim`. */
export const descriptor = (
  dim: number,
  key: TableDescriptor['key'] = [{ name: 'id', type: 'int8' }],
): TableDescriptor => ({
  schema: 'public',
  table: 'items',
  topic: 't.public.items',
  key,
  vectors: [{ name: 'embedding', kind: 'vector', dimension: dim, distance: 'Cosine', hnsw: null }],
  payload: ['title', 'n'],
});

/** Row i's vector: no two rows alike (xorshift), each float a float32 to check exactly. */
export function vector(i: number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let s = (i + 1) * 2654435761;
  for (let k = 0; k < dim; k++) {
    s = (s ^ (s << 13)) >>> 0;
    s = (s ^ (s >>> 17)) >>> 0;
    s = (s ^ (s << 5)) >>> 0;
    v[k] = s / 2 ** 31 - 1;
  }
  return v;
}

/**
 * The upsert of row i, from offset i at LSN 1000 + i: title `item "<i>" ü`, n = i, `values`
 * added, and vector(i, dim).
 */
export function upsert(
  i: number,
  dim: number,
  key: Record<string, bigint | string> = { id: BigInt(i) },
  { seq = 0, values = {} }: { seq?: number; values?: Record<string, ColumnValue> } = {},
): PointChange {
  const event: ChangeEvent = {
    op: 'c',
    source: {
      lsn: 1000n + BigInt(i),
      xid: 1,
      commitTimeMicros: 0n,
      schema: 'public',
      table: 'items',
      snapshot: false,
      seq,
    },
    key,
    values: { title: `item "${i}" ü`, n: BigInt(i), ...values },
    vectors: { embedding: { kind: 'dense', values: vector(i, dim), half: false } },
    unchanged: [],
  };
  const record: SinkRecord = { topic: 't', partition: 0, offset: String(i), key: null, value: null };
  return {
    kind: 'upsert',
    event,
    values: event.values!,
    vectors: event.vectors,
    lsn: event.source.lsn,
    records: [record],
  };
}

export const step = (changes: PointChange[]): Step => ({
  kind: 'points',
  changes: new Map(changes.map((c, i) => [String(i), c])),
});

/** Limits no test reaches unless it sets them, `o` over them. */
export const options = (o: Partial<WriterOptions> = {}): WriterOptions => ({
  batchSize: 256,
  requestMaxBytes: 16 << 20,
  retryMaxMs: 1000,
  ...o,
});
