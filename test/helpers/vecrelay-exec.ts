// `vecrelay <command>` run to completion, for the one-shot commands (plan, cutover, status,
// teardown) whose exit code and output a test checks. Long-running ones: startVecrelay.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './stack.js';

export const vecrelayBin = path.join(repoRoot, 'bin/vecrelay.js');

export interface VecrelayRun {
  /** The exit code (null when it was killed). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `vecrelay ...args` (`env` added to ours); resolves whatever the exit code. */
export function execVecrelay(
  args: string[],
  { env = {}, timeoutMs }: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<VecrelayRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vecrelayBin, ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** Like execVecrelay, but a non-zero exit rejects, with the output in the message. */
export async function execVecrelayOk(...params: Parameters<typeof execVecrelay>): Promise<VecrelayRun> {
  const run = await execVecrelay(...params);
  if (run.code !== 0)
    throw new Error(`vecrelay ${params[0].join(' ')} exited with ${run.code}:\n${run.stdout}\n${run.stderr}`);
  return run;
}
