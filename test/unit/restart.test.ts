import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWithRestarts } from '../../src/shared/restart.js';
import { ConfigError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/log.js';

const log = createLogger({ level: 'silent' });

test('a failing run is started again until it succeeds', async () => {
  let runs = 0;
  await runWithRestarts('thing', log, new AbortController().signal, async () => {
    runs++;
    if (runs < 3) throw new Error('This server does not host this topic-partition');
  });
  assert.equal(runs, 3);
});

test('a misconfiguration is not retried', async () => {
  let runs = 0;
  await assert.rejects(
    runWithRestarts('thing', log, new AbortController().signal, async () => {
      runs++;
      throw new ConfigError('wal_level is replica');
    }),
    /wal_level/,
  );
  assert.equal(runs, 1);
});

test('the signal ends the restarts during the backoff, as a stop', async () => {
  const controller = new AbortController();
  let runs = 0;
  const done = runWithRestarts('thing', log, controller.signal, async () => {
    runs++;
    setTimeout(() => controller.abort(new Error('stop')), 10);
    throw new Error('transient');
  });
  await done; // resolves: stopping is not a failure
  assert.equal(runs, 1);
});
