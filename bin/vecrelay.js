#!/usr/bin/env node
// Entry point of the `vecrelay` command. A built tree (dist/, from `npm run build`) runs as plain
// JavaScript; a source checkout runs the TypeScript through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
