// Topic names and creation. Every topic is created up front (auto-creation gives transient
// errors and the wrong cleanup policy): change topics compacted, so a topic is a replayable copy
// of its table.
import type { Admin } from 'kafkajs';
import { retry } from '../shared/retry.js';

// Names belong to the event model; re-exported for the callers that import them from here.
export { changeTopic, deadLetterTopic } from '../event/names.js';

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  compacted: boolean;
  /** A change topic's compaction settings (kafka.deleteRetentionMs, kafka.minCompactionLagMs). */
  compaction?: CompactionSettings;
}

/**
 * How long a change topic keeps what a lagging sink needs (docs/design.md "Kafka"):
 *   minCompactionLagMs  min.compaction.lag.ms: no event is compacted away before it is this
 *                       old, so a sink lagging less reads every event as it was written;
 *   deleteRetentionMs   delete.retention.ms: a tombstone stays this long after the cleaner first
 *                       passed it, so a delete stays readable for about the sum of the two (plus
 *                       the time until its segment rolls and is cleaned).
 * Set when the topic is created; an existing topic keeps its own (kafka-configs --alter).
 */
export interface CompactionSettings {
  deleteRetentionMs: number;
  minCompactionLagMs: number;
}

function topicConfig(s: TopicSpec): Array<{ name: string; value: string }> {
  if (!s.compacted) return [];
  const entries = [{ name: 'cleanup.policy', value: 'compact' }];
  if (s.compaction)
    entries.push(
      { name: 'delete.retention.ms', value: String(s.compaction.deleteRetentionMs) },
      { name: 'min.compaction.lag.ms', value: String(s.compaction.minCompactionLagMs) },
    );
  return entries;
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
      configEntries: topicConfig(s),
    })),
  });
  return missing.map((s) => s.topic);
}
