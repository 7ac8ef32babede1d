// Named crash points for the crash tests: `VECRELAY_CRASH_AT=<point>[:<n>]` makes the process
// SIGKILL itself the n-th time (default: the first) it passes <point>, so a test can stop the
// source at a moment of its choosing — right after the slot is created, between a snapshot chunk
// and its progress record — and check that a restart ends in the same state. Unset (always, in
// production), a crash point is one comparison.
const wanted = process.env.VECRELAY_CRASH_AT;
const [point, nth] = (wanted ?? '').split(':');
let remaining = Number(nth ?? 1) || 1;

export function crashPoint(name: string): void {
  if (wanted === undefined || name !== point) return;
  if (--remaining > 0) return;
  process.stderr.write(`VECRELAY_CRASH_AT=${wanted}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
