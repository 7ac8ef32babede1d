// Change events ⇄ Kafka records, both directions in one place (DESIGN.md "Event"), so what a
// key, a tombstone, a truncate and a schema-version header mean is written down once:
// - one topic per table, message key = canonical encoding of the primary key, so every event of
//   one row lands in one partition, in commit order;
// - a delete is followed by a tombstone (same key, null value) so compaction can drop the row;
//   read back, a tombstone is the delete of its key (decoded with the table's key columns);
// - each event names its schema version in a header (src/event/versions.ts); a record without it
//   is version 1, one newer than this process knows is a ConfigError (upgrade the sink);
// - a truncate concerns every row, so one truncate event goes to every partition, keyed by an
//   empty key, and each sink consumer applies it in order with the rows of its partition.
import { encodeEvent } from '../event/avro.js';
import type { ChangeEvent, ColumnValue } from '../event/change-event.js';
import { canonicalKey, keyBytes, parseCanonicalKey, type KeyColumn } from '../event/key.js';
import { EVENT_HEADERS, SCHEMA_HEADER, decoderFor, versionOf } from '../event/versions.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import { partitionFor } from './partition.js';
import type { OutMessage } from './publisher.js';

export interface TopicRoute {
  topic: string;
  partitions: number;
}

const EMPTY_KEY = Buffer.alloc(0);

/** The records of one event: one (a delete: and its tombstone), or one per partition (truncate). */
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
  // The value is the event's own encoding (src/event/avro.ts): its memory goes back to the
  // encoder's arena once Kafka has it. (A truncate's value is shared by its records: not recycled.)
  const out: OutMessage[] = [
    { topic: route.topic, key, value, headers: EVENT_HEADERS, partition, recycle: true },
  ];
  if (event.op === 'd') out.push({ topic: route.topic, key, value: null, partition });
  return out;
}

/** A record as the consumer has it (kafkajs' message shape). */
export interface InRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/** What a record is: an event, a tombstone (the delete of a key), or a record at fault. */
export type Decoded =
  | { kind: 'event'; event: ChangeEvent }
  | { kind: 'tombstone'; key: Record<string, ColumnValue> }
  | { kind: 'bad'; what: string; reason: string };

/**
 * Decodes one record of a table whose key columns are `key`. A record that cannot be an event of
 * this table (undecodable, a bad schema header, a key without a point identity, a tombstone whose
 * key is not this table's) is `bad`: the record's own fault. Throws ConfigError for a schema
 * version newer than this process knows.
 */
export function decodeRecord(m: InRecord, key: readonly KeyColumn[]): Decoded {
  if (m.value === null) {
    try {
      return { kind: 'tombstone', key: parseCanonicalKey(key, (m.key ?? EMPTY_KEY).toString('utf8')) };
    } catch (err) {
      return { kind: 'bad', what: 'tombstone without a usable key', reason: `bad key: ${messageOf(err)}` };
    }
  }
  let decode: (buf: Buffer) => ChangeEvent;
  try {
    decode = decoderFor(versionOf(firstHeader(m.headers?.[SCHEMA_HEADER])));
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return { kind: 'bad', what: 'record with a bad schema header', reason: `undecodable: ${messageOf(err)}` };
  }
  let event: ChangeEvent;
  try {
    event = decode(m.value);
  } catch (err) {
    return { kind: 'bad', what: 'undecodable record', reason: `undecodable: ${messageOf(err)}` };
  }
  // An event whose key has no point id (a key column missing or NULL) would make planning throw
  // and the whole partition retry forever: it is a bad record like any other.
  if (event.op !== 't') {
    try {
      canonicalKey(
        key.map((k) => k.name),
        event.key,
      );
    } catch (err) {
      return { kind: 'bad', what: 'record without a usable key', reason: `bad key: ${messageOf(err)}` };
    }
  }
  return { kind: 'event', event };
}

/** kafkajs gives a header repeated in one message as an array: the first counts. */
function firstHeader(value: Buffer | string | (Buffer | string)[] | undefined): Buffer | string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
