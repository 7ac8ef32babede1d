#!/usr/bin/env node
// The README's test command. Runs every test/**/*.test.ts with Node's test runner (through tsx),
// shows the spec report, and ends with one plain line: "tests: N passed, N failed, N skipped".
// Integration tests need the local stack (`npm run stack:up`); `--unit` runs only test/unit.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const unitOnly = process.argv.includes('--unit');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

let files = findTests(path.join(root, unitOnly ? 'test/unit' : 'test')).sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// Integration tests need the stack; bringing it up is idempotent and quick when it already runs.
if (!unitOnly && !process.env.VECRELAY_STACK_DIR) {
  execFileSync('bash', [path.join(root, 'scripts/stack/up.sh')], { stdio: 'inherit' });
}

console.log(`node ${process.version}, ${files.length} test file${files.length === 1 ? '' : 's'}`);

const resultsDir = path.join(root, '.stack');
mkdirSync(resultsDir, { recursive: true });
// One file per run: two runs at once must not mix their counts.
const tapFile = path.join(resultsDir, `test-results.${process.pid}.tap`);
const args = [
  // kafkajs (the tests' helpers use it) arms negative timers, which Node 24 warns about; harmless.
  '--disable-warning=TimeoutNegativeWarning',
  '--import',
  'tsx',
  '--test',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  // A test that hangs (a promise nothing settles) fails after 10 minutes instead of holding the
  // whole run: the longest test takes about 3.
  '--test-timeout=600000',
  // A file whose tests all ended exits even if something it started still runs (a loop a failed
  // test did not stop): otherwise the run waits on that file for ever.
  '--test-force-exit',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-reporter=tap',
  `--test-reporter-destination=${tapFile}`,
  ...files.map((f) => path.relative(root, f)),
];
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: 'inherit',
  // kafkajs warns once per producer about its v2 partitioner change; vecrelay never used v1.
  // VECRELAY_FROM_SOURCE: the vecrelay processes the tests start run src/, never a dist/ that
  // an earlier build left (bin/vecrelay.js).
  env: { KAFKAJS_NO_PARTITIONER_WARNING: '1', ...process.env, VECRELAY_FROM_SOURCE: '1' },
});
child.on('exit', (code, signal) => {
  const tap = readFileSync(tapFile, 'utf8');
  unlinkSync(tapFile);
  // The TAP reporter closes with "# pass N", "# fail N", ... lines for the whole run.
  const count = (key) => Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const skipped = count('skipped') + count('todo');
  console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(signal ? 1 : (code ?? 1) || (failed > 0 ? 1 : 0));
});
