// verify's CollectionReader.nearestBatch: one /points/query/batch request, the answers in order;
// a server without that route (404) is asked one /points/query at a time, from then on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CollectionReader, type NearestQuery } from '../../src/ops/verify/qdrant.js';

async function serve(batch: boolean) {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push(req.url!);
      const answer = (q: { limit: number }) => ({ points: [{ id: q.limit, score: 0.5 }] });
      const send = (status: number, result?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result === undefined ? { status: { error: 'x' } } : { result, status: 'ok' }));
      };
      const parsed = JSON.parse(body) as { searches?: Array<{ limit: number }>; limit: number };
      if (req.url!.endsWith('/points/query/batch'))
        send(batch ? 200 : 404, batch ? parsed.searches!.map(answer) : undefined);
      else send(200, answer(parsed));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { calls, url, close: () => new Promise((r) => server.close(r)) };
}

const queries: NearestQuery[] = [3, 5].map((limit) => ({
  vectorJson: '[1,2]',
  using: '',
  limit,
  exact: limit === 3,
  withPayload: [],
}));

test('nearestBatch: one batch request, or one query at a time where the route is missing', async () => {
  for (const batch of [true, false]) {
    const s = await serve(batch);
    try {
      const reader = new CollectionReader({ url: s.url, apiKey: undefined, caFile: undefined }, 'c');
      for (let round = 0; round < 2; round++) {
        const answers = await reader.nearestBatch(queries);
        assert.deepEqual(
          answers.map((points) => points.map((p) => p.id)),
          [[3], [5]],
        );
      }
      assert.deepEqual(
        s.calls,
        batch
          ? ['/collections/c/points/query/batch', '/collections/c/points/query/batch']
          : ['/collections/c/points/query/batch', ...Array(4).fill('/collections/c/points/query')],
      );
    } finally {
      await s.close();
    }
  }
});
