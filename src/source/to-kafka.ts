// How change events become Kafka messages (DESIGN.md "Event"):
// - one topic per table, message key = canonical encoding of the primary key, so every event of
//   one row lands in one partition, in commit order;
// - a delete is followed by a tombstone (same key, null value) so compaction can drop the row;
// - each event names its schema version in a header (src/event/versions.ts);
// - a truncate concerns every row, so one truncate event goes to every partition, keyed by an
//   empty key, and each sink consumer applies it in order with the rows of its partition.
import { encodeEvent } from '../event/avro.js';
import { EVENT_HEADERS } from '../event/versions.js';
import { keyBytes } from '../event/key.js';
import type { ChangeEvent } from '../event/change-event.js';
import type { OutMessage } from '../kafka/publisher.js';
import { partitionFor } from '../kafka/partition.js';

export interface TopicRoute {
  topic: string;
  partitions: number;
}

const EMPTY_KEY = Buffer.alloc(0);

export function toMessages(event: ChangeEvent, keyColumns: string[], route: TopicRoute): OutMessage[] {
  const value = encodeEvent(event);
  if (event.op === 't') {
    return Array.from({ length: route.partitions }, (_, partition) => ({
      topic: route.topic,
      key: EMPTY_KEY,
      value,
      headers: EVENT_HEADERS,
      partition,
    }));
  }
  const key = keyBytes(keyColumns, event.key);
  const partition = partitionFor(route.topic, key, route.partitions);
  const out: OutMessage[] = [{ topic: route.topic, key, value, headers: EVENT_HEADERS, partition }];
  if (event.op === 'd') out.push({ topic: route.topic, key, value: null, partition });
  return out;
}
