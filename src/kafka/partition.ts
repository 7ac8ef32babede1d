// The partition Kafka's default partitioner gives a key (murmur2, Java-compatible): computed
// here so batches can be sized per partition before they are sent (a record batch over the
// broker's message.max.bytes fails), and so every event of one key keeps one partition.
import { Partitioners } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();
const metadataByCount = new Map<number, Array<{ partitionId: number; leader: number }>>();

export function partitionFor(topic: string, key: Buffer, partitions: number): number {
  let partitionMetadata = metadataByCount.get(partitions);
  if (!partitionMetadata) {
    partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0 }));
    metadataByCount.set(partitions, partitionMetadata);
  }
  return partitioner({ topic, partitionMetadata: partitionMetadata as never, message: { key, value: null } });
}
