// Guarantee: stopping is prompt and loses no progress. SIGTERM to an idle sink exits 0 at once;
// SIGTERM in the middle of a catch-up abandons the request in flight, commits the prefix of the
// batch Qdrant has applied, and exits 0 — and a restart goes on from there to a collection equal
// to the table. Over REST and over gRPC (qdrant.transport): on each, the request in flight is
// abandoned on its own wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { committedOffsets, endOffsets, groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  chaosPipeline,
  collectionVsTable,
  deadLetters,
  injectFault,
  insertRows,
  upsertFault,
  waitCollectionEqualsTable,
  type ChaosPipeline,
} from '../helpers/sink-chaos.js';
import type { RunningProcess } from '../helpers/source-process.js';
import { TRANSPORTS, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'chs' });

/** SIGTERM, then how long the process took to exit and with what. */
async function terminate(proc: RunningProcess) {
  const started = Date.now();
  proc.child.kill('SIGTERM');
  const { code } = await proc.exited;
  return { code, ms: Date.now() - started };
}

const pointCount = async (cp: ChaosPipeline) =>
  Number(
    (
      await cp.qdrant.request<{ count: number }>('POST', `/collections/${cp.collection}/points/count`, {
        exact: true,
      })
    ).result?.count ?? 0,
  );

const sum = (m: Map<number, bigint>) => [...m.values()].reduce((a, b) => a + (b > 0n ? b : 0n), 0n);

for (const transport of TRANSPORTS) {
  test(`[${transport}] SIGTERM with nothing in flight: the sink exits 0 at once`, async () => {
    const cp = await chaosPipeline(ctx, `idle${transport}`, { transport });
    await insertRows(ctx, cp.table, 1, 20);
    ctx.startSource(cp.config);
    await waitSlotActive(ctx.sql, cp.p.slot);
    const sink = ctx.start(['sink', '--config', cp.config]);
    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));

    const { code, ms } = await terminate(sink);
    assert.equal(code, 0);
    assert.ok(ms < 5_000, `exited after ${ms} ms`);
  });

  test(`[${transport}] SIGTERM during a catch-up: exits 0 promptly having committed what Qdrant applied; a restart ends equal`, async () => {
    const cp = await chaosPipeline(ctx, `catchup${transport}`, { transport, sink: { batchSize: 50 } });
    await insertRows(ctx, cp.table, 1, 3000);
    ctx.startSource(cp.config);
    await waitSlotActive(ctx.sql, cp.p.slot);
    await waitFor('the backlog in Kafka', async () => sum(await endOffsets(cp.topic)) >= 3000n, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    // Qdrant slowed down: every upsert takes 300 ms, so the catch-up lasts a while.
    await injectFault(cp, upsertFault(cp, { delay_ms: 300, count: 100_000 }));
    const sink = ctx.start(['sink', '--config', cp.config]);
    await waitFor('a part of the backlog applied', async () => (await pointCount(cp)) >= 300, {
      timeoutMs: 60_000,
      intervalMs: 200,
    });

    const { code, ms } = await terminate(sink);
    assert.equal(code, 0, 'a stop is not an error');
    assert.ok(ms < 10_000, `exited after ${ms} ms`);
    const committed = sum(await committedOffsets(cp.groupId, cp.topic));
    const applied = await pointCount(cp);
    assert.ok(committed > 0n, 'what was applied is committed');
    assert.ok(committed <= BigInt(applied), `nothing committed past Qdrant: ${committed} ≤ ${applied}`);
    assert.ok(committed < 3000n, 'stopped mid-way');
    // The upserts really met the delay on this transport (the rule counts the requests it took).
    const [rule] = (await cp.qdrant.request<Array<{ remaining: number }>>('GET', '/__test/faults')).result;
    assert.ok(rule && rule.remaining < 100_000, `upserts delayed: ${JSON.stringify(rule)}`);

    await cp.qdrant.request('DELETE', '/__test/faults');
    ctx.start(['sink', '--config', cp.config]);
    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    assert.equal(await deadLetters(cp), 0n);
  });
}
