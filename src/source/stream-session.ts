// One streaming session: from the slot's confirmed position until stopped or broken. Every error
// ends the session; the owner (source.ts) starts a new one, which resumes from what Postgres
// confirmed — Kafka may see a suffix again (replays converge), never a gap.
//
// Acknowledgement (DESIGN.md guarantee 1): the position sent to Postgres is the AckTracker's, i.e.
// the commit end LSN of the newest transaction whose every event Kafka stored; keepalives are
// answered with that same position, and when nothing is outstanding the position follows the
// server's keepalives and our heartbeat messages so the slot advances while the tables are quiet.
import type pg from 'pg';
import type { LoadedConfig } from '../config/load.js';
import type { TableConfig } from '../config/schema.js';
import type { ChangeEvent } from '../event/change-event.js';
import type { Logger } from '../shared/log.js';
import { AckTracker, type TrackedTx } from './ack-tracker.js';
import { ChangeBuilder, RelationPlan, type CellDecoders, type TxInfo } from './changes.js';
import {
  RelationCache,
  formatLsn,
  parseLsn,
  type Tuple,
  type DeleteMessage,
  type InsertMessage,
  type PgoutputMessage,
  type UpdateMessage,
} from './pgoutput/index.js';
import type { ChangeWriter, Track } from './change-log.js';
import { FillQueue, type Step } from './fill-queue.js';
import { hasSendableKey, unsentColumns } from './reselect.js';
import { isRowFailure } from './row-failure.js';
import { connectClient, passwordSource, pgClientConfig } from './postgres/connect.js';
import { readSlot } from './postgres/preflight.js';
import { ReplicationStream } from './postgres/replication.js';
import { slotLag } from './postgres/slot-lag.js';
import { canonicalKey } from '../event/key.js';
import { readWatermark } from './snapshot/watermarks.js';
import { readResync, type ResyncRequest } from './snapshot/resync-request.js';
import type { ChunkWindows } from './snapshot/windows.js';
import { metrics, setReady } from '../shared/metrics.js';
import { releaseTuple, releaseVectors } from './row-memory.js';
import { emitChunk } from './snapshot/chunk-emitter.js';

export const HEARTBEAT_PREFIX = 'vecrelay.heartbeat';

type RowMessage = InsertMessage | UpdateMessage | DeleteMessage;

/** A table the pipeline captures: its config entry, with the key as the catalog gives it. */
export interface CapturedTable {
  table: TableConfig;
}

export interface SessionDeps {
  config: LoadedConfig;
  log: Logger;
  /** Where the events go (src/source/change-log.ts); the session's own. */
  writer: ChangeWriter;
  decoders: CellDecoders;
  /** By "schema.table". */
  tables: Map<string, CapturedTable>;
  /** Ask pgoutput for binary columns (false when a captured type has no binary decoder here). */
  binary: boolean;
  onEvent?: (event: ChangeEvent) => void;
  /**
   * Called once the session has confirmed a new position: every system worked end to end (the
   * source logs that an outage is over; merely starting the stream proves nothing about Kafka).
   */
  onStreaming?: () => void;
  /** An outage is in progress (outage.ts): its retries do not each announce a new stream. */
  quiet?: boolean;
  /** The snapshot chunks between their watermarks (snapshot/windows.ts). */
  windows?: ChunkWindows;
  /** A `vecrelay resync` request met in the stream; resolves once it is recorded. */
  onResync?: (request: ResyncRequest) => Promise<void>;
  /** A Relation message of a captured table (an ALTER TABLE may have changed its vectors). */
  onRelation?: (plan: RelationPlan) => void;
}

export class StreamSession {
  private readonly builder: ChangeBuilder;
  private readonly relations = new RelationCache();
  private readonly plans = new Map<number, { plan: RelationPlan; routed: CapturedTable } | null>();
  private tx: { tracked: TrackedTx; info: TxInfo } | null = null;
  private draining = false;
  /** This transaction's steps waiting for a read-back, in stream order. */
  private readonly queue: FillQueue;
  /** A plain connection of the session (heartbeats, slot lag, fillUnsent). */
  private sql: pg.Client | undefined;
  /** Ends the session with an error (from callbacks outside the message loop). */
  private fail: (err: Error) => void = () => {};

  constructor(private readonly deps: SessionDeps) {
    this.builder = new ChangeBuilder(deps.decoders);
    this.queue = new FillQueue(deps.decoders, deps.log);
  }

  /** Streams until `signal` aborts (then drains, confirms and resolves) or an error (rejects). */
  async run(signal: AbortSignal): Promise<void> {
    const { config, log } = this.deps;
    let failure: ((err: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => (failure = reject));
    failed.catch(() => {});
    this.fail = (err) => failure!(err);
    // Idle between heartbeats: its server going away (a restart) must end the session at once.
    const admin = await connectClient(pgClientConfig(config), {
      password: passwordSource(config),
      onError: (err) => failure!(err),
    });
    this.sql = admin;
    const stream = new ReplicationStream(
      pgClientConfig(config),
      config.postgres.slot,
      config.postgres.publication,
      {
        binary: this.deps.binary,
      },
    );
    const timers: NodeJS.Timeout[] = [];
    try {
      const slot = await readSlot(admin, config.postgres.slot);
      const start = parseLsn(slot.confirmedFlushLsn ?? '0/0');
      const tracker = new AckTracker(start);
      const writer = this.deps.writer;
      writer.failed.catch((err: Error) => failure!(err));
      let sent = start;
      let working = false;
      const confirm = async (force: boolean) => {
        const position = tracker.confirmed();
        if (position > sent || force) {
          const moved = position > sent;
          sent = moved ? position : sent;
          await stream.confirm(sent);
          if (moved && !working) {
            working = true;
            this.deps.onStreaming?.();
          }
        }
      };
      timers.push(setInterval(() => void confirm(false).catch((err: Error) => failure!(err)), 100));
      timers.push(
        setInterval(() => {
          // Only when idle: a heartbeat is for quiet tables; busy ones advance the slot anyway.
          if (tracker.idle())
            admin
              .query(`SELECT pg_logical_emit_message(false, $1, '')`, [HEARTBEAT_PREFIX])
              .catch((err: Error) => {
                log.warn({ err }, 'heartbeat message failed');
              });
        }, config.source.heartbeatIntervalMs),
      );

      log[this.deps.quiet ? 'debug' : 'info'](
        { slot: config.postgres.slot, from: slot.confirmedFlushLsn },
        'streaming from the slot',
      );
      setReady('source', true);
      const slotLabel = { slot: config.postgres.slot };
      timers.push(
        setInterval(() => {
          metrics.confirmedLsn.set(slotLabel, Number(sent));
          slotLag(admin, config.postgres.slot)
            .then((lag) => metrics.slotLagBytes.set(slotLabel, lag.lagBytes ?? 0))
            .catch(() => {});
        }, 5000),
      );
      const streaming = stream.run({
        onMessage: (msg) => (this.draining ? undefined : this.handle(msg, tracker)),
        onKeepalive: (walEnd, shouldRespond, caughtUp) => {
          // Not while received messages wait to be handled: the keepalive overtook them, and
          // walEnd may lie past changes not yet published (ReplicationStream, onKeepalive).
          if (caughtUp) tracker.advanceIdle(walEnd);
          if (shouldRespond) void confirm(true).catch((err: Error) => failure!(err));
        },
        onError: (err) => failure!(err),
      });

      const stopped = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await Promise.race([stopped, failed]);
      // Graceful stop: take no more messages, wait for Kafka, confirm, close.
      this.draining = true;
      await Promise.race([writer.drain(), failed]);
      await confirm(true);
      log.info({ confirmed: tracker.confirmed().toString(16) }, 'source stopped');
      await stream.stop();
      await streaming;
    } finally {
      setReady('source', false);
      // Chunks between their watermarks are read again under new ones (snapshot/snapshotter.ts).
      this.deps.windows?.failAll(new Error('the stream session ended'));
      for (const t of timers) clearInterval(t);
      await stream.stop();
      await admin.end().catch(() => {});
    }
  }

  private async handle(msg: PgoutputMessage, tracker: AckTracker): Promise<void> {
    switch (msg.tag) {
      case 'type':
        this.relations.addType(msg);
        return;
      case 'relation': {
        const relation = this.relations.addRelation(msg);
        const routed = this.deps.tables.get(`${relation.schema}.${relation.name}`);
        const plan = routed ? new RelationPlan(relation, routed.table) : null;
        this.plans.set(msg.oid, plan && routed ? { plan, routed } : null);
        if (plan) this.deps.onRelation?.(plan);
        return;
      }
      case 'begin':
        this.tx = {
          tracked: tracker.begin(),
          info: {
            lsn: msg.finalLsn,
            xid: msg.xid,
            commitTimeMicros: msg.commitTimeMicros,
            snapshot: false,
            seq: 0,
          },
        };
        return;
      case 'commit':
        if (this.tx) await this.queue.flush(this.sql!, this.tx.info.xid);
        if (this.tx) tracker.commit(this.tx.tracked, msg.endLsn);
        this.tx = null;
        this.deps.writer.flush();
        return;
      case 'message': {
        const name = this.deps.config.name;
        const mark = this.deps.windows && readWatermark(msg.prefix, msg.content);
        if (mark && mark.pipeline === name && this.tx) {
          if (mark.kind === 'low') this.deps.windows!.opened(mark.window);
          else await this.emitChunk(mark.window, tracker);
          return;
        }
        const resync = this.deps.onResync && readResync(msg.prefix, msg.content);
        if (resync && resync.pipeline === name && this.tx) {
          // The slot moves past the request only once it is recorded.
          const recorded = tracker.event(this.tx.tracked);
          this.deps.onResync!(resync).then(recorded, (err: Error) => this.fail(err));
          return;
        }
        // A non-transactional message (our heartbeat) comes alone: a position to advance to when idle.
        if (!msg.transactional) tracker.advanceIdle(msg.lsn);
        return;
      }
      case 'origin':
        return;
      case 'truncate':
        for (const oid of msg.relationOids) {
          const target = this.target(oid);
          if (target)
            await this.step(
              {
                emit: () => this.publish(this.builder.truncate(target.plan, this.tx!.info), target, tracker),
              },
              null,
            );
        }
        return;
      case 'insert':
      case 'update':
      case 'delete': {
        let step: Step | null;
        try {
          step = this.rowStep(msg, tracker);
        } catch (err) {
          // A row whose key cannot be read fails here already: dead-lettered in its turn.
          if (!isRowFailure(err)) throw err;
          step = {
            emit: () => Promise.reject(err),
            deadLetter: (e) => this.deadLetter(msg, e, tracker),
          };
        }
        if (!step) return;
        // Once its events are encoded (or it is dead-lettered), the message's bytes — the
        // parser's copy, src/shared/arena.ts — may hold the next messages.
        step.done = () => releaseTuple(rowTuple(msg));
        await this.step(step, rowTuple(msg));
        return;
      }
    }
  }

  /** Runs `step` now, or behind the transaction's steps waiting for a read-back. */
  private step(step: Step, tuple: Tuple | null): Promise<void> {
    return this.queue.add(step, tuple, this.sql!, this.tx!.info.xid);
  }

  /** What one row message becomes; null for a table not captured. */
  private rowStep(msg: RowMessage, tracker: AckTracker): Step | null {
    const target = this.target(msg.relationOid);
    if (!target) return null;
    const { plan } = target;
    const publish = (event: ChangeEvent) => this.publish(event, target, tracker);
    const deadLetter = (err: Error) => this.deadLetter(msg, err, tracker);
    switch (msg.tag) {
      case 'insert':
        return { deadLetter, emit: () => publish(this.builder.row('c', plan, this.tx!.info, msg.new)) };
      case 'delete':
        return { deadLetter, emit: () => publish(this.builder.delete(plan, this.tx!.info, msg.old)) };
      case 'update':
        return { deadLetter, ...this.updateStep(msg, target, publish) };
    }
  }

  private updateStep(
    msg: UpdateMessage,
    target: { plan: RelationPlan; routed: CapturedTable },
    publish: (event: ChangeEvent) => Promise<void>,
  ): Omit<Step, 'deadLetter'> {
    const { plan } = target;
    // Under REPLICA IDENTITY FULL the old row carries every value the new one left unsent: no query.
    const full = msg.old && !msg.oldIsKeyOnly ? msg.old : undefined;
    const row = full ? withOldValues(msg.new, full) : msg.new;
    let moved = false;
    if (
      msg.old &&
      msg.oldIsKeyOnly !== undefined &&
      hasSendableKey(plan, msg.old) &&
      hasSendableKey(plan, row)
    ) {
      // The key changed (or REPLICA IDENTITY FULL): the row under the old key is gone.
      const oldKey = this.builder.key(plan, msg.old);
      const newKey = this.builder.key(plan, row);
      moved = canonicalKey(plan.keyNames, oldKey) !== canonicalKey(plan.keyNames, newKey);
    }
    // A moved row must arrive whole under its new key whatever the setting; otherwise the table's
    // unchangedColumns says whether to read the unsent columns back (reselect.ts).
    const wanted = moved || (target.routed.table.unchangedColumns ?? 'reselect') === 'reselect';
    const fill =
      wanted && hasSendableKey(plan, row) && unsentColumns(plan, row).length > 0
        ? { plan, tuple: row }
        : undefined;
    return {
      fill,
      emit: async (filled) => {
        if (moved) await publish(this.builder.delete(plan, this.tx!.info, msg.old!));
        if (filled === null) {
          // Gone since: its later events settle the key — and a snapshot chunk must not bring
          // back a version older than them.
          this.changed(plan, this.builder.key(plan, row));
          return;
        }
        await publish(this.builder.row('u', plan, this.tx!.info, filled ?? row));
      },
    };
  }

  private async deadLetter(
    msg: InsertMessage | UpdateMessage | DeleteMessage,
    err: Error,
    tracker: AckTracker,
  ): Promise<void> {
    const relation = this.relations.require(msg.relationOid);
    const table = `${relation.schema}.${relation.name}`;
    const columns = relation.columns.map((c) => c.name);
    await this.deadLetterRow(table, msg.tag, columns, rowTuple(msg), err, tracker);
  }

  private async deadLetterRow(
    table: string,
    op: string,
    columns: string[],
    cells: Tuple,
    err: Error,
    tracker: AckTracker,
    /** Also called once Kafka has it (a snapshot chunk counts its records). */
    acked?: () => void,
  ): Promise<void> {
    const { lsn, xid } = this.tx!.info;
    this.deps.log.warn({ table, lsn: formatLsn(lsn), err: err.message }, 'row dead-lettered');
    const deadCells = cells.map((cell, i) => ({
      column: columns[i] ?? `#${i}`,
      kind: cell.kind,
      ...(cell.kind === 'binary' ? { bytes: cell.bytes } : cell.kind === 'text' ? { text: cell.text } : {}),
    }));
    const track: Track = () => {
      const ack = tracker.event(this.tx!.tracked);
      return acked
        ? () => {
            ack();
            acked();
          }
        : ack;
    };
    await this.deps.writer.deadLetter({ table, op, lsn, xid, cells: deadCells }, err, track);
  }

  private target(oid: number) {
    const target = this.plans.get(oid);
    if (target === undefined) this.relations.require(oid); // throws: a row before its Relation
    return target ?? null;
  }

  /** Tells open snapshot windows of the table that `key` changed in the stream (windows.ts). */
  private changed(plan: RelationPlan, key: ChangeEvent['key'] | null): void {
    const windows = this.deps.windows;
    if (!windows) return;
    const table = `${plan.relation.schema}.${plan.relation.name}`;
    if (!windows.watching(table)) return;
    if (key === null) windows.truncated(table);
    else windows.changed(table, canonicalKey(plan.keyNames, key));
  }

  /**
   * The high watermark of a chunk (snapshot/watermarks.ts): its chunk goes out inside the
   * watermark's transaction (snapshot/chunk-emitter.ts).
   */
  private async emitChunk(window: string, tracker: AckTracker): Promise<void> {
    const taken = this.deps.windows!.take(window);
    if (!taken) return; // not ours to emit (replayed after a restart, or its session ended)
    const { table, plan } = taken.chunk;
    const routed = this.deps.tables.get(table);
    if (!routed) return taken.done(0); // no longer captured
    const tx = this.tx!;
    // Snapshot rows belong to no transaction of the table: xid 0, at the watermark's position.
    const info: TxInfo = { ...tx.info, xid: 0, snapshot: true };
    try {
      await emitChunk(taken, {
        builder: this.builder,
        info,
        publish: (event, also) => this.publish(event, { plan, routed }, tracker, also),
        deadLetter: (columns, row, err, acked) =>
          this.deadLetterRow(table, 'snapshot', columns, row, err, tracker, acked),
      });
    } finally {
      tx.info.seq = info.seq;
    }
  }

  private async publish(
    event: ChangeEvent,
    target: { plan: RelationPlan; routed: CapturedTable },
    tracker: AckTracker,
    /** Another acknowledgement to wait for with the transaction's (a snapshot chunk's). */
    also?: () => () => void,
  ): Promise<void> {
    if (event.op !== 'r') this.changed(target.plan, event.op === 't' ? null : event.key);
    const acked = () => {
      const ack = tracker.event(this.tx!.tracked);
      if (!also) return ack;
      const other = also();
      return () => {
        ack();
        other();
      };
    };
    // Too large for Kafka: the writer dead-letters it (bounded), and the stream goes on.
    if ((await this.deps.writer.publish(event, target.plan.keyNames, acked)) === 'oversized') return;
    this.deps.onEvent?.(event);
    // Encoded: the decoded vectors' memory may hold the next rows' (src/shared/arena.ts).
    releaseVectors(event);
    metrics.sourceEvents.inc({ table: `${event.source.schema}.${event.source.table}`, op: event.op });
  }
}

function rowTuple(msg: RowMessage): Tuple {
  return msg.tag === 'delete' ? msg.old : msg.new;
}

/** `tuple` with its unchanged cells taken from the REPLICA IDENTITY FULL old row. */
function withOldValues(tuple: Tuple, old: Tuple): Tuple {
  if (!tuple.some((c) => c.kind === 'unchanged')) return tuple;
  return tuple.map((cell, i) =>
    cell.kind === 'unchanged' && old[i] && old[i].kind !== 'unchanged' ? old[i] : cell,
  );
}
