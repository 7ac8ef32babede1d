import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/stack.js';
import { vecrelayBin as bin } from '../helpers/vecrelay-exec.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };

test('vecrelay --version prints the package version', () => {
  const out = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(out.trim(), pkg.version);
});

test('vecrelay --help names the program and its options', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: vecrelay/);
  assert.match(out, /--version/);
});

test('an unknown command fails with a message naming it', () => {
  assert.throws(
    () => execFileSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8', stdio: 'pipe' }),
    (err: { status: number; stderr: string }) => err.status !== 0 && /frobnicate/.test(err.stderr),
  );
});

// The machine's own node, when it is older than vecrelay supports (Debian bookworm images: 20).
const oldNode = (() => {
  try {
    const version = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim();
    return Number(version.slice(1).split('.')[0]) < 22 ? '/usr/bin/node' : undefined;
  } catch {
    return undefined;
  }
})();

test(
  'on a Node older than 22 the command says which Node it needs and how to get it (exit 2)',
  { skip: oldNode ? false : 'no node older than 22 on this machine' },
  () => {
    assert.throws(
      () => execFileSync(oldNode!, [bin, '--version'], { encoding: 'utf8', stdio: 'pipe' }),
      (err: { status: number; stderr: string }) =>
        err.status === 2 && /Node 24/.test(err.stderr) && /scripts\/node24\.sh/.test(err.stderr),
    );
  },
);
