// Waiting until the pipeline has applied every change below a WAL position — the two steps of
// cutover (cutover.ts) after its target: the slot's confirmed_flush_lsn reaches the position (the
// source confirms only what Kafka holds), then the sink group's committed offsets reach each
// change topic's end as of that moment (the sink commits only what Qdrant applied).
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../../event/lsn.js';
import { sleep } from '../../shared/backoff.js';
import { bounded } from '../connect.js';
import { consumerLag, slotLag, topicEnds } from '../lag.js';

export interface PipelineRef {
  sql: pg.Client;
  admin: Admin;
  slot: string;
  groupId: string;
  topics: string[];
}

/** WAL insert position: every transaction that has returned from COMMIT ends at or below it. */
export async function walInsertLsn(sql: pg.Client): Promise<bigint> {
  const { rows } = await sql.query<{ lsn: string }>(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
  return parseLsn(rows[0]!.lsn);
}

/** Resolves with what is still behind when `timeoutMs` passed; an empty list once applied. */
export async function waitApplied(
  p: PipelineRef,
  target: bigint,
  { timeoutMs, signal, pollMs = 200 }: { timeoutMs: number; signal?: AbortSignal; pollMs?: number },
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slot = await bounded('PostgreSQL', slotLag(p.sql, p.slot));
    if (!slot.exists) return [`replication slot ${p.slot} does not exist: is the source set up?`];
    const confirmed = slot.confirmedFlushLsn ? parseLsn(slot.confirmedFlushLsn) : 0n;
    if (confirmed >= target) break;
    if (Date.now() > deadline)
      return [
        `source: slot ${p.slot} confirmed ${slot.confirmedFlushLsn ?? 'nothing'}, needs ${formatLsn(target)}` +
          (slot.active ? '' : ' (the slot is not active: is the source running?)'),
      ];
    await sleep(pollMs, signal);
  }
  const listed = new Set(await bounded('Kafka', p.admin.listTopics()));
  const missing = p.topics.filter((t) => !listed.has(t));
  if (missing.length)
    return missing.map((t) => `topic ${t} does not exist: the source creates it when it starts`);
  const ends = new Map<string, Map<number, bigint>>();
  for (const topic of p.topics) ends.set(topic, await bounded('Kafka', topicEnds(p.admin, topic)));
  for (;;) {
    const behind: string[] = [];
    for (const topic of p.topics)
      for (const { partition, committed } of await bounded('Kafka', consumerLag(p.admin, p.groupId, topic))) {
        const end = ends.get(topic)!.get(partition) ?? 0n;
        if (end > 0n && committed < end)
          behind.push(
            `sink: ${topic}[${partition}] committed ${committed < 0n ? 'nothing' : committed}, needs ${end}`,
          );
      }
    if (behind.length === 0 || Date.now() > deadline) return behind;
    await sleep(pollMs, signal);
  }
}
