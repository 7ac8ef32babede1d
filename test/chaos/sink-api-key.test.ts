// Guarantee: a Qdrant API key rotated under a running sink stops the sink (exit 2) with an error
// naming qdrant.apiKeyEnv — never a dead letter, never a committed offset past what Qdrant
// applied, never the key in a log. Restarted with the new key, it catches up: the collection
// equals the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  assertStopsOnRefusedKey,
  chaosPipeline,
  collectionVsTable,
  deadLetters,
  insertRows,
  waitCollectionEqualsTable,
} from '../helpers/sink-chaos.js';
import { TRANSPORTS, useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'chk' });

// Over gRPC the refusal is UNAUTHENTICATED on a write: the same stop.
for (const transport of TRANSPORTS) {
  test(`[${transport}] API key rotated under a running sink: it stops with exit 2 naming qdrant.apiKeyEnv, the dead-letter topic stays empty`, async () => {
    const OLD = 'old-key-5f1c9a';
    const NEW = 'new-key-8b2d4e';
    const cp = await chaosPipeline(ctx, 'apikey', {
      qdrant: { apiKey: OLD },
      apiKeyEnv: 'CHAOS_QDRANT_KEY',
      transport,
    });
    await insertRows(ctx, cp.table, 1, 30);
    // The source's preflight checks Qdrant too, with the key the config names.
    ctx.startSource(cp.config, { CHAOS_QDRANT_KEY: OLD });
    await waitSlotActive(ctx.sql, cp.p.slot);
    const sink = ctx.start(['sink', '--config', cp.config], { CHAOS_QDRANT_KEY: OLD });
    await waitCollectionEqualsTable(ctx, cp);

    // What restarting Qdrant with a new service.api_key does.
    assert.equal((await cp.qdrant.request('POST', '/__test/api-key', { api_key: NEW })).status, 200);
    cp.qdrant.apiKey = NEW;
    await insertRows(ctx, cp.table, 31, 60);

    await assertStopsOnRefusedKey(cp, sink, 'CHAOS_QDRANT_KEY', [OLD, NEW]);

    // With the new key it resumes where it stopped: nothing was skipped.
    ctx.start(['sink', '--config', cp.config], { CHAOS_QDRANT_KEY: NEW });
    await waitCollectionEqualsTable(ctx, cp);
    await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
    assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
    assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
  });
}
