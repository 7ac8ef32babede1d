// Topic names and creation. Every topic is created up front (auto-creation gives transient
// errors and the wrong cleanup policy): change topics compacted, so a topic is a replayable copy
// of its table.
import type { Admin } from 'kafkajs';
import { retry } from '../shared/retry.js';

export function changeTopic(prefix: string, schema: string, table: string): string {
  // Kafka topic names allow [a-zA-Z0-9._-]; anything else in a Postgres name becomes '_'.
  const clean = (s: string) => s.replace(/[^a-zA-Z0-9._-]/g, '_');
  return `${prefix}.${clean(schema)}.${clean(table)}`;
}

/** Records the pipeline could not carry (source: undecodable rows; sink: rejected by Qdrant). */
export function deadLetterTopic(topicPrefix: string, pipeline: string): string {
  return `${topicPrefix}._dlq.${pipeline}`;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  compacted: boolean;
}

/**
 * Creates the topics that are missing; leaves existing ones as they are. Two processes of one
 * pipeline may create the same topics at once, and a just-created topic can briefly answer "does
 * not host this topic-partition": both are retried until every topic exists.
 */
export function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  return retry(
    async () => {
      try {
        return await createMissing(admin, specs);
      } catch (err) {
        const existing = new Set(await admin.listTopics());
        if (specs.every((s) => existing.has(s.topic))) return []; // another process created them
        throw err;
      }
    },
    { backoff: { initialMs: 200, maxMs: 2000 }, retriable: (_err, attempt) => attempt < 5 },
  );
}

async function createMissing(admin: Admin, specs: TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((s) => ({
      topic: s.topic,
      numPartitions: s.partitions,
      replicationFactor: s.replicationFactor,
      configEntries: s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    })),
  });
  return missing.map((s) => s.topic);
}
