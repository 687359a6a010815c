/**
 * What a benchmark reads of a process from /proc: its CPU time, its CPU time per thread, its
 * resident memory (now and peak), and how busy each core was.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
export const clk = 100;

/** CPU ms (user + system) the process has used. */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1000) / clk;
}

/** Peak resident memory in MB (`VmHWM`). */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Resident memory now in MB (`VmRSS`). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Busy ms of each core (/proc/stat: all but idle and iowait). */
export function coreBusyMs(): number[] {
  const out: number[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = (m[2] ?? '').split(' ').map(Number);
    const busy = f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
    out[Number(m[1])] = (busy * 1000) / clk;
  }
  return out;
}

/** CPU ms per thread name (`/proc/PID/task/TID/stat`), for `--threads`. */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = tid === String(pid) ? `${comm} (main)` : comm;
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / clk);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** The CPU each thread used between two `threadCpuMs` readings, busiest first. */
export function threadDiff(a: Map<string, number>, b: Map<string, number>): string {
  return [...b]
    .map(([name, ms]) => [name, ms - (a.get(name) ?? 0)] as const)
    .filter(([, ms]) => ms > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`)
    .join(', ');
}

/** The ids of a process's children (the children file of each of its tasks in /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`))
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' '))
      if (child.trim()) out.push(Number(child));
  return out;
}
