// `vecrelay dlq`: lists the pipeline's dead letters (src/kafka/dead-letter-codec.ts) and replays
// chosen sink dead letters once their cause is fixed.
//
// A replay sends the dead letter's original record (same key, value and headers, plus
// vecrelay.dlq.replay-of naming the dead letter) to the end of its original change-topic
// partition, where the sink reads it like any other event. Ordering: the replayed event is older
// than what came after it in the partition, but the sink writes every event conditionally on its
// source position (lsn, seq) (src/sink/qdrant/fence.ts): a point already holding a newer state
// keeps it, so replaying a stale event is a no-op, and replaying it twice is harmless. The one
// thing a position guard cannot catch is a later delete — Qdrant keeps no tombstone, so a replayed
// upsert would bring a deleted row back. So before replaying, the rest of the partition after the
// dead letter's origin is read: a key with a later event (update, delete or tombstone) is already
// settled by it and is not replayed ("superseded"). Once the cleaner has dropped a delete's
// tombstone (kafka.deleteRetentionMs), that trace is gone: replay dead letters soon after the fix.
//
// Source dead letters are rows that never became events: there is no event to replay. They are
// listed as not replayable; the table must be re-synced once the cause is fixed.
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { formatLsn } from '../event/lsn.js';
import { decoderFor, versionOf, SCHEMA_HEADER } from '../event/versions.js';
import {
  DLQ,
  decodeDeadLetter,
  fromKafkaHeaders,
  replayMarkerHeaders,
  toKafkaHeaders,
  type DeadLetter,
  type ReplayMarker,
} from '../kafka/dead-letter-codec.js';
import { deadLetterTopic } from '../kafka/topics.js';
import { ConfigError, messageOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { bounded, connectKafkaClient, kafkaWhere, Unreachable } from './connect.js';
import { partitionOffsets, readRanges, type Range } from './dlq-read.js';

export interface DlqEntry {
  /** Where the dead letter is in the dead-letter topic: `<partition>:<offset>`. */
  id: string;
  partition: number;
  offset: string;
  time: string;
  stage: 'source' | 'sink';
  /** 1, or 0: written before the format had a version. */
  version: number;
  table: string | null;
  key: string | null;
  reason: string;
  /** sink: the change record's topic[partition]@offset; source: the table's LSN / xid / seq. */
  origin: string;
  /**
   * The change's commit LSN (X/Y) — for a snapshot row the position it was read at; null when
   * unknown (a tombstone, bytes that are not an event). Cutover compares it with its target.
   */
  lsn: string | null;
  /** A snapshot row (op r): it carries the row as committed at some point before its `lsn`. */
  snapshot: boolean;
  replayable: boolean;
  /** Why not, and what to do instead. */
  notReplayable?: string;
  replayed?: { at: string; to: string };
}

export interface DlqListing {
  topic: string;
  /**
   * Dead letters in the topic, listed or not: its records less the replay markers read (with
   * --limit, markers older than the window still count).
   */
  total: number;
  entries: DlqEntry[];
  /** Records of the topic that are not dead letters of a known form, one line each. */
  unreadable: string[];
}

export interface DlqClients {
  kafka: Kafka;
  admin: Admin;
  close(): Promise<void>;
}

export async function openDlq(config: LoadedConfig, log: Logger): Promise<DlqClients> {
  const { kafka, admin } = await connectKafkaClient(config, log, `${config.kafka.clientId}-dlq`);
  return {
    kafka,
    admin,
    async close() {
      await Promise.race([admin.disconnect().catch(() => {}), pause(2000)]);
    },
  };
}

interface Read {
  topic: string;
  letters: DeadLetter[];
  markers: ReplayMarker[];
  unreadable: string[];
  total: number;
}

/** Reads the dead-letter topic (the newest `limit` records when given). */
async function readTopic(config: LoadedConfig, clients: DlqClients, limit?: number): Promise<Read> {
  const where = kafkaWhere(config);
  const topic = deadLetterTopic(config.kafka.topicPrefix, config.name);
  const read: Read = { topic, letters: [], markers: [], unreadable: [], total: 0 };
  if (!(await bounded(where, clients.admin.listTopics())).includes(topic)) return read;
  const ranges = await partitionOffsets(where, clients.admin, topic);
  // Replay markers follow what they replayed, so the newest records carry the markers of every
  // dead letter among them.
  const window = ranges.map((r) => ({
    ...r,
    from: limit === undefined || r.to - r.from <= BigInt(limit) ? r.from : r.to - BigInt(limit),
  }));
  await readRanges(where, clients.kafka, clients.admin, topic, window, (partition, m) => {
    try {
      const decoded = decodeDeadLetter({
        partition,
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key,
        value: m.value,
        headers: fromKafkaHeaders(m.headers),
      });
      if (decoded.kind === 'replay') read.markers.push(decoded);
      else read.letters.push(decoded);
    } catch (err) {
      read.unreadable.push(`${partition}:${m.offset}: ${messageOf(err)}`);
    }
  });
  if (limit !== undefined) {
    read.letters.sort((a, b) => Number(BigInt(a.offset) - BigInt(b.offset)));
    read.letters = read.letters.slice(-limit);
  }
  read.total = ranges.reduce((n, r) => n + Number(r.to - r.from), 0);
  return read;
}

export async function listDeadLetters(
  config: LoadedConfig,
  clients: DlqClients,
  limit?: number,
): Promise<DlqListing> {
  const read = await readTopic(config, clients, limit);
  return {
    topic: read.topic,
    total: read.total - read.markers.length,
    entries: read.letters.map((l) => entryOf(l, read.markers)),
    unreadable: read.unreadable,
  };
}

function entryOf(l: DeadLetter, markers: ReplayMarker[]): DlqEntry {
  const id = `${l.partition}:${l.offset}`;
  const marker = markers.filter((m) => m.replays === id).at(-1);
  const base = {
    id,
    partition: l.partition,
    offset: l.offset,
    time: l.time,
    stage: l.stage,
    version: l.version,
    reason: l.reason,
    ...(marker ? { replayed: { at: marker.time, to: marker.to } } : {}),
  };
  if (l.origin.stage === 'source') {
    const o = l.origin;
    const key = l.body?.key;
    return {
      ...base,
      table: o.table || null,
      key: typeof key === 'string' ? key : null,
      origin: `${o.op} at LSN ${o.lsn}, xid ${o.xid}${o.seq === undefined ? '' : `, seq ${o.seq}`}`,
      lsn: o.lsn || null,
      snapshot: o.op === 'snapshot',
      replayable: false,
      notReplayable:
        `a row that never became an event: there is nothing to replay. Once its cause is fixed, ` +
        `re-sync the table ${o.table} (or update the row again)`,
    };
  }
  const o = l.origin;
  const origin = `${o.topic}[${o.partition}]@${o.offset}`;
  const key = l.key === null ? null : l.key.toString('utf8');
  let table: string | null = null;
  let lsn: string | null = null;
  let snapshot = false;
  let why: string | undefined;
  if (l.version === 0)
    why =
      'written before dead letters kept the record’s schema version header: it cannot be sent back ' +
      'as it was; re-sync the table';
  else if (l.value === null)
    why =
      'a tombstone: its delete carries no source position, so a replay could delete a row written ' +
      'since; re-sync the table if the key is still in Qdrant';
  if (l.value !== null) {
    try {
      const schema = l.original.find(([n]) => n === SCHEMA_HEADER)?.[1];
      const event = decoderFor(versionOf(schema))(l.value);
      table = `${event.source.schema}.${event.source.table}`;
      lsn = formatLsn(event.source.lsn);
      snapshot = event.op === 'r';
    } catch (err) {
      why ??= `its bytes are not an event (${messageOf(err)}): nothing to replay`;
    }
  }
  return {
    ...base,
    table,
    key,
    origin,
    lsn,
    snapshot,
    replayable: why === undefined,
    ...(why ? { notReplayable: why } : {}),
  };
}

export interface ReplayOutcome {
  id: string;
  /** replayed: sent back to `to`; skipped: why not. */
  result: 'replayed' | 'skipped';
  to?: string;
  why?: string;
}

/** Parses `<offset>` (partition 0) or `<partition>:<offset>`. */
export function parseDlqId(text: string): string {
  const m = /^(?:(\d+):)?(\d+)$/.exec(text.trim());
  if (!m)
    throw new ConfigError(
      `${JSON.stringify(text)} is not a dead letter: give its offset, or <partition>:<offset>`,
    );
  return `${m[1] ?? '0'}:${m[2]}`;
}

/**
 * The dead letters `ids` (or every replayable one not yet replayed, with 'all') that a replay
 * would send, and those it would not (with why).
 */
export async function planReplay(
  config: LoadedConfig,
  clients: DlqClients,
  ids: string[] | 'all',
): Promise<{ send: DeadLetter[]; skipped: ReplayOutcome[] }> {
  const read = await readTopic(config, clients);
  const byId = new Map(read.letters.map((l) => [`${l.partition}:${l.offset}`, l]));
  const skipped: ReplayOutcome[] = [];
  const chosen: DeadLetter[] = [];
  const wanted = ids === 'all' ? [...byId.keys()] : ids;
  for (const id of wanted) {
    const letter = byId.get(id);
    if (!letter) {
      skipped.push({ id, result: 'skipped', why: `no dead letter at ${id} in ${read.topic}` });
      continue;
    }
    const entry = entryOf(letter, read.markers);
    if (!entry.replayable) {
      if (ids !== 'all' || letter.stage === 'source' || letter.version === 0)
        skipped.push({ id, result: 'skipped', why: `not replayable: ${entry.notReplayable}` });
      continue;
    }
    if (entry.replayed) {
      if (ids !== 'all')
        skipped.push({
          id,
          result: 'skipped',
          why: `already replayed at ${entry.replayed.at} to ${entry.replayed.to}`,
        });
      continue;
    }
    chosen.push(letter);
  }
  // A key with a later event in its partition is settled by it (see the top of this file).
  const later = await laterEvents(config, clients, chosen);
  const send: DeadLetter[] = [];
  for (const letter of chosen) {
    const o = letter.origin as { topic: string; partition: number; offset: string };
    const newer = later.get(`${o.topic}\0${o.partition}\0${letter.key?.toString('base64') ?? ''}`);
    if (newer !== undefined && newer > BigInt(o.offset)) {
      skipped.push({
        id: `${letter.partition}:${letter.offset}`,
        result: 'skipped',
        why: `superseded: its key has a later event at ${o.topic}[${o.partition}]@${newer}, which settles it`,
      });
      continue;
    }
    send.push(letter);
  }
  return { send, skipped };
}

/** The last offset of each key in the partitions the letters came from, after their origins. */
async function laterEvents(
  config: LoadedConfig,
  clients: DlqClients,
  letters: DeadLetter[],
): Promise<Map<string, bigint>> {
  const where = kafkaWhere(config);
  const last = new Map<string, bigint>();
  const byTopic = new Map<string, Map<number, bigint>>();
  for (const l of letters) {
    const o = l.origin as { topic: string; partition: number; offset: string };
    const parts = byTopic.get(o.topic) ?? new Map<number, bigint>();
    const from = BigInt(o.offset) + 1n;
    parts.set(o.partition, parts.has(o.partition) ? min(parts.get(o.partition)!, from) : from);
    byTopic.set(o.topic, parts);
  }
  const existing = new Set(await bounded(where, clients.admin.listTopics()));
  for (const [topic, parts] of byTopic) {
    if (!existing.has(topic))
      throw new Unreachable(`${topic} does not exist: the source creates it; start it, then replay`);
    const ranges: Range[] = (await partitionOffsets(where, clients.admin, topic))
      .filter((r) => parts.has(r.partition))
      .map((r) => ({ ...r, from: max(r.from, parts.get(r.partition)!) }));
    await readRanges(where, clients.kafka, clients.admin, topic, ranges, (partition, m: KafkaMessage) => {
      last.set(`${topic}\0${partition}\0${m.key?.toString('base64') ?? ''}`, BigInt(m.offset));
    });
  }
  return last;
}

/** Sends each dead letter back to its change-topic partition, then records the replay. */
export async function replay(
  config: LoadedConfig,
  clients: DlqClients,
  letters: DeadLetter[],
): Promise<ReplayOutcome[]> {
  const where = kafkaWhere(config);
  const topic = deadLetterTopic(config.kafka.topicPrefix, config.name);
  const producer = clients.kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
  await bounded(where, producer.connect());
  const out: ReplayOutcome[] = [];
  try {
    for (const l of letters) {
      const o = l.origin as { topic: string; partition: number; offset: string };
      const id = `${l.partition}:${l.offset}`;
      const headers = l.original.filter(([n]) => n !== DLQ.replayOf);
      headers.push([DLQ.replayOf, Buffer.from(id)]);
      const [sent] = await bounded(
        where,
        producer.send({
          topic: o.topic,
          acks: -1,
          messages: [
            { key: l.key, value: l.value, partition: o.partition, headers: toKafkaHeaders(headers) },
          ],
        }),
      );
      const to = `${o.topic}[${o.partition}]@${sent?.baseOffset ?? '?'}`;
      await bounded(
        where,
        producer.send({
          topic,
          acks: -1,
          messages: [
            {
              key: null,
              value: null,
              partition: l.partition,
              headers: toKafkaHeaders(replayMarkerHeaders(l, to)),
            },
          ],
        }),
      );
      out.push({ id, result: 'replayed', to });
    }
  } finally {
    await Promise.race([producer.disconnect().catch(() => {}), pause(2000)]);
  }
  return out;
}

export function renderListing(l: DlqListing): string {
  const lines = [`${l.topic}: ${l.total} dead letter${l.total === 1 ? '' : 's'}`];
  if (l.entries.length < l.total) lines[0] += ` (the newest ${l.entries.length} listed)`;
  for (const e of l.entries) {
    lines.push(
      '',
      `${e.id}  ${e.time}  ${e.stage}  ${e.table ?? '?'}  key ${e.key ?? '-'}`,
      `    reason: ${e.reason.split('\n')[0]}`,
      `    origin: ${e.origin}`,
      e.replayed
        ? `    replayed ${e.replayed.at} to ${e.replayed.to}`
        : e.replayable
          ? `    replayable: vecrelay dlq --replay ${e.id}`
          : `    not replayable: ${e.notReplayable}`,
    );
  }
  for (const u of l.unreadable) lines.push('', `unreadable: ${u}`);
  return lines.join('\n');
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
