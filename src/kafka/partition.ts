// The partition Kafka's default partitioner gives a key (murmur2, Java-compatible): computed
// here so batches can be sized per partition before they are sent (a record batch over the
// broker's message.max.bytes fails), and so every event of one key keeps one partition.
//
// Kafka's Java client: `toPositive(Utils.murmur2(keyBytes)) % numPartitions`, murmur2 with seed
// 0x9747b28c over 32-bit ints. kafkajs' DefaultPartitioner computes the same with a 64-bit Long
// per step and filters the partition list per call (~5 µs a key, a twentieth of the source's CPU
// per row in bench/source.ts profiles); Math.imul gives the same low 32 bits directly
// (test/unit/partition.test.ts compares the two on random keys).

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of `data` (a signed 32-bit int, as Java returns it). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The last 1–3 bytes (Java: a switch falling through from case 3 to case 1).
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[tail + 2]! << 16;
    if (rest >= 2) h ^= data[tail + 1]! << 8;
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionFor(_topic: string, key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
