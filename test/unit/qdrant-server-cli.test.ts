// The Qdrant test server's CLI: prints its address(es) when ready, answers, exits cleanly on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { QdrantClient } from '@qdrant/js-client-grpc';
import { repoRoot } from '../helpers/stack.js';

test('main.ts listens, answers GET /, and exits 0 on SIGTERM', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'test/qdrant-server/main.ts'), '--port', '0'],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        const m = /^qdrant-test-server listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}`)));
    });
    const res = await fetch(`${url}/`);
    assert.deepEqual(await res.json(), { title: 'qdrant - vector search engine', version: '1.19.0' });
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('main.ts --grpc-port 0 prints the gRPC address first, which answers the health check; SIGTERM closes both', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'test/qdrant-server/main.ts'), '--port', '0', '--grpc-port', '0'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited early (${code}): ${out}`)));
    });
    const grpcUrl = /^qdrant-test-server grpc on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1];
    assert.ok(grpcUrl, out);
    const client = new QdrantClient({ url: grpcUrl, checkCompatibility: false });
    const health = await client.api('service').healthCheck({});
    assert.equal(health.version, '1.19.0');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('main.ts refuses a bad --grpc-port with exit 2', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'test/qdrant-server/main.ts'), '--port', '0', '--grpc-port', 'x'],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 2);
  assert.match(err, /invalid --grpc-port x/);
});
