// A row the source cannot turn into an event (a value its decoders reject, a key that is null:
// src/source/change-log.ts DeadRow) goes to the pipeline's dead-letter topic instead of stopping the stream (DESIGN.md guarantee
// 7): JSON with the table, position, reason and every cell as it arrived, in the one dead-letter
// format (src/kafka/dead-letter-codec.ts: stage source, reason and position in the headers).
//
// A dead letter must itself fit in a batch (source.batchMaxBytes), or publishing it fails the same
// way and the session restarts on the same row forever. So:
// - a row whose event is over the limit (oversizedDeadLetter) is recorded by key, table, position
//   and size only — never its cells;
// - a failed row's cells are left out (their kinds and sizes kept) when they would not fit.
import type { ChangeEvent } from '../event/change-event.js';
import { formatLsn } from '../event/lsn.js';
import type { DeadRow } from '../source/change-log.js';
import type { Logger } from '../shared/log.js';
import { deadLetterHeaders, toHeaderMap, type SourceOrigin } from './dead-letter-codec.js';
import { messageSize, type OutMessage } from './publisher.js';

export function rowDeadLetter(topic: string, origin: DeadRow, err: Error, maxBytes: number): OutMessage {
  const position: SourceOrigin = {
    stage: 'source',
    table: origin.table,
    op: origin.op,
    lsn: formatLsn(origin.lsn),
    xid: origin.xid,
  };
  const record = (cells: unknown[], omitted?: string) =>
    deadLetter(topic, position, err.message, {
      from: 'source',
      table: origin.table,
      op: origin.op,
      lsn: formatLsn(origin.lsn),
      xid: origin.xid,
      error: err.message,
      ...(omitted ? { cellsOmitted: omitted } : {}),
      cells,
    });
  const whole = record(
    origin.cells.map(({ column, kind, bytes, text }) => ({
      column,
      kind,
      ...(bytes ? { hex: bytes.toString('hex') } : text !== undefined ? { text } : {}),
    })),
  );
  if (messageSize(whole) <= maxBytes) return whole;
  return record(
    origin.cells.map(({ column, kind, bytes, text }) => ({
      column,
      kind,
      ...(bytes ? { bytes: bytes.length } : text !== undefined ? { bytes: Buffer.byteLength(text) } : {}),
    })),
    `the row's cells would exceed source.batchMaxBytes = ${maxBytes}`,
  );
}

/** Longest key text a dead letter quotes: a key is normally short, but nothing bounds a text key. */
const KEY_CHARS = 1024;

const OPS: Record<string, string> = { c: 'insert', u: 'update', d: 'delete', r: 'snapshot', t: 'truncate' };

/**
 * The first of an event's messages no batch can hold (over `maxBytes` as the publisher counts),
 * if any.
 */
export function oversizedMessage(messages: OutMessage[], maxBytes: number): OutMessage | undefined {
  return messages.find((m) => messageSize(m) > maxBytes);
}

/**
 * The bounded dead letter of a row whose event is too large for Kafka: which row (table, key),
 * where (LSN, transaction, seq), how large, and why — not the row, which is what did not fit.
 */
export function oversizedDeadLetter(
  topic: string,
  event: ChangeEvent,
  message: OutMessage,
  maxBytes: number,
): OutMessage {
  const table = `${event.source.schema}.${event.source.table}`;
  const key = message.key.toString('utf8');
  const size = messageSize(message);
  const op = OPS[event.op] ?? event.op;
  const lsn = formatLsn(event.source.lsn);
  const { xid, seq } = event.source;
  const reason =
    `the row's event is ${size} bytes, over source.batchMaxBytes = ${maxBytes}: it is not in Kafka. ` +
    `To carry such rows raise source.batchMaxBytes (and the broker's message.max.bytes / the topic's ` +
    `max.message.bytes), then re-sync the table or update the row again`;
  return deadLetter(topic, { stage: 'source', table, op, lsn, xid, seq }, reason, {
    from: 'source',
    reason: 'oversized',
    table,
    op,
    key: key.length > KEY_CHARS ? `${key.slice(0, KEY_CHARS)}…` : key,
    lsn,
    xid,
    seq,
    size,
    limit: maxBytes,
    error: reason,
  });
}

/** One warning per oversized row: table, key, position and size — never the row. */
export function logOversized(log: Logger, event: ChangeEvent, message: OutMessage, maxBytes: number): void {
  const key = message.key.toString('utf8');
  log.warn(
    {
      table: `${event.source.schema}.${event.source.table}`,
      key: key.length > KEY_CHARS ? `${key.slice(0, KEY_CHARS)}…` : key,
      lsn: formatLsn(event.source.lsn),
      bytes: messageSize(message),
      batchMaxBytes: maxBytes,
    },
    'row larger than source.batchMaxBytes dead-lettered (not in Kafka)',
  );
}

function deadLetter(
  topic: string,
  origin: SourceOrigin,
  reason: string,
  record: Record<string, unknown>,
): OutMessage {
  return {
    topic,
    key: Buffer.from(origin.table),
    value: Buffer.from(JSON.stringify(record)),
    headers: toHeaderMap(deadLetterHeaders(origin, reason)),
    partition: 0,
  };
}
