// What the benches read of a process from /proc: CPU seconds and peak RSS (VmHWM), sampled while
// it runs — one sampler for every bench, so their figures mean the same thing.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** /proc/PID/stat after the command name: [state, ppid, …]; utime, stime, cutime, cstime at 11–14. */
export function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime in seconds (clock ticks: USER_HZ is 100 on Linux); with `reaped`, its reaped children's too. */
export function processCpuSeconds(pid: number, reaped = false): number {
  const f = statFields(pid);
  const own = Number(f[11]) + Number(f[12]);
  return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / 100;
}

/**
 * Samples `child`'s peak RSS and CPU every 100 ms, and once more as it exits (a child is a zombie
 * until reaped: /proc still has its figures). `stop()` takes a last sample while it still runs.
 */
export function sampleProcess(child: ChildProcess, options: { reaped?: boolean } = {}) {
  let peakKb = 0;
  let cpuSeconds = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
      cpuSeconds = processCpuSeconds(child.pid!, options.reaped);
    } catch {
      /* exited: the last sample stands */
    }
  };
  const timer = setInterval(sample, 100);
  child.on('exit', sample);
  return {
    stop(): { peakMb: number; cpuSeconds: number } {
      clearInterval(timer);
      if (child.exitCode === null) sample();
      return { peakMb: peakKb / 1024, cpuSeconds };
    },
  };
}
