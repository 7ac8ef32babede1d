// Reads every table descriptor the sources published (src/event/table-descriptor.ts).
import type { Admin, Kafka } from 'kafkajs';
import { tablesTopic } from '../event/names.js';
import type { TableDescriptor } from '../event/table-descriptor.js';
import { readCompacted } from './compacted.js';

/** Change topic → its table's descriptor; empty when nothing was published yet. */
export async function readDescriptors(
  kafka: Kafka,
  admin: Admin,
  topicPrefix: string,
): Promise<Map<string, TableDescriptor>> {
  const out = new Map<string, TableDescriptor>();
  await readCompacted(kafka, admin, tablesTopic(topicPrefix), (message) => {
    if (!message.value) return;
    const d = JSON.parse(message.value.toString()) as TableDescriptor;
    out.set(d.topic, d);
  });
  return out;
}
