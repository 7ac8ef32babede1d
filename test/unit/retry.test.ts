import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, RetriableError, isRetriable } from '../../src/shared/errors.js';
import { retry, runWithRestarts, type RetryInfo } from '../../src/shared/retry.js';

/** A wait that records the delays instead of sleeping. */
function recorder() {
  const delays: number[] = [];
  return { delays, wait: async (ms: number) => void delays.push(ms) };
}

test('retry: a failing attempt runs again until it succeeds, with its attempt number', async () => {
  const { delays, wait } = recorder();
  const seen: number[] = [];
  const result = await retry(
    async (n) => {
      seen.push(n);
      if (n < 3) throw new RetriableError('connection refused');
      return 'done';
    },
    { wait, backoff: { initialMs: 100, maxMs: 1_000 } },
  );
  assert.equal(result, 'done');
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.equal(delays.length, 3);
});

test('retry: the backoff grows, capped, with jitter in the upper half of each step', async () => {
  const { delays, wait } = recorder();
  await retry(
    async (n) => {
      if (n < 8) throw new Error('transient');
    },
    { wait, backoff: { initialMs: 100, maxMs: 1_000 } },
  );
  const ceilings = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
  delays.forEach((d, i) => {
    assert.ok(d >= ceilings[i]! / 2 && d <= ceilings[i]!, `delay ${i} = ${d}, ceiling ${ceilings[i]}`);
  });
});

test('retry: a misconfiguration is not retried by default', async () => {
  let runs = 0;
  await assert.rejects(
    retry(async () => {
      runs++;
      throw new ConfigError('wal_level is replica');
    }),
    /wal_level/,
  );
  assert.equal(runs, 1);
});

test('retry: `retriable` decides, reading the flag and the attempt number', async () => {
  const { wait } = recorder();
  let runs = 0;
  await assert.rejects(
    retry(
      async () => {
        runs++;
        throw new Error('a bug, not an outage');
      },
      { wait, retriable: isRetriable },
    ),
    /a bug/,
  );
  assert.equal(runs, 1);
  runs = 0;
  await assert.rejects(
    retry(
      async () => {
        runs++;
        throw new RetriableError('busy');
      },
      { wait, retriable: (_err, attempt) => attempt < 2 },
    ),
    /busy/,
  );
  assert.equal(runs, 3, 'the first run and two retries');
});

test('retry: classify maps a failure before the decision, and that is what is thrown', async () => {
  let runs = 0;
  await assert.rejects(
    retry(
      async () => {
        runs++;
        throw Object.assign(new Error('401 Unauthorized'), { status: 401 });
      },
      { classify: (err) => new ConfigError(`refused: ${(err as Error).message}`) },
    ),
    (err: unknown) => err instanceof ConfigError && /refused: 401/.test(err.message),
  );
  assert.equal(runs, 1);
});

test('retry: onRetry sees each failure, its attempt and the delay; `delay` can lengthen it', async () => {
  const { delays, wait } = recorder();
  const retries: Array<RetryInfo & { message: string }> = [];
  await retry(
    async (n) => {
      if (n < 2) throw Object.assign(new RetriableError(`429 #${n}`), { retryAfterSeconds: 5 });
    },
    {
      wait,
      backoff: { initialMs: 100, maxMs: 1_000 },
      delay: (err, backoffMs) =>
        Math.max((err as { retryAfterSeconds: number }).retryAfterSeconds * 1000, backoffMs),
      onRetry: (err, info) => retries.push({ ...info, message: (err as Error).message }),
    },
  );
  assert.deepEqual(retries, [
    { attempt: 0, delayMs: 5000, message: '429 #0' },
    { attempt: 1, delayMs: 5000, message: '429 #1' },
  ]);
  assert.deepEqual(delays, [5000, 5000]);
});

test('retry: an attempt that ran long enough was healthy, so the backoff starts over', async () => {
  const { wait } = recorder();
  const attempts: number[] = [];
  let runs = 0;
  await retry(
    async () => {
      runs++;
      // Runs 1-3 fail at once; run 4 fails after a "healthy" 300 ms; run 5 fails at once again.
      if (runs === 4) await new Promise((resolve) => setTimeout(resolve, 300));
      if (runs <= 5) throw new Error('transient');
    },
    { wait, resetAfterMs: 200, onRetry: (_err, { attempt }) => attempts.push(attempt) },
  );
  assert.deepEqual(attempts, [0, 1, 2, 0, 1]);
});

test('retry: an abort during the wait rejects with the signal reason, or returns `stopped()`', async () => {
  const stop = new Error('stop');
  const controller = new AbortController();
  let runs = 0;
  const failing = async () => {
    runs++;
    setTimeout(() => controller.abort(stop), 10);
    throw new Error('transient');
  };
  const started = Date.now();
  await assert.rejects(retry(failing, { signal: controller.signal, backoff: { initialMs: 60_000 } }), stop);
  assert.ok(Date.now() - started < 10_000, 'the wait was cut short');
  assert.equal(runs, 1);

  const again = new AbortController();
  runs = 0;
  const result = await retry(
    async () => {
      runs++;
      setTimeout(() => again.abort(stop), 10);
      throw new Error('transient');
    },
    { signal: again.signal, backoff: { initialMs: 60_000 }, stopped: () => 'stopped' },
  );
  assert.equal(result, 'stopped');
  assert.equal(runs, 1);
});

test('retry: a failure once the signal has aborted is thrown, not retried', async () => {
  const controller = new AbortController();
  let runs = 0;
  await assert.rejects(
    retry(
      async () => {
        runs++;
        controller.abort(new Error('stop'));
        throw new RetriableError('connection lost while stopping');
      },
      { signal: controller.signal, stopped: () => undefined },
    ),
    /connection lost while stopping/,
  );
  assert.equal(runs, 1);
});

test('retry: whatever the wait throws ends the retries (a stale batch, say)', async () => {
  let runs = 0;
  await assert.rejects(
    retry(
      async () => {
        runs++;
        throw new RetriableError('503');
      },
      {
        wait: async () => {
          throw new Error('the batch is stale');
        },
      },
    ),
    /stale/,
  );
  assert.equal(runs, 1);
});

test('runWithRestarts: a failing run is started again until it succeeds', async () => {
  let runs = 0;
  await runWithRestarts(new AbortController().signal, async () => {
    runs++;
    if (runs < 3) throw new Error('This server does not host this topic-partition');
  });
  assert.equal(runs, 3);
});

test('runWithRestarts: a misconfiguration is not retried', async () => {
  let runs = 0;
  await assert.rejects(
    runWithRestarts(new AbortController().signal, async () => {
      runs++;
      throw new ConfigError('wal_level is replica');
    }),
    /wal_level/,
  );
  assert.equal(runs, 1);
});

test('runWithRestarts: classify can turn a failure into a misconfiguration; onRetry logs the others', async () => {
  const logged: string[] = [];
  let runs = 0;
  await assert.rejects(
    runWithRestarts(
      new AbortController().signal,
      async () => {
        runs++;
        throw new Error(runs === 1 ? 'broker went away' : 'password authentication failed');
      },
      {
        classify: (err) =>
          /password/.test((err as Error).message) ? new ConfigError('wrong password') : err,
        onRetry: (err) => logged.push((err as Error).message),
      },
    ),
    /wrong password/,
  );
  assert.equal(runs, 2);
  assert.deepEqual(logged, ['broker went away']);
});

test('runWithRestarts: the signal ends the restarts during the backoff, as a stop', async () => {
  const controller = new AbortController();
  let runs = 0;
  await runWithRestarts(controller.signal, async () => {
    runs++;
    setTimeout(() => controller.abort(new Error('stop')), 10);
    throw new Error('transient');
  }); // resolves: stopping is not a failure
  assert.equal(runs, 1);
});

test('runWithRestarts: a signal already aborted runs nothing', async () => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  let runs = 0;
  await runWithRestarts(controller.signal, async () => {
    runs++;
  });
  assert.equal(runs, 0);
});
