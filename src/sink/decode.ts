// A Kafka batch → the decoded records planning needs (plan.ts). A tombstone (null value) is the
// delete of its key: the message key is decoded with the table's key columns. A record that
// cannot be an event of this table — undecodable, a bad schema header, a key without a point
// identity, a tombstone whose key is not this table's — is the record's own fault: it goes to the dead-letter topic here and takes no further part. A schema
// version newer than this sink knows stops it (ConfigError): dead-lettering every event of an
// upgraded source would empty the collection, not protect it.
import type { Batch, IHeaders } from 'kafkajs';
import type { ChangeEvent, ColumnValue } from '../event/change-event.js';
import { canonicalKey, parseCanonicalKey, type KeyColumn } from '../event/key.js';
import { SCHEMA_HEADER, decoderFor, versionOf } from '../event/versions.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { DecodedRecord, SinkRecord } from './plan.js';

export type DeadLetter = (records: SinkRecord[], reason: string) => Promise<void>;

export async function decodeBatch(
  batch: Batch,
  key: readonly KeyColumn[],
  deadLetter: DeadLetter,
  log: Logger,
): Promise<DecodedRecord[]> {
  const keyColumns = key.map((k) => k.name);
  const decoded: DecodedRecord[] = [];
  const reject = async (record: SinkRecord, what: string, reason: string) => {
    log.warn(
      { topic: batch.topic, partition: batch.partition, offset: record.offset },
      `${what}: dead-lettered`,
    );
    await deadLetter([record], reason);
  };
  for (const m of batch.messages) {
    const record: SinkRecord = {
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      headers: m.headers,
    };
    if (m.value === null) {
      let tombstoneKey: Record<string, ColumnValue>;
      try {
        tombstoneKey = parseCanonicalKey(key, (m.key ?? Buffer.alloc(0)).toString('utf8'));
      } catch (err) {
        await reject(record, 'tombstone without a usable key', `bad key: ${messageOf(err)}`);
        continue;
      }
      decoded.push({ record, event: null, tombstoneKey });
      continue;
    }
    let decode: (buf: Buffer) => ChangeEvent;
    try {
      decode = decoderFor(versionOf(firstHeader(m.headers?.[SCHEMA_HEADER])));
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      await reject(record, 'record with a bad schema header', `undecodable: ${messageOf(err)}`);
      continue;
    }
    let event: ChangeEvent;
    try {
      event = decode(m.value);
    } catch (err) {
      await reject(record, 'undecodable record', `undecodable: ${messageOf(err)}`);
      continue;
    }
    // An event whose key has no point id (a key column missing or NULL) would make planning
    // throw and the whole partition retry forever: it is a bad record like any other.
    if (event.op !== 't') {
      try {
        canonicalKey(keyColumns, event.key);
      } catch (err) {
        await reject(record, 'record without a usable key', `bad key: ${messageOf(err)}`);
        continue;
      }
    }
    decoded.push({ record, event });
  }
  return decoded;
}

/** kafkajs gives a header repeated in one message as an array: the first counts. */
function firstHeader(value: IHeaders[string]): Buffer | string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
