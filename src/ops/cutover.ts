// Exact cutover (DESIGN.md guarantee 5): returns only when every change committed in Postgres
// before it was called is applied in Qdrant — never on a lag gauge that happened to read zero.
//
//   1. target = pg_current_wal_lsn(): every transaction committed before now ends at or below it;
//   2. wait until the slot's confirmed_flush_lsn ≥ target: the source confirms a position only
//      once Kafka holds every event below it, so all those events are now in the topics;
//   3. take each change topic's end offsets, and wait until the sink group's committed offsets
//      reach them: the sink commits an offset only once Qdrant applied everything before it.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../event/lsn.js';
import { sleep } from '../shared/backoff.js';
import { bounded } from './connect.js';
import { consumerLag, currentWalLsn, slotLag, topicEnds } from './lag.js';

export interface CutoverOptions {
  slot: string;
  groupId: string;
  topics: string[];
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  onPhase?: (phase: string) => void;
}

export interface CutoverResult {
  ok: boolean;
  targetLsn: string;
  elapsedMs: number;
  /** What is still behind when it timed out. */
  behind: string[];
}

export async function cutover(sql: pg.Client, admin: Admin, options: CutoverOptions): Promise<CutoverResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const poll = options.pollMs ?? 200;
  const target = await bounded('PostgreSQL', currentWalLsn(sql));
  const result = (ok: boolean, behind: string[] = []): CutoverResult => ({
    ok,
    targetLsn: formatLsn(target),
    elapsedMs: Date.now() - started,
    behind,
  });

  options.onPhase?.(`waiting for the source to confirm WAL position ${formatLsn(target)}`);
  for (;;) {
    const slot = await bounded('PostgreSQL', slotLag(sql, options.slot));
    if (!slot.exists)
      return result(false, [`replication slot ${options.slot} does not exist: is the source set up?`]);
    const confirmed = slot.confirmedFlushLsn ? parseLsn(slot.confirmedFlushLsn) : 0n;
    if (confirmed >= target) break;
    if (Date.now() > deadline)
      return result(false, [
        `source: slot ${options.slot} confirmed ${slot.confirmedFlushLsn ?? 'nothing'}, needs ${formatLsn(target)} ` +
          `(${slot.lagBytes ?? '?'} bytes of WAL behind${slot.active ? '' : '; the slot is not active: is the source running?'})`,
      ]);
    await sleep(poll, options.signal);
  }

  options.onPhase?.('waiting for the sink to apply everything the source wrote');
  // A topic that does not exist is named, not asked about (kafkajs retries it for minutes).
  const listed = new Set(await bounded('Kafka', admin.listTopics()));
  const missing = options.topics.filter((t) => !listed.has(t));
  if (missing.length)
    return result(
      false,
      missing.map((t) => `topic ${t} does not exist: the source creates it when it starts`),
    );
  const ends = new Map<string, Map<number, bigint>>();
  for (const topic of options.topics) ends.set(topic, await bounded('Kafka', topicEnds(admin, topic)));
  for (;;) {
    const behind: string[] = [];
    for (const topic of options.topics) {
      const lags = await bounded('Kafka', consumerLag(admin, options.groupId, topic));
      for (const { partition, committed } of lags) {
        const end = ends.get(topic)!.get(partition) ?? 0n;
        if (end > 0n && committed < end)
          behind.push(
            `sink: ${topic}[${partition}] committed ${committed < 0n ? 'nothing' : committed}, needs ${end}`,
          );
      }
    }
    if (behind.length === 0) return result(true);
    if (Date.now() > deadline) return result(false, behind);
    await sleep(poll, options.signal);
  }
}
