// Exact cutover (DESIGN.md guarantee 5): returns only when every change committed in Postgres
// before it was called is applied in Qdrant — never on a lag gauge that happened to read zero.
// The conditions, checked in this order (each waited for before the next):
//
//   1. target = pg_current_wal_insert_lsn(): every transaction that committed (returned to its
//      client) before now has its commit record below it. Not pg_current_wal_lsn(), the *write*
//      position: with synchronous_commit = off a commit returns before its record is written, so
//      it can lie beyond the write position (lag.ts currentWalInsertLsn);
//   2. every configured table's snapshot is complete (unless `snapshot: never`), as the source
//      records it in the state topic (cutover-snapshots.ts): a new slot's confirmed position can
//      be past the target while no snapshot row is in Kafka yet;
//   3. the slot's confirmed_flush_lsn ≥ target: the source confirms a position only once Kafka
//      holds every event below it, so all those events are now in the topics;
//   4. each change topic's end offsets, taken once 3 holds, are reached by the sink group: the sink
//      commits an offset only once Qdrant applied everything before it. Every partition counts —
//      an empty one is reached when the group has nothing left to read there;
//   5. no dead letter of a change at or below the target (cutover-dead-letters.ts): those rows
//      are not in Qdrant although the offsets past them are committed. If there is one, cutover
//      fails at once, naming them (waiting cannot fix it: `vecrelay dlq` can).
import { performance } from 'node:perf_hooks';
import type { LoadedConfig } from '../config/load.js';
import { splitTable } from '../config/load.js';
import { formatLsn, parseLsn } from '../event/lsn.js';
import { changeTopic, sinkGroupId, stateTopic } from '../event/names.js';
import { sleep } from '../shared/backoff.js';
import { bounded, brokerBusy, type OpsClients } from './connect.js';
import { messageOf } from '../shared/errors.js';
import { checkDeadLetters, type Ends } from './cutover-dead-letters.js';
import { SnapshotStates, type TableName } from './cutover-snapshots.js';
import type { DlqEntry } from './dlq.js';
import { consumerLag, currentWalInsertLsn, slotLag, topicEnds } from './lag.js';

export interface CutoverOptions {
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
  /** What cutover waits on now: called each time that changes (not on every poll). */
  onPhase?: (phase: string) => void;
  /**
   * performance.now() when the command started; elapsed time and the timeout count from it.
   * 0 = the process's start, so the time printed is the time the command took, connecting included.
   */
  startedAt?: number;
}

export interface CutoverResult {
  ok: boolean;
  targetLsn: string;
  elapsedMs: number;
  /** What is still behind when it timed out. */
  behind: string[];
  /** Dead letters of changes at or below the target: cutover failed on them. */
  deadLetters: DlqEntry[];
}

export async function cutover(
  config: LoadedConfig,
  ops: OpsClients,
  options: CutoverOptions,
): Promise<CutoverResult> {
  const { sql, admin } = ops;
  const started = options.startedAt ?? performance.now();
  const deadline = started + options.timeoutMs;
  const poll = options.pollMs ?? 200;
  const slotName = config.postgres.slot;
  const groupId = sinkGroupId(config);
  const tables: TableName[] = config.tables.map((t) => splitTable(t.table));
  const topics = tables.map((t) => changeTopic(config.kafka.topicPrefix, t.schema, t.table));

  const target = await bounded('PostgreSQL', currentWalInsertLsn(sql));
  const result = (ok: boolean, behind: string[] = [], deadLetters: DlqEntry[] = []): CutoverResult => ({
    ok,
    targetLsn: formatLsn(target),
    elapsedMs: performance.now() - started,
    behind,
    deadLetters,
  });
  const timedOut = () => performance.now() > deadline;
  let said: string | undefined;
  /** Says what it waits on when that changed: `key` names the condition and what it waits for. */
  const waiting = (key: string, text = key) => {
    if (key === said) return;
    said = key;
    options.onPhase?.(text);
  };

  /**
   * Runs one read of a wait; false when Kafka answered that it is busy (a topic or group the
   * source or sink created a moment ago: cutover called on a cold start), to be read again at the
   * next poll — until the deadline, when the error ends the command as any other.
   */
  const answered = async (read: () => Promise<unknown>): Promise<boolean> => {
    try {
      await read();
      return true;
    } catch (err) {
      if (!brokerBusy(err) || timedOut()) throw err;
      waiting('kafka busy', `waiting for Kafka: ${messageOf(err)}`);
      return false;
    }
  };

  // 2. Every table's snapshot complete.
  if (config.snapshot.mode !== 'never') {
    const states = new SnapshotStates(ops.kafka, admin, stateTopic(config.kafka.topicPrefix, config.name));
    for (;;) {
      if (!(await answered(() => states.refresh()))) {
        await sleep(poll, options.signal);
        continue;
      }
      const pending = states.pending(tables);
      if (pending.length === 0) break;
      const lines = pending.map((p) => `snapshot of ${p.table} not complete: ${p.detail}`);
      waiting(
        `snapshot ${pending.map((p) => p.table).join(' ')}`,
        `waiting for the snapshot of ${pending.length} table${pending.length === 1 ? '' : 's'}:\n` +
          lines.map((l) => `  ${l}`).join('\n'),
      );
      if (timedOut()) return result(false, lines);
      await sleep(poll, options.signal);
    }
  }

  // 3. The source confirmed past the target.
  waiting('source', `waiting for the source to confirm WAL position ${formatLsn(target)}`);
  for (;;) {
    const slot = await bounded('PostgreSQL', slotLag(sql, slotName));
    if (!slot.exists)
      return result(false, [`replication slot ${slotName} does not exist: is the source set up?`]);
    const confirmed = slot.confirmedFlushLsn ? parseLsn(slot.confirmedFlushLsn) : 0n;
    if (confirmed >= target) break;
    if (timedOut())
      return result(false, [
        `source: slot ${slotName} confirmed ${slot.confirmedFlushLsn ?? 'nothing'}, needs ${formatLsn(target)} ` +
          `(${slot.lagBytes ?? '?'} bytes of WAL behind${slot.active ? '' : '; the slot is not active: is the source running?'})`,
      ]);
    await sleep(poll, options.signal);
  }

  // 4. The sink reached every partition's end as of that confirmation.
  // A topic that does not exist is named, not asked about (kafkajs retries it for minutes).
  const listed = new Set(await bounded('Kafka', admin.listTopics()));
  const missing = topics.filter((t) => !listed.has(t));
  if (missing.length)
    return result(
      false,
      missing.map((t) => `topic ${t} does not exist: the source creates it when it starts`),
    );
  const ends: Ends = new Map();
  for (const topic of topics)
    while (!(await answered(async () => ends.set(topic, await bounded('Kafka', topicEnds(admin, topic))))))
      await sleep(poll, options.signal);
  waiting('sink', `waiting for the sink group ${groupId} to apply everything the source wrote`);
  for (;;) {
    const behind: string[] = [];
    const lagsOf = new Map<string, Awaited<ReturnType<typeof consumerLag>>>();
    const read = async () => {
      for (const topic of topics)
        lagsOf.set(topic, await bounded('Kafka', consumerLag(admin, groupId, topic)));
    };
    if (!(await answered(read))) {
      await sleep(poll, options.signal);
      continue;
    }
    for (const topic of topics) {
      const lags = new Map(lagsOf.get(topic)!.map((l) => [l.partition, l]));
      // Every partition, empty ones too: one the group never committed is reached only when it
      // has nothing there to read (its start is at the end).
      for (const [partition, end] of ends.get(topic)!) {
        const lag = lags.get(partition);
        const next = lag?.next ?? 0n;
        if (next < end)
          behind.push(
            `sink: ${topic}[${partition}] committed ${lag && lag.committed >= 0n ? lag.committed : 'nothing'}, needs ${end}`,
          );
      }
    }
    if (behind.length === 0) break;
    if (timedOut()) return result(false, behind);
    await sleep(poll, options.signal);
  }

  // 5. No dead letter at or below the target.
  waiting('dead letters', 'checking the dead letters');
  const clients = { kafka: ops.kafka, admin, close: async () => {} };
  for (;;) {
    let check!: Awaited<ReturnType<typeof checkDeadLetters>>;
    if (
      !(await answered(async () => (check = await checkDeadLetters(config, clients, groupId, target, ends))))
    ) {
      await sleep(poll, options.signal);
      continue;
    }
    const unreadable = check.unreadable.map(
      (u) => `dead letter ${u} (it may be of a change below the target: see vecrelay dlq)`,
    );
    if (check.blocking.length || unreadable.length) return result(false, unreadable, check.blocking);
    if (check.inFlight.length === 0) return result(true);
    waiting(
      `replays ${check.inFlight.join(' ')}`,
      `waiting for the sink to apply replayed dead letters: ${check.inFlight.join(', ')}`,
    );
    if (timedOut())
      return result(
        false,
        check.inFlight.map((at) => `sink: the replayed dead letter at ${at} is not applied yet`),
      );
    await sleep(poll, options.signal);
  }
}

/** The command's report (stdout). */
export function renderCutover(result: CutoverResult, configFile: string): string {
  const elapsed = `${(result.elapsedMs / 1000).toFixed(2)} s`;
  if (result.ok)
    return `cutover: exact — every change committed before ${result.targetLsn} is in Qdrant (${elapsed})`;
  if (result.deadLetters.length) {
    const n = result.deadLetters.length;
    return [
      `cutover: NOT exact (${elapsed}): ${n} dead letter${n === 1 ? '' : 's'} of changes at or below the ` +
        `target ${result.targetLsn} never reached Qdrant:`,
      ...result.deadLetters.map(
        (d) =>
          `  ${d.table ?? '?'} key ${d.key ?? '?'} at ${d.lsn ? `LSN ${d.lsn}` : d.origin}` +
          `${d.snapshot ? ' (snapshot row)' : ''} — ${d.stage} dead letter ${d.id}: ${d.reason.split('\n')[0]}`,
      ),
      ...result.behind.map((b) => `  ${b}`),
      `Fix the cause, then list and replay them with \`vecrelay dlq --config ${configFile}\` ` +
        `(\`--replay <id>\`; a source dead letter needs its table re-synced), and run cutover again.`,
    ].join('\n');
  }
  return [
    `cutover: NOT exact after ${elapsed} (target ${result.targetLsn}); behind:`,
    ...result.behind.map((b) => `  ${b}`),
  ].join('\n');
}
