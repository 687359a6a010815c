/**
 * `npm run bench -- soak --minutes=N`: W-meet-20 (bench/meeting) on the Confab bridge for N
 * minutes, measured a minute at a time: the bridge's resident memory, its event-loop delay
 * (its own, through `loopLag.cjs`), loss and added latency at the sampled receivers, its CPU,
 * and whether it crashed. Then the trend: RSS drift from the end of the warm-up (10 minutes,
 * fewer for a shorter run, said so) to the last minute, and the slope after the warm-up.
 * Goal from issue 23 for a 2-hour run: no crash, RSS drift ≤ 10% after a 10-minute warm-up.
 */
import { execFileSync } from 'node:child_process';
import { f1, f2, LiveMeeting, type Result, sleep } from '../meeting/live.js';
import { confabMeeting } from '../meeting/meetings.js';
import { meetingShape } from '../meeting/shape.js';

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}
const minutes = Math.max(1, Math.min(24 * 60, Number(arg('minutes') ?? 3)));
const participants = Math.max(2, Number(arg('participants') ?? 20));
/** `--warmup=M`: minutes left out of the drift (10; at most half the run). */
const warmup = Math.min(Number(arg('warmup') ?? 10), Math.floor(minutes / 2));
/** `--minute=S`: seconds per measured step (60; shorter only to try the benchmark out). */
const stepMs = Number(arg('minute') ?? 60) * 1000;
const goals = { driftPct: 10 };

/** Least-squares slope of ys over xs. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
}

async function main(): Promise<void> {
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const shape = meetingShape(participants);
  console.log(
    `soak: W-meet-${participants} on the Confab bridge for ${minutes} × ${stepMs / 1000} s (warm-up ${warmup}), bridge on core 0, generator on core 1`,
  );
  const live = await LiveMeeting.start('confab', shape, (m) => confabMeeting(shape, m), {
    batchMs: Number(arg('batch') ?? 2),
  });
  const rows: Result[] = [];
  try {
    await live.ready();
    await sleep(3000);
    for (let minute = 1; minute <= minutes; minute++) {
      const r = await live.window(stepMs);
      rows.push(r);
      const flags =
        (r.generatorBound ? ' GENERATOR-BOUND' : '') +
        (r.disturbed
          ? ` DISTURBED (others took ${f1(r.otherPct[0])}% of core 0, ${f1(r.otherPct[1])}% of core 1)`
          : '') +
        (r.crashed ? ` CRASHED: the bridge ${r.crashed}` : '') +
        (r.packets === 0 ? ' NOTHING FORWARDED' : '');
      console.log(
        `minute ${minute}: RSS ${f1(r.rssMb)} MB (peak ${f1(r.peakRssMb)}), bridge event loop p99 ${f1(r.loopP99)} ms max ${f1(r.loopMax)}, CPU ${f1(r.cpuPct)}%, loss ${f2(r.lossPct)}% (${r.lost} of ${r.expected}), added p99 ${f2(r.addedP99)} ms, ${r.packets} packets, generator ${f1(r.generatorPct)}%${flags}`,
      );
      if (r.crashed) break;
    }
  } finally {
    await live.stop();
  }
  const crashes = rows.filter((r) => r.crashed).length;
  const lost = rows.reduce((n, r) => n + r.lost, 0);
  const expected = rows.reduce((n, r) => n + r.expected, 0);
  const after = rows.slice(warmup > 0 ? warmup - 1 : 0);
  const first = after[0]?.rssMb ?? Number.NaN;
  const last = rows.at(-1)?.rssMb ?? Number.NaN;
  const drift = (100 * (last - first)) / first;
  const perHour =
    after.length > 1
      ? slope(
          after.map((_, i) => i),
          after.map((r) => r.rssMb),
        ) *
        (3_600_000 / stepMs)
      : Number.NaN;
  const lags = rows.map((r) => r.loopP99).filter(Number.isFinite);
  const bound = rows.filter((r) => r.generatorBound || r.disturbed).length;
  const silent = rows.filter((r) => r.packets === 0).length;
  console.log(
    `soak summary: ${rows.length} of ${minutes} minutes, ${crashes ? `${crashes} CRASH` : 'no crash'}, ${silent} minutes with nothing forwarded; RSS ${f1(rows[0]?.rssMb ?? Number.NaN)} MB after minute 1, ${f1(first)} MB after the warm-up (minute ${Math.max(1, warmup)}), ${f1(last)} MB at the end: drift ${f1(drift)}% (goal ≤ ${goals.driftPct}% over 2 hours), slope after the warm-up ${f1(perHour)} MB/hour; bridge event loop p99 per minute ${f1(Math.min(...lags))}-${f1(Math.max(...lags))} ms; loss ${f2((100 * lost) / Math.max(1, expected))}% (${lost} of ${expected}); ${bound} minutes generator-bound or disturbed`,
  );
  process.exit(crashes ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
