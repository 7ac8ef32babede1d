// The source's partitioner (src/kafka/partition.ts) must put every key where Kafka's default
// partitioner does (kafkajs' DefaultPartitioner, itself the Java client's murmur2): a sink or
// another Kafka tool that partitions by key finds the same partition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { murmur2, partitionFor } from '../../src/kafka/partition.js';

const kafkajs = Partitioners.DefaultPartitioner();
const metadata = (n: number) =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
  })) as unknown as PartitionMetadata[];

test('partitionFor agrees with kafkajs DefaultPartitioner on random keys of every length', () => {
  for (const partitions of [1, 3, 6, 7, 64]) {
    const partitionMetadata = metadata(partitions);
    for (let i = 0; i < 3000; i++) {
      const key = randomBytes(i % 67);
      const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
      assert.equal(partitionFor('t', key, partitions), expected, `key ${key.toString('hex')}, ${partitions}`);
    }
  }
});

test('partitionFor agrees with kafkajs on canonical key texts', () => {
  const partitionMetadata = metadata(6);
  for (let id = 0; id < 5000; id++) {
    const key = Buffer.from(JSON.stringify({ id: String(id) }));
    const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
    assert.equal(partitionFor('t', key, 6), expected);
  }
});

test('murmur2 matches the Java client on known values', () => {
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ];
  for (const [text, expected] of cases) assert.equal(murmur2(Buffer.from(text)), expected, text);
  assert.equal(murmur2(new Uint8Array([97, 98, 99])), 479470107); // "abc"
});
