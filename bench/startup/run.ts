/**
 * Startup benchmark: on a built tree, the time from spawning `confab serve` (fresh data dir) to
 * the first 200 from /health-check, and the main process's RSS after 2 s idle.
 * Goals (issue 2): ready within 1.5 s, idle RSS under 150 MB.
 * Usage: npm run bench -- startup [--runs=N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { confabBin } from '../../test/support/confabProcess.js';
import { freePort } from '../../test/support/net.js';
import { median } from '../stats.js';

const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 7);
const goalReadyMs = 1500;
const goalRssMb = 150;
const idleMs = 2000;
const perRunTimeoutMs = 15000;

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/health-check', timeout: 500 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function oneRun(dir: string): Promise<{
  readyMs: number;
  rssMb: number;
  peakMb: number;
  cpuMs: number;
}> {
  const port = await freePort();
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('CONFAB_')),
  );
  const started = performance.now();
  const proc = spawn(
    process.execPath,
    [confabBin, 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'data')],
    {
      env: { ...env, CONFAB_LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    },
  );
  try {
    let readyMs = Number.NaN;
    while (performance.now() - started < perRunTimeoutMs) {
      if (proc.exitCode !== null) throw new Error(`confab exited with ${proc.exitCode}`);
      if (await healthy(port)) {
        readyMs = performance.now() - started;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    if (Number.isNaN(readyMs)) throw new Error('confab was not ready in time');
    const cpuMs = cpuMsOf(proc.pid as number);
    await new Promise((r) => setTimeout(r, idleMs));
    return { readyMs, cpuMs, ...memoryOf(proc.pid as number) };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

// First start: an empty data dir (keys generated, the first admin's password hashed).
// Restart: the same data dir again, the usual case.
const results: Awaited<ReturnType<typeof oneRun>>[] = [];
const restarts: Awaited<ReturnType<typeof oneRun>>[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-bench-'));
  results.push(await oneRun(dir));
  restarts.push(await oneRun(dir));
  rmSync(dir, { recursive: true, force: true });
}

const table = (title: string, rows: typeof results) => {
  console.log(title);
  console.log('run  ready_ms  cpu_to_ready_ms  idle_rss_mb  peak_rss_mb');
  rows.forEach((r, i) => {
    console.log(
      `${String(i + 1).padStart(3)}  ${r.readyMs.toFixed(0).padStart(8)}  ${r.cpuMs.toFixed(0).padStart(15)}  ${r.rssMb.toFixed(1).padStart(11)}  ${r.peakMb.toFixed(1).padStart(11)}`,
    );
  });
};
console.log(
  `confab serve startup, ${runs} runs each (node ${process.version}, ${process.platform}):`,
);
table('first start (empty data dir):', results);
table('restart (same data dir):', restarts);
const first = results[0] as (typeof results)[number];
const readyMed = median(results.map((r) => r.readyMs));
const restartMed = median(restarts.map((r) => r.readyMs));
const rssMed = median(restarts.map((r) => r.rssMb));
console.log(`cold start (first run): ready ${first.readyMs.toFixed(0)} ms`);
console.log(
  `first start ready: median ${readyMed.toFixed(0)} ms, goal ${goalReadyMs} ms, ratio ${(readyMed / goalReadyMs).toFixed(2)} (≤ 1 meets it)`,
);
console.log(
  `restart ready: median ${restartMed.toFixed(0)} ms, goal ${goalReadyMs} ms, ratio ${(restartMed / goalReadyMs).toFixed(2)} (≤ 1 meets it)`,
);
console.log(
  `idle RSS: median ${rssMed.toFixed(1)} MB, goal ${goalRssMb} MB, ratio ${(rssMed / goalRssMb).toFixed(2)} (< 1 meets it)`,
);
