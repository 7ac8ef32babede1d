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
import type { Admin } from 'kafkajs';
import type { LoadedConfig } from '../config/load.js';
import { parseLsn } from '../event/lsn.js';
import { deadLetterTopic } from '../event/names.js';
import { bounded } from './connect.js';
import { listDeadLetters, type DlqClients, type DlqEntry } from './dlq.js';

/** topic → partition → the end offset cutover waited for. */
export type Ends = Map<string, Map<number, bigint>>;

export interface DeadLetterCheck {
  /** Dead letters of changes at or below the target, not replayed: cutover fails on them. */
  blocking: DlqEntry[];
  /** Replayed dead letters whose copy the sink has not committed past yet, as topic[partition]@offset. */
  inFlight: string[];
}

export async function checkDeadLetters(
  config: LoadedConfig,
  clients: DlqClients,
  groupId: string,
  target: bigint,
  ends: Ends,
): Promise<DeadLetterCheck> {
  const out: DeadLetterCheck = { blocking: [], inFlight: [] };
  const topic = deadLetterTopic(config.kafka.topicPrefix, config.name);
  // Most pipelines have none: no group to join when the topic is empty or absent.
  if (!(await hasRecords(clients.admin, topic))) return out;
  const listing = await listDeadLetters(config, clients);
  const replays: Array<{ entry: DlqEntry; at: Position }> = [];
  for (const entry of listing.entries) {
    if (!atOrBelow(entry, target, ends)) continue;
    // A replay whose destination is not known cannot be shown applied: it keeps blocking.
    const at = entry.replayed ? parsePosition(entry.replayed.to) : undefined;
    if (at) replays.push({ entry, at });
    else out.blocking.push(entry);
  }
  const committed = await committedOffsets(clients.admin, groupId, [
    ...new Set(replays.map((r) => r.at.topic)),
  ]);
  for (const { at } of replays) {
    const next = committed.get(at.topic)?.get(at.partition) ?? -1n;
    if (next <= at.offset) out.inFlight.push(`${at.topic}[${at.partition}]@${at.offset}`);
  }
  return out;
}

function atOrBelow(entry: DlqEntry, target: bigint, ends: Ends): boolean {
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
