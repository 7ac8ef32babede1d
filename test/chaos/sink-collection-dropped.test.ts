// Guarantee: a collection dropped while the sink runs is not a reason to dead-letter the stream:
// the sink recreates it from the table descriptor and rebuilds it from the compacted topic (a
// replayable copy of the table), so the collection ends equal to the table — rows written before
// the drop included.
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

const ctx = useSinkPipelines({ prefix: 'chd' });

for (const transport of TRANSPORTS) {
  test(`[${transport}] collection dropped mid-stream: recreated and rebuilt, nothing dead-lettered, the collection equals the table`, async () => {
    const cp = await chaosPipeline(ctx, 'dropped', { transport });
    await insertRows(ctx, cp.table, 1, 60);
    const run = ctx.start(['run', '--config', cp.config]);
    await waitSlotActive(ctx.sql, cp.p.slot);
    await waitCollectionEqualsTable(ctx, cp);

    assert.equal((await cp.qdrant.request('DELETE', `/collections/${cp.collection}`)).status, 200);
    await insertRows(ctx, cp.table, 61, 120);
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'after' || id WHERE id % 5 = 0`);
    await ctx.sql.query(`DELETE FROM ${cp.table} WHERE id % 9 = 0`);

    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    assert.ok(
      logLines(run).some(
        (l) =>
          String(l.msg).startsWith('the collection is gone: recreating it') &&
          // over gRPC the write that found it gone was answered NOT_FOUND
          (transport === 'rest' || /gRPC \w+ answered NotFound/.test(String(l.err))),
      ),
      'the sink said what it did',
    );
    assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
    assert.ok(alive(run), 'vecrelay run is still running');
  });
}
