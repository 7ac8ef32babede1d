// The sink writing over gRPC (qdrant.transport grpc) meets each class of gRPC failure, injected
// by its own Qdrant test server (POST /__test/faults with grpc_code):
//   transient — UNAVAILABLE, RESOURCE_EXHAUSTED (retry-after), DEADLINE_EXCEEDED, INTERNAL: retried
//     with backoff, then applied; nothing dead-lettered;
//   record — INVALID_ARGUMENT on every request naming one point: splitting isolates it, its record
//     goes to the dead-letter topic with Qdrant's reason, the other records are applied.
//   auth — UNAUTHENTICATED on a write: exit 2 naming qdrant.apiKeyEnv, the key in no log line.
// (A key really rotated: sink-api-key.test.ts; NOT_FOUND of a dropped collection:
// sink-collection-dropped.test.ts; both over gRPC too.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAtEnd } from '../helpers/kafka.js';
import { waitSlotActive } from '../helpers/pg.js';
import {
  alive,
  assertStopsOnRefusedKey,
  chaosPipeline,
  collectionVsTable,
  deadLetters,
  insertRows,
  logLines,
  waitCollectionEqualsTable,
  type ChaosPipeline,
} from '../helpers/sink-chaos.js';
import { useSinkPipelines } from '../helpers/sink-pipeline.js';
import { waitFor } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'chg' });

async function addFault(cp: ChaosPipeline, fault: Record<string, unknown>) {
  const { status } = await cp.qdrant.request('POST', '/__test/faults', fault);
  assert.equal(status, 200, `fault ${JSON.stringify(fault)} injected`);
}

test('[grpc] UNAVAILABLE, RESOURCE_EXHAUSTED with retry-after, DEADLINE_EXCEEDED, INTERNAL: retried, then applied; nothing dead-lettered', async () => {
  const cp = await chaosPipeline(ctx, 'gtransient', { transport: 'grpc', sink: { retryMaxMs: 500 } });
  await insertRows(ctx, cp.table, 1, 20);
  const run = ctx.start(['run', '--config', cp.config]);
  await waitSlotActive(ctx.sql, cp.p.slot);
  await waitCollectionEqualsTable(ctx, cp);

  // Rules are consulted in order: the next writes meet each failure in turn.
  await addFault(cp, { grpc_code: 'UNAVAILABLE', count: 2, paths: 'Points/Upsert$' });
  await addFault(cp, { grpc_code: 'RESOURCE_EXHAUSTED', count: 1, retry_after: 2, paths: 'Points/Upsert$' });
  await addFault(cp, { grpc_code: 'DEADLINE_EXCEEDED', count: 1, paths: 'Points/Upsert$' });
  await addFault(cp, { grpc_code: 'INTERNAL', count: 1, paths: 'Points/Upsert$' });
  await insertRows(ctx, cp.table, 21, 40);

  await waitCollectionEqualsTable(ctx, cp);
  await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
  assert.deepEqual(await collectionVsTable(ctx, cp), [], '0 missing, 0 extra, 0 mismatched');
  const retries = logLines(run).filter((l) => l.msg === 'Qdrant write failed; retrying');
  for (const code of ['Unavailable', 'ResourceExhausted', 'DeadlineExceeded', 'Internal'])
    assert.ok(
      retries.some((l) => String(l.err).includes(`answered ${code}`)),
      `a retry after ${code}: ${retries.map((l) => String(l.err)).join(' | ')}`,
    );
  const limited = retries.find((l) => String(l.err).includes('answered ResourceExhausted'));
  assert.ok(Number(limited?.delayMs) >= 2000, `retry-after honoured: waited ${String(limited?.delayMs)} ms`);
  assert.equal(await deadLetters(cp), 0n, 'nothing dead-lettered');
  assert.ok(alive(run), 'vecrelay run is still running');
});

test('[grpc] INVALID_ARGUMENT for one point: split out, its record dead-lettered with the reason, the rest applied', async () => {
  const cp = await chaosPipeline(ctx, 'grecord', { transport: 'grpc' });
  await insertRows(ctx, cp.table, 1, 10);
  const run = ctx.start(['run', '--config', cp.config]);
  await waitSlotActive(ctx.sql, cp.p.slot);
  await waitCollectionEqualsTable(ctx, cp);

  // Every upsert naming point 15 is refused, as Qdrant refuses a point it cannot take: the
  // requests holding it are halved until it stands alone.
  await addFault(cp, { grpc_code: 'INVALID_ARGUMENT', count: 20, point_id: 15, paths: 'Points/Upsert$' });
  await insertRows(ctx, cp.table, 11, 20);
  await waitFor('the record dead-lettered', async () => (await deadLetters(cp)) === 1n, {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  await waitFor('rows 11-20 but 15 applied', async () => {
    const ids = (await cp.qdrant.scrollAll(cp.collection)).map((p) => Number(p.id));
    return ids.includes(20) && ids.length === 19;
  });
  const ids = (await cp.qdrant.scrollAll(cp.collection)).map((p) => Number(p.id)).sort((a, b) => a - b);
  assert.deepEqual(
    ids,
    Array.from({ length: 20 }, (_, i) => i + 1).filter((id) => id !== 15),
    'every row but the rejected one',
  );
  assert.ok(
    logLines(run).some(
      (l) => l.msg === 'Qdrant rejected a record: dead-lettered' && /InvalidArgument/.test(String(l.reason)),
    ),
    'the reason is Qdrant’s answer',
  );
  await waitFor(`group ${cp.groupId} at the end of ${cp.topic}`, () => groupAtEnd(cp.groupId, cp.topic));
  assert.ok(alive(run), 'vecrelay run is still running');
});

test('[grpc] UNAUTHENTICATED on a write: exit 2 naming qdrant.apiKeyEnv, no key in the log, nothing dead-lettered', async () => {
  const KEY = 'grpc-key-3c7e1a';
  const cp = await chaosPipeline(ctx, 'gauth', {
    transport: 'grpc',
    qdrant: { apiKey: KEY },
    apiKeyEnv: 'GRPC_QDRANT_KEY',
  });
  await insertRows(ctx, cp.table, 1, 10);
  ctx.startSource(cp.config, { GRPC_QDRANT_KEY: KEY });
  await waitSlotActive(ctx.sql, cp.p.slot);
  const sink = ctx.start(['sink', '--config', cp.config], { GRPC_QDRANT_KEY: KEY });
  await waitCollectionEqualsTable(ctx, cp);

  await addFault(cp, { grpc_code: 'UNAUTHENTICATED', count: 1, paths: 'Points/Upsert$' });
  await insertRows(ctx, cp.table, 11, 20);
  await assertStopsOnRefusedKey(cp, sink, 'GRPC_QDRANT_KEY', [KEY]);
});
