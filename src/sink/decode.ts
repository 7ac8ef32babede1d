// A Kafka batch → the decoded records planning needs (plan.ts), through the event codec
// (src/kafka/event-codec.ts: what keys, tombstones and schema headers mean). A record that cannot
// be an event of this table is the record's own fault: it goes to the dead-letter topic here and
// takes no further part. A schema version newer than this sink knows stops it (ConfigError):
// dead-lettering every event of an upgraded source would empty the collection, not protect it.
import type { Batch } from 'kafkajs';
import type { KeyColumn } from '../event/key.js';
import { decodeRecord } from '../kafka/event-codec.js';
import type { Logger } from '../shared/log.js';
import type { DecodedRecord, SinkRecord } from './plan.js';

export type DeadLetter = (records: SinkRecord[], reason: string) => Promise<void>;

export async function decodeBatch(
  batch: Batch,
  key: readonly KeyColumn[],
  deadLetter: DeadLetter,
  log: Logger,
): Promise<DecodedRecord[]> {
  const decoded: DecodedRecord[] = [];
  for (const m of batch.messages) {
    const record: SinkRecord = {
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      headers: m.headers,
    };
    const d = decodeRecord(m, key);
    if (d.kind === 'bad') {
      log.warn(
        { topic: batch.topic, partition: batch.partition, offset: record.offset },
        `${d.what}: dead-lettered`,
      );
      await deadLetter([record], d.reason);
    } else if (d.kind === 'tombstone') decoded.push({ record, event: null, tombstoneKey: d.key });
    else decoded.push({ record, event: d.event });
  }
  return decoded;
}
