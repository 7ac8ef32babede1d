// The one dead-letter format (both stages) and its reader. A dead letter is a Kafka record in
// `<prefix>._dlq.<name>` that says in its headers what it is, why it is there and where it came
// from, so `vecrelay dlq` can list it and replay it without guessing:
//
//   vecrelay.dlq.version   format version (1)
//   vecrelay.dlq.stage     source: a row that could not become an event; sink: an event Qdrant
//                          refused, or a record that could not be decoded
//   vecrelay.dlq.reason    why (at most REASON_CHARS characters)
//   sink origin            vecrelay.dlq.topic, .partition, .offset: the change record's position
//   source origin          vecrelay.dlq.table, .op, .lsn (commit LSN, X/Y), .xid, .seq (if known)
//   vecrelay.schema …      every header of the original record is kept as it was (the event's
//                          schema version above all), so a replay sends the record unchanged
//
// The value is the original record's bytes where there are some (sink), or a bounded JSON
// description of the row where there are none (source: source-dead-letters.ts). A replay
// (src/ops/dlq.ts) appends a marker record (stage `replay`) naming the dead letter it replayed.
// Dead letters written before this format (sink: reason in `vecrelay.error`; source: JSON with
// `from: "source"`) are still read.
import type { IHeaders } from 'kafkajs';

export const DLQ_VERSION = 1;

export const DLQ = {
  version: 'vecrelay.dlq.version',
  stage: 'vecrelay.dlq.stage',
  reason: 'vecrelay.dlq.reason',
  topic: 'vecrelay.dlq.topic',
  partition: 'vecrelay.dlq.partition',
  offset: 'vecrelay.dlq.offset',
  table: 'vecrelay.dlq.table',
  op: 'vecrelay.dlq.op',
  lsn: 'vecrelay.dlq.lsn',
  xid: 'vecrelay.dlq.xid',
  seq: 'vecrelay.dlq.seq',
  /** On a replay marker: the dead letter replayed, `<partition>:<offset>` in the dead-letter topic. */
  replays: 'vecrelay.dlq.replays',
  /** On a replay marker: where the record went, `<topic>[<partition>]@<offset>`. */
  replayedTo: 'vecrelay.dlq.replayed-to',
  /** On a replayed change record: the dead letter it came from, `<partition>:<offset>`. */
  replayOf: 'vecrelay.dlq.replay-of',
} as const;

const DLQ_PREFIX = 'vecrelay.dlq.';
/** A reason is an error message: long enough for Qdrant's, bounded so a dead letter stays small. */
export const REASON_CHARS = 4000;

export type Headers = Array<[string, Buffer]>;

export interface SinkOrigin {
  stage: 'sink';
  topic: string;
  partition: number;
  offset: string;
}

export interface SourceOrigin {
  stage: 'source';
  table: string;
  op: string;
  /** Commit LSN as X/Y. */
  lsn: string;
  xid: number;
  seq?: number;
}

export type DeadLetterOrigin = SinkOrigin | SourceOrigin;

/** The headers of a dead letter; `original` (a sink record's own headers) are kept as they were. */
export function deadLetterHeaders(origin: DeadLetterOrigin, reason: string, original: Headers = []): Headers {
  const h: Headers = [
    [DLQ.version, Buffer.from(String(DLQ_VERSION))],
    [DLQ.stage, Buffer.from(origin.stage)],
    [DLQ.reason, Buffer.from(reason.slice(0, REASON_CHARS))],
  ];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined) h.push([name, Buffer.from(String(value))]);
  };
  if (origin.stage === 'sink') {
    add(DLQ.topic, origin.topic);
    add(DLQ.partition, origin.partition);
    add(DLQ.offset, origin.offset);
  } else {
    add(DLQ.table, origin.table);
    add(DLQ.op, origin.op);
    add(DLQ.lsn, origin.lsn);
    add(DLQ.xid, origin.xid);
    add(DLQ.seq, origin.seq);
  }
  // A record replayed once and refused again keeps its own (replay-of) trace, but never a second
  // set of dead-letter headers.
  for (const [name, value] of original)
    if (!isDlqHeader(name) || name === DLQ.replayOf) h.push([name, value]);
  return h;
}

/** The headers of the marker a replay appends to the dead-letter topic. */
export function replayMarkerHeaders(deadLetter: { partition: number; offset: string }, to: string): Headers {
  return [
    [DLQ.version, Buffer.from(String(DLQ_VERSION))],
    [DLQ.stage, Buffer.from('replay')],
    [DLQ.replays, Buffer.from(`${deadLetter.partition}:${deadLetter.offset}`)],
    [DLQ.replayedTo, Buffer.from(to)],
  ];
}

/** kafkajs consumer headers → Headers (a repeated header keeps every value, in order). */
export function fromKafkaHeaders(headers: IHeaders | undefined): Headers {
  const out: Headers = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push([name, Buffer.from(v)]);
  }
  return out;
}

/** Headers → what kafkajs' producer sends (one value per name: the first). */
export function toKafkaHeaders(headers: Headers): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of headers) out[name] ??= value;
  return out;
}

/** Headers → what the source's event producer sends. */
export function toHeaderMap(headers: Headers): ReadonlyMap<Buffer, Buffer> {
  return new Map(headers.map(([name, value]) => [Buffer.from(name), value]));
}

const isDlqHeader = (name: string) => name.startsWith(DLQ_PREFIX);

// ---- reading ----

/** A record of the dead-letter topic as read back. */
export interface StoredRecord {
  partition: number;
  offset: string;
  /** Kafka timestamp, ms since the epoch, as kafkajs gives it. */
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

export interface DeadLetter {
  kind: 'dead-letter';
  partition: number;
  offset: string;
  time: string;
  /** 1, or 0 for a dead letter written before the format had a version. */
  version: number;
  stage: 'source' | 'sink';
  reason: string;
  origin: DeadLetterOrigin;
  key: Buffer | null;
  /** The original bytes (sink) or the JSON description (source). */
  value: Buffer | null;
  /** The original record's headers (sink), to send again on replay; [] for an old dead letter. */
  original: Headers;
  /** A source dead letter's JSON, parsed (its `key`, size, cells). */
  body?: Record<string, unknown>;
}

export interface ReplayMarker {
  kind: 'replay';
  partition: number;
  offset: string;
  time: string;
  /** The dead letter replayed: `<partition>:<offset>`. */
  replays: string;
  to: string;
}

/** Decodes a record of the dead-letter topic; throws when it is none of the known forms. */
export function decodeDeadLetter(r: StoredRecord): DeadLetter | ReplayMarker {
  const get = (name: string) => r.headers.find(([n]) => n === name)?.[1].toString('utf8');
  const time = new Date(Number(r.timestamp)).toISOString();
  const at = { partition: r.partition, offset: r.offset, time };
  const version = get(DLQ.version);
  if (version !== undefined) {
    if (Number(version) > DLQ_VERSION)
      throw new Error(
        `dead-letter format version ${version}, newer than this vecrelay knows (${DLQ_VERSION})`,
      );
    const stage = get(DLQ.stage);
    if (stage === 'replay')
      return { kind: 'replay', ...at, replays: get(DLQ.replays) ?? '', to: get(DLQ.replayedTo) ?? '' };
    const reason = get(DLQ.reason) ?? '';
    const original = r.headers.filter(([n]) => !isDlqHeader(n) || n === DLQ.replayOf);
    if (stage === 'sink')
      return {
        kind: 'dead-letter',
        ...at,
        version: Number(version),
        stage,
        reason,
        origin: {
          stage,
          topic: get(DLQ.topic) ?? '',
          partition: Number(get(DLQ.partition)),
          offset: get(DLQ.offset) ?? '',
        },
        key: r.key,
        value: r.value,
        original,
      };
    if (stage === 'source') {
      const seq = get(DLQ.seq);
      return {
        kind: 'dead-letter',
        ...at,
        version: Number(version),
        stage,
        reason,
        origin: {
          stage,
          table: get(DLQ.table) ?? '',
          op: get(DLQ.op) ?? '',
          lsn: get(DLQ.lsn) ?? '',
          xid: Number(get(DLQ.xid)),
          ...(seq !== undefined ? { seq: Number(seq) } : {}),
        },
        key: r.key,
        value: r.value,
        original: [],
        ...(r.value ? { body: parseBody(r.value) } : {}),
      };
    }
    throw new Error(`dead letter with an unknown ${DLQ.stage}: ${JSON.stringify(stage)}`);
  }

  // Before the format: the sink's carried the original bytes, the reason in `vecrelay.error`.
  const error = get('vecrelay.error');
  if (error !== undefined)
    return {
      kind: 'dead-letter',
      ...at,
      version: 0,
      stage: 'sink',
      reason: error,
      origin: {
        stage: 'sink',
        topic: get('vecrelay.topic') ?? '',
        partition: Number(get('vecrelay.partition')),
        offset: get('vecrelay.offset') ?? '',
      },
      key: r.key,
      value: r.value,
      original: [],
    };
  // …and the source's were JSON with `from: "source"`.
  const body = r.value ? parseBody(r.value) : undefined;
  if (body?.from === 'source')
    return {
      kind: 'dead-letter',
      ...at,
      version: 0,
      stage: 'source',
      reason: String(body.reason === 'oversized' ? body.error : (body.error ?? '')),
      origin: {
        stage: 'source',
        table: String(body.table ?? ''),
        op: String(body.op ?? ''),
        lsn: String(body.lsn ?? ''),
        xid: Number(body.xid),
        ...(typeof body.seq === 'number' ? { seq: body.seq } : {}),
      },
      key: r.key,
      value: r.value,
      original: [],
      body,
    };
  throw new Error('not a dead letter: no vecrelay.dlq.version header, and none of the older forms');
}

function parseBody(value: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
