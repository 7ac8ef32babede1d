// A Qdrant before 1.16 has no conditional upsert (update_filter is ignored there): the sink says
// so once, at start, and writes unconditionally — the collection still equals the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  alive,
  chaosPipeline,
  collectionVsTable,
  insertRows,
  logLines,
  waitCollectionEqualsTable,
} from '../helpers/sink-chaos.js';
import { TRANSPORTS, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'old' });

// Asked for gRPC, a Qdrant before 1.16 gets REST (its protobuf predates the sink's), saying so.
for (const transport of TRANSPORTS)
  test(`[${transport}] Qdrant 1.15: one warning that writes are unconditional, and the collection equals the table`, async () => {
    const cp = await chaosPipeline(ctx, 'oldq', { qdrant: { version: '1.15.4' }, transport });
    await insertRows(ctx, cp.table, 1, 40);
    const run = ctx.start(['run', '--config', cp.config]);
    await waitSlotActive(ctx.sql, cp.p.slot);
    await ctx.sql.query(`UPDATE ${cp.table} SET title = 'u' || id WHERE id % 3 = 0`);
    await ctx.sql.query(`DELETE FROM ${cp.table} WHERE id % 5 = 0`);
    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), []);
    const warnings = logLines(run).filter((l) => String(l.msg).includes('no conditional upsert'));
    assert.equal(warnings.length, 1, 'warned once');
    assert.equal(warnings[0]!.version, '1.15.4');
    if (transport === 'grpc')
      assert.ok(
        logLines(run).some((l) =>
          String(l.msg).startsWith('Qdrant before 1.16: points are written over REST'),
        ),
        'said it writes over REST',
      );
    assert.ok(alive(run));
  });
