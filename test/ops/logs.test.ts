// What a person reads of a healthy run: no line at error level, no JSON key twice, a stop by
// SIGTERM with nothing in flight is immediate, logged at info and exit 0. On a terminal
// (VECRELAY_LOG_FORMAT=pretty here) the lines are pino-pretty's, not JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useSinkPipelines, vec, lit } from '../helpers/sink-pipeline.js';
import { uniqueName } from '../helpers/stack.js';

const ctx = useSinkPipelines({ prefix: 'logs' });

/** The keys of one JSON line, in order, duplicates kept (JSON.parse would keep only the last). */
function keysOf(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(line.slice(i + 1, j));
      i = j;
    }
  }
  return keys;
}

async function syncedRun(env: Record<string, string> = {}) {
  const table = uniqueName('logs');
  await ctx.createTable(table, 4);
  await ctx.sql.query(
    `INSERT INTO ${table} SELECT i, 'row ' || i, i, $1::vector FROM generate_series(1, 20) i`,
    [lit(vec(1, 4))],
  );
  const { collection, config } = ctx.pipeline(table);
  const run = ctx.start(['run', '--config', config], { VECRELAY_LOG_LEVEL: 'info', ...env });
  await ctx.waitCollectionEqualsTable(table, collection);
  await ctx.sql.query(`UPDATE ${table} SET title = 'changed' WHERE id = 1`);
  await ctx.waitCollectionEqualsTable(table, collection);
  return run;
}

test('a healthy run and its stop: no error-level line, no key twice, SIGTERM idle exits 0 at once, logged at info', async () => {
  const run = await syncedRun({ VECRELAY_LOG_FORMAT: 'json' });
  const t0 = Date.now();
  run.child.kill('SIGTERM');
  const exit = await run.exited;
  const seconds = (Date.now() - t0) / 1000;
  const text = readFileSync(run.logFile, 'utf8');
  assert.equal(exit.code, 0, `a stop by signal exits 0; log:\n${text}`);
  assert.ok(seconds < 10, `nothing in flight: stopped in ${seconds} s (the drain deadline is 30 s)`);

  const lines = text.split('\n').filter(Boolean);
  for (const line of lines) {
    assert.ok(line.startsWith('{'), `every line is JSON (one line per event): ${line}`);
    const entry = JSON.parse(line) as { level: number; msg: string };
    assert.ok(entry.level < 50, `no error-level line on a healthy run: ${line}`);
    const keys = keysOf(line);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
      `no key twice: ${line}`,
    );
  }
  const last = JSON.parse(lines.at(-1)!) as { level: number; msg: string };
  assert.equal(last.msg, 'stopped');
  assert.equal(last.level, 30, 'a normal stop is logged at info');
});

test('VECRELAY_LOG_FORMAT=pretty: one readable line per entry, no JSON', async () => {
  const run = await syncedRun({ VECRELAY_LOG_FORMAT: 'pretty', NO_COLOR: '1' });
  run.child.kill('SIGTERM');
  await run.exited;
  const lines = readFileSync(run.logFile, 'utf8').split('\n').filter(Boolean);
  assert.ok(lines.length > 3, lines.join('\n'));
  for (const line of lines) assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|DEBUG): /, line);
  assert.ok(
    lines.some((l) => /INFO: source\/stream: /.test(l)),
    `lines name the stage and component:\n${lines.join('\n')}`,
  );
});
