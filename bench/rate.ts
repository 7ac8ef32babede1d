// Micro-benchmark timing shared by the bench scripts.

/** Calls fn for about `ms` milliseconds after a warm-up; returns calls per second. */
export function rate(fn: () => unknown, ms = 1500): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
    now = process.hrtime.bigint();
  }
  return (n * 1e9) / Number(now - start);
}
