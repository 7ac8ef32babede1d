// Encoding one gRPC upsert request of `--points` points of vector(`--dim`) + a small payload (not a
// test): CPU per request of
//   (a) protobuf-es as users of @qdrant/js-client-grpc write it: DenseVector.data a number[]
//       (Array.from of the event's Float32Array), toBinary;
//   (b) protobuf-es given the Float32Array itself as `data` (typed number[], iterated the same);
//   (c) the sink's: points written by hand into pooled memory (proto-points.ts, vectors copied from
//       the packed float32 bytes), handed to toBinary as the request's unknown field `points`.
// All three must give requests that decode to the same points (checked once).
//   npx tsx bench/grpc-encode.ts [--points 256] [--dim 1536] [--rounds 40]
import { parseArgs } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import { UpsertPointsSchema, type PointStruct } from '@qdrant/js-client-grpc';
import { Arena } from '../src/sink/qdrant/arena.js';
import { intValue, payloadEntries, writePoint } from '../src/sink/qdrant/proto-points.js';

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '256' },
    dim: { type: 'string', default: '1536' },
    rounds: { type: 'string', default: '40' },
  },
});
const n = Number(args.points);
const dim = Number(args.dim);
const rounds = Number(args.rounds);

const vectors = Array.from({ length: n }, (_, i) =>
  Float32Array.from({ length: dim }, (_, k) => Math.sin(i + k)),
);
const title = (i: number) => `item ${i}`;

function viaProtobufEs(data: (v: Float32Array) => number[]): Uint8Array {
  const points = vectors.map(
    (v, i) =>
      ({
        id: { pointIdOptions: { case: 'num', value: BigInt(i + 1) } },
        vectors: {
          vectorsOptions: { case: 'vector', value: { vector: { case: 'dense', value: { data: data(v) } } } },
        },
        payload: {
          title: { kind: { case: 'stringValue', value: title(i) } },
          n: { kind: { case: 'integerValue', value: BigInt(i) } },
        },
      }) as unknown as PointStruct,
  );
  return toBinary(
    UpsertPointsSchema,
    create(UpsertPointsSchema, { collectionName: 'c', wait: true, points }),
  );
}

const pool: Buffer[] = [];
const layout = { unnamed: true, dense: ['e'], sparse: [] };
function viaSink(): Uint8Array {
  const arena = new Arena(pool);
  const request = create(UpsertPointsSchema, { collectionName: 'c', wait: true });
  request.$unknown = vectors.map((v, i) => ({
    no: 3,
    wireType: WireType.LengthDelimited,
    data: writePoint(
      arena,
      BigInt(i + 1),
      payloadEntries({ title: title(i) }, [['n', intValue(i)]]),
      layout,
      { e: { kind: 'dense', values: v, half: false } },
    ),
  }));
  const bytes = toBinary(UpsertPointsSchema, request);
  arena.release();
  return bytes;
}

const ways: Array<[string, () => Uint8Array]> = [
  ['(a) protobuf-es, number[] vectors', () => viaProtobufEs((v) => Array.from(v))],
  ['(b) protobuf-es, Float32Array as data', () => viaProtobufEs((v) => v as unknown as number[])],
  ['(c) vecrelay: hand-written points', viaSink],
];

// Same points every way (the payload's field order aside, which protobuf leaves free).
const decoded = ways.map(([, f]) => fromBinary(UpsertPointsSchema, f()).points);
for (const points of decoded.slice(1))
  for (let i = 0; i < n; i++) {
    const want = decoded[0]![i]!.vectors!.vectorsOptions.value as { vector: { value: { data: number[] } } };
    const got = points[i]!.vectors!.vectorsOptions.value as { vector: { value: { data: number[] } } };
    if (got.vector.value.data.some((x, k) => x !== want.vector.value.data[k]))
      throw new Error(`point ${i} differs`);
  }

console.log(`one Upsert request of ${n} points of vector(${dim}), ${rounds} rounds each (after 5 warm-up):`);
for (const [label, f] of ways) {
  for (let r = 0; r < 5; r++) f();
  const cpu0 = process.cpuUsage();
  let bytes = 0;
  for (let r = 0; r < rounds; r++) bytes = f().length;
  const cpu = process.cpuUsage(cpu0);
  const ms = (cpu.user + cpu.system) / 1000 / rounds;
  console.log(
    `${label.padEnd(40)} ${ms.toFixed(2).padStart(7)} ms CPU a request  (${(bytes / 1e6).toFixed(2)} MB)`,
  );
}
