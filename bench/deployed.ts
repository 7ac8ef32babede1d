// vecrelay as deployed, for the benches that time its process (source, sink, verify): compiled
// JavaScript, as the Dockerfile runs it (`npm run build`, node dist/…), not TypeScript through tsx,
// whose compiling at start-up (and memory) would be counted as vecrelay's; and with the Node flags
// of bin/vecrelay.js's shebang and the Dockerfile's ENTRYPOINT (a bounded young generation: peak
// RSS). The output sits one level below the repository, like dist/, so the schemas/ and
// package.json paths resolve the same way.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../test/helpers/stack.js';

export const DEPLOYED_NODE_FLAGS = ['--max-semi-space-size=8'];

/** Compiles src/ into .bench-dist/; returns the compiled `vecrelay` entry (cli/main.js). */
export function buildDeployed(): string {
  const buildDir = path.join(repoRoot, '.bench-dist');
  execFileSync(process.execPath, [
    path.join(repoRoot, 'node_modules/typescript/bin/tsc'),
    '-p',
    path.join(repoRoot, 'tsconfig.build.json'),
    '--outDir',
    buildDir,
  ]);
  return path.join(buildDir, 'cli/main.js');
}
