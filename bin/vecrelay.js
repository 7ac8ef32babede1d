#!/usr/bin/env -S node --max-semi-space-size=8
// The flag (also in the Dockerfile's ENTRYPOINT): Node 24 lets its young generation grow to
// 2 × 64 MB while objects survive collections, as chunks and events in flight do — some 60 MB of
// the source's peak RSS, for no CPU saved (bench/source.ts). It can only be set at start-up.
// Entry point of the `vecrelay` command. A built tree (dist/, from `npm run build`) runs as plain
// JavaScript; a source checkout runs the TypeScript through tsx.
import { existsSync } from 'node:fs';

// The supported runtime is Node 24 LTS; its dependencies need at least 22 (package.json engines).
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `vecrelay: Node.js ${process.version} is too old: vecrelay runs on Node 24 LTS (22 at least). ` +
      'From a checkout, `bash scripts/node24.sh node bin/vecrelay.js ...` installs and uses Node 24.\n',
  );
  process.exit(2);
}

const built = new URL('../dist/cli/main.js', import.meta.url);
// The tests run the source tree (scripts/run-tests.mjs sets VECRELAY_FROM_SOURCE): a dist/ left
// by an earlier `npm run build` would otherwise run in their place, older than the code under test.
if (existsSync(built) && process.env.VECRELAY_FROM_SOURCE !== '1') {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
