// The README's first command runs to its verdict: the demo syncs a table while writing to it,
// runs cutover, and finds Postgres and Qdrant identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { repoRoot, uniqueName } from '../helpers/stack.js';

const exec = promisify(execFile);

test('the demo reaches VERDICT: PASS on the local stack', async () => {
  const { stdout } = await exec(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repoRoot, 'scripts/demo.ts'),
      '--name',
      uniqueName('demo'),
      '--rows',
      '500',
      '--seconds',
      '4',
    ],
    { cwd: repoRoot, timeout: 240_000, maxBuffer: 16 << 20 },
  );
  assert.match(stdout, /Qdrant: .*(TEST SERVER|QDRANT_URL)/, 'it says which Qdrant it uses');
  assert.match(stdout, /cutover: exact/);
  assert.match(stdout, /verify: equal/, "the verdict is vecrelay verify's");
  assert.match(stdout, /alias \S+_items_live → \S+_items/, 'the alias was flipped to the collection');
  assert.match(stdout, /VERDICT: PASS/);
  assert.match(stdout, /teardown: dropped/, 'it cleans up after itself');
});
