// Cutover's last condition: no dead letter was written for a change at or below the target. The
// sink commits past a record it dead-letters, and a row the source dead-letters never reaches a
// change topic: committed offsets alone would call such a row applied while Qdrant lacks it.
//
// Read once the sink has caught up with every partition's end as of the source's confirmation:
// the sink writes a dead letter before it commits past its record, and the source before it
// confirms past its row, so every dead letter of a change at or below the target exists by then.
//
// A dead letter blocks when its change is at or below the target:
//   - its commit LSN is ≤ the target;
//   - or it is a snapshot row, whatever its LSN: a snapshot row carries a row as committed at some
//     point before it was read (a chunk read after the target holds rows committed before it);
//   - or its LSN is unknown (a tombstone, bytes that are not an event, an old source record): it
//     blocks unless it is a sink dead letter of a record past the ends cutover waited for.
// It stops blocking once `vecrelay dlq --replay` sent it back (a replay marker, src/ops/dlq.ts)
// and the sink has committed past the copy; until then cutover waits for the sink. A copy the
// sink refuses again is a new dead letter (same LSN), which blocks in its turn.
//
// A sink dead letter also stops blocking when its key has a later event in the same partition,
// below the end the sink reached, that Qdrant took (no dead letter of its own) and that settles
// the row by itself: a whole row, a delete or a tombstone — not a partial update
// (`unchangedColumns: partial`). That is the row's newer state, applied; `dlq --replay` skips
// such a dead letter as superseded and writes no marker, so without this it would block forever.
import type { Admin, KafkaMessage } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { parseLsn } from '../event/lsn.js';
import { deadLetterTopic } from '../event/names.js';
import { isPartialUpdate } from '../event/change-event.js';
import { decoderFor, SCHEMA_HEADER, versionOf } from '../event/versions.js';
import { bounded, kafkaWhere } from './connect.js';
import { listDeadLetters, type DlqClients, type DlqEntry } from './dlq.js';
import { readRanges, type Range } from './dlq-read.js';

/** topic → partition → the end offset cutover waited for. */
export type Ends = Map<string, Map<number, bigint>>;

export interface DeadLetterCheck {
  /** Dead letters of changes at or below the target, not replayed: cutover fails on them. */
  blocking: DlqEntry[];
  /** Replayed dead letters whose copy the sink has not committed past yet, as topic[partition]@offset. */
  inFlight: string[];
  /** Records of the dead-letter topic this vecrelay cannot read: they may be of any change. */
  unreadable: string[];
}

export async function checkDeadLetters(
  config: LoadedConfig,
  clients: DlqClients,
  groupId: string,
  target: bigint,
  ends: Ends,
): Promise<DeadLetterCheck> {
  const out: DeadLetterCheck = { blocking: [], inFlight: [], unreadable: [] };
  const topic = deadLetterTopic(config.kafka.topicPrefix, config.name);
  // Most pipelines have none: no group to join when the topic is empty or absent.
  if (!(await hasRecords(clients.admin, topic))) return out;
  const listing = await listDeadLetters(config, clients);
  out.unreadable = listing.unreadable;
  const replays: Array<{ entry: DlqEntry; at: Position }> = [];
  for (const entry of listing.entries) {
    if (!atOrBelow(entry, target, ends)) continue;
    // A replay whose destination is not known cannot be shown applied: it keeps blocking.
    const at = entry.replayed ? parsePosition(entry.replayed.to) : undefined;
    if (at) replays.push({ entry, at });
    else out.blocking.push(entry);
  }
  out.blocking = await unsettled(config, clients, out.blocking, listing.entries, ends);
  const committed = await committedOffsets(clients.admin, groupId, [
    ...new Set(replays.map((r) => r.at.topic)),
  ]);
  for (const { at } of replays) {
    const next = committed.get(at.topic)?.get(at.partition) ?? -1n;
    if (next <= at.offset) out.inFlight.push(`${at.topic}[${at.partition}]@${at.offset}`);
  }
  return out;
}

/** Whether a dead letter is of a change at or below the target (see the top of this file). */
export function atOrBelow(entry: DlqEntry, target: bigint, ends: Ends): boolean {
  if (entry.snapshot) return true;
  if (entry.lsn !== null) return parseLsn(entry.lsn) <= target;
  if (entry.stage === 'source') return true;
  const origin = parsePosition(entry.origin);
  if (!origin) return true;
  const end = ends.get(origin.topic)?.get(origin.partition);
  return end === undefined || origin.offset < end;
}

interface Position {
  topic: string;
  partition: number;
  offset: bigint;
}

/** `<topic>[<partition>]@<offset>`, as dlq.ts writes a sink origin and a replay's destination. */
function parsePosition(text: string): Position | undefined {
  const m = /^(.+)\[(\d+)\]@(\d+)$/.exec(text);
  return m ? { topic: m[1]!, partition: Number(m[2]), offset: BigInt(m[3]!) } : undefined;
}

async function hasRecords(admin: Admin, topic: string): Promise<boolean> {
  if (!(await bounded('Kafka', admin.listTopics())).includes(topic)) return false;
  const offsets = await bounded('Kafka', admin.fetchTopicOffsets(topic));
  return offsets.some((o) => BigInt(o.high) > BigInt(o.low));
}

async function committedOffsets(
  admin: Admin,
  groupId: string,
  topics: string[],
): Promise<Map<string, Map<number, bigint>>> {
  const out = new Map<string, Map<number, bigint>>();
  if (topics.length === 0) return out;
  const fetched = await bounded('Kafka', admin.fetchOffsets({ groupId, topics }));
  for (const t of fetched)
    out.set(t.topic, new Map(t.partitions.map((p) => [p.partition, BigInt(p.offset)])));
  return out;
}

/**
 * The blocking dead letters not settled by a later event of their key (see the top of this file):
 * reads each partition concerned from the first dead letter's origin up to the end the sink reached.
 */
async function unsettled(
  config: LoadedConfig,
  clients: DlqClients,
  blocking: DlqEntry[],
  all: DlqEntry[],
  ends: Ends,
): Promise<DlqEntry[]> {
  const candidates = new Map<DlqEntry, Position>();
  for (const entry of blocking) {
    const origin = entry.stage === 'sink' && entry.key !== null ? parsePosition(entry.origin) : undefined;
    if (origin && ends.get(origin.topic)?.has(origin.partition)) candidates.set(entry, origin);
  }
  if (candidates.size === 0) return blocking;
  // Records Qdrant refused do not settle anything (a replayed one's copy, read in its turn, may).
  const refused = new Set(all.filter((e) => e.stage === 'sink').map((e) => e.origin));
  const byTopic = new Map<string, Map<number, bigint>>();
  for (const origin of candidates.values()) {
    const parts = byTopic.get(origin.topic) ?? new Map<number, bigint>();
    const from = origin.offset + 1n;
    const had = parts.get(origin.partition);
    parts.set(origin.partition, had !== undefined && had < from ? had : from);
    byTopic.set(origin.topic, parts);
  }
  /** topic\0partition\0key → the last event of the key read: its offset, and whether it settles the row. */
  const last = new Map<string, { offset: bigint; settles: boolean }>();
  for (const [topic, parts] of byTopic) {
    const ranges: Range[] = [...parts].map(([partition, from]) => ({
      partition,
      from,
      to: ends.get(topic)!.get(partition)!,
    }));
    await readRanges(kafkaWhere(config), clients.kafka, clients.admin, topic, ranges, (partition, m) => {
      const position = `${topic}[${partition}]@${m.offset}`;
      last.set(`${topic}\0${partition}\0${m.key?.toString('utf8') ?? ''}`, {
        offset: BigInt(m.offset),
        settles: !refused.has(position) && settlesRow(m),
      });
    });
  }
  return blocking.filter((entry) => {
    const origin = candidates.get(entry);
    if (!origin) return true;
    const later = last.get(`${origin.topic}\0${origin.partition}\0${entry.key}`);
    return !(later && later.offset > origin.offset && later.settles);
  });
}

/** A tombstone, a delete or a whole row: applied, it leaves the point as the row is. */
function settlesRow(m: KafkaMessage): boolean {
  if (m.value === null) return true;
  try {
    const header = m.headers?.[SCHEMA_HEADER];
    const schema = Array.isArray(header) ? header[0] : header;
    return !isPartialUpdate(decoderFor(versionOf(schema))(m.value));
  } catch {
    return false;
  }
}
