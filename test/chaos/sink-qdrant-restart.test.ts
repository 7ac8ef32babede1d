// Guarantee: Qdrant stopped and started under a running pipeline loses nothing and dead-letters
// nothing — the sink retries quietly through the outage (no commit meanwhile) and resumes, and
// the collection ends equal to the table. The Qdrant is a test server of the test's own, which
// keeps its collections across the restart as a real Qdrant keeps its storage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  alive,
  chaosPipeline,
  collectionVsTable,
  deadLetters,
  insertRows,
  logLines,
  waitCollectionEqualsTable,
} from '../helpers/sink-chaos.js';
import { TRANSPORTS, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'chq' });

for (const transport of TRANSPORTS) {
  test(`[${transport}] Qdrant stopped and started mid-stream: nothing lost, nothing dead-lettered, the collection equals the table`, async () => {
    const cp = await chaosPipeline(ctx, 'qrestart', {
      qdrant: { state: true },
      sink: { retryMaxMs: 1000 },
      transport,
    });
    await insertRows(ctx, cp.table, 1, 50);
    const run = ctx.start(['run', '--config', cp.config]);
    await waitSlotActive(ctx.sql, cp.p.slot);
    await waitCollectionEqualsTable(ctx, cp);

    await cp.qdrant.stop();
    await insertRows(ctx, cp.table, 51, 150);
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'down' || id WHERE id % 4 = 0`);
    await ctx.sql.query(`DELETE FROM ${cp.table} WHERE id % 7 = 0`);
    await waitFor(
      'the sink to meet the outage',
      () => logLines(run).some((l) => l.msg === 'Qdrant write failed; retrying'),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await cp.qdrant.start();

    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
    assert.ok(alive(run), 'vecrelay run is still running');
  });
}
