// Reads every table descriptor the sources published (src/event/table-descriptor.ts), once
// (readDescriptors) or as they come (watchDescriptors).
import { randomUUID } from 'node:crypto';
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

export interface DescriptorWatch {
  stop(): Promise<void>;
}

/**
 * Hands every descriptor of `<topicPrefix>._tables` to `onDescriptor`, from the topic's start and
 * then as the sources publish them, until stopped. Like readCompacted: a group of its own, never
 * committed, deleted on stop. `onDescriptor` is not awaited: a slow handler (a Qdrant that is
 * down) must not hold the consumer past its session; the caller orders its own work.
 */
export async function watchDescriptors(
  kafka: Kafka,
  admin: Admin,
  topicPrefix: string,
  onDescriptor: (descriptor: TableDescriptor) => void,
): Promise<DescriptorWatch> {
  const groupId = `vecrelay-descriptors-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 1_000, // a stop waits for the fetch in progress
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [tablesTopic(topicPrefix)], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (message.value) onDescriptor(JSON.parse(message.value.toString()) as TableDescriptor);
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
  return {
    async stop() {
      await consumer.disconnect().catch(() => {});
      await admin.deleteGroups([groupId]).catch(() => {});
    },
  };
}
