// Guarantee: a sink that loses its partition in a rebalance while one of its Qdrant requests is
// still in flight cannot land an older version of a point over the newer one its successor
// wrote. Two sinks share one group (one partition: one owns it, the other waits); the owner's
// upsert is held by the test server past the session timeout, so the group moves the partition;
// the new owner writes v1 and then v2 of every row; the held v1 request lands after that. Its
// writes are conditional on the stored source position (update_filter), so v2 stays — and the
// stale member, seeing the rebalance before its commit, commits nothing. Over REST and over gRPC
// (qdrant.transport): each holds the owner's upsert on its own wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  chaosPipeline,
  collectionVsTable,
  deadLetters,
  injectFault,
  insertRows,
  logLines,
  upsertFault,
  waitCollectionEqualsTable,
} from '../helpers/sink-chaos.js';
import { TRANSPORTS, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'chr' });

const SESSION_MS = 6_000; // the broker's group.min.session.timeout.ms
const HELD_MS = 30_000; // well past the session timeout and the new owner's two updates

for (const transport of TRANSPORTS)
  test(`[${transport}] rebalance while a Qdrant request is held past the session timeout: the stale write does not overwrite the newer one, the collection equals the table`, async () => {
    const cp = await chaosPipeline(ctx, `fence${transport}`, {
      transport,
      partitions: 1,
      sink: { sessionTimeoutMs: SESSION_MS, retryMaxMs: 1000 },
    });
    await insertRows(ctx, cp.table, 1, 40);
    ctx.startSource(cp.config);
    await waitSlotActive(ctx.sql, cp.p.slot);
    const sinks = [ctx.start(['sink', '--config', cp.config]), ctx.start(['sink', '--config', cp.config])];
    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));

    // The next upsert to the collection (the owner's, of v1) is held, then applied.
    await injectFault(cp, upsertFault(cp, { delay_ms: HELD_MS }));
    const heldAt = Date.now();
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'v1-' || id`);
    // The owner misses its heartbeats while it waits: after the session timeout the group gives
    // the partition to the other sink, which writes v1 itself.
    await waitCollectionEqualsTable(ctx, cp, 60_000);
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'v2-' || id, n = n + 1000`);
    await waitCollectionEqualsTable(ctx, cp, 60_000);
    assert.ok(Date.now() - heldAt < HELD_MS, 'v2 was applied while the stale v1 request was still held');

    // The held request lands, then the stale member sees the rebalance and abandons its batch.
    const abandoned = (msg: unknown) =>
      typeof msg === 'string' && msg.includes('batch abandoned before its next write, not committed');
    await waitFor(
      'the stale member to abandon its batch',
      () => sinks.some((s) => logLines(s).some((l) => abandoned(l.msg))),
      {
        timeoutMs: HELD_MS + 60_000,
        intervalMs: 250,
      },
    );
    const faults = await cp.qdrant.request<unknown[]>('GET', '/__test/faults');
    assert.deepEqual(faults.result, [], 'the held request was answered');

    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), [], 'still equal once the group settled');
    assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
  });
