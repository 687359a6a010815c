/**
 * `npm run bench -- audio-room`: 4 speakers (Opus, 50 packets a second, audio level 25-45) and
 * 250 listeners who publish nothing and receive the 4 speakers, on the Confab bridge and on
 * Janus's VideoRoom with audio-only publishers and subscribers, each alone on core 0; the
 * participants are this process on core 1 (the meeting benchmark's generator: bench/meeting).
 * Per SFU: CPU (% of one core, µs per forwarded packet), loss, added latency, peak RSS; then
 * the ratios. Goals from issue 23: ≤ 0.7× Janus's CPU, loss ≤ 0.5%.
 */
import { execFileSync } from 'node:child_process';
import { f1, f2, type Result, runUndisturbed } from '../meeting/live.js';
import { confabMeeting, janusMeeting } from '../meeting/meetings.js';
import type { Shape } from '../meeting/shape.js';
import { median } from '../stats.js';

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
}
const speakers = Math.max(1, Number(arg('speakers') ?? 4));
const listeners = Math.max(1, Number(arg('listeners') ?? 250));
const rounds = Math.max(1, Number(arg('rounds') ?? 1));
const only = arg('sfu');
const goals = { cpuRatio: 0.7, lossPct: 0.5 };
const shape: Shape = {
  participants: speakers + listeners,
  publishers: speakers,
  talkers: speakers,
  cameras: 0,
  sampled: Math.min(speakers + listeners, Number(arg('sampled') ?? 20)),
};
const opts = {
  batchMs: Number(arg('batch') ?? 2),
  threads: process.argv.includes('--threads'),
  windowMs: Number(arg('window') ?? 20) * 1000,
  settleMs: Number(arg('settle') ?? 5) * 1000,
  /** `--retries=N`: a run other processes disturbed is repeated up to N times (1). */
  retries: Math.max(0, Number(arg('retries') ?? 1)),
};

async function main(): Promise<void> {
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(
    `audio room benchmark: ${speakers} speakers, ${listeners} listeners (${shape.sampled} sampled), SFU on core 0, generator on core 1; ${opts.settleMs / 1000} s settling, ${opts.windowMs / 1000} s windows`,
  );
  const runs: Record<'confab' | 'janus', Result[]> = { confab: [], janus: [] };
  for (let round = 1; round <= rounds; round++) {
    const tag = rounds > 1 ? ` round ${round}` : '';
    if (only !== 'janus') {
      runs.confab.push(
        await runUndisturbed(`confab${tag}`, shape, (m) => confabMeeting(shape, m), opts),
      );
    }
    if (only !== 'confab') {
      runs.janus.push(
        await runUndisturbed(`janus${tag}`, shape, (m) => janusMeeting(shape, m), opts),
      );
    }
  }
  const med = (rs: Result[], k: keyof Result) => median(rs.map((r) => r[k] as number));
  const flags = (rs: Result[]) =>
    (rs.some((r) => r.generatorBound) ? ' [generator-bound]' : '') +
    (rs.some((r) => r.disturbed) ? ' [disturbed]' : '') +
    (rs.some((r) => r.crashed) ? ' [crashed]' : '');
  const of = rounds > 1 ? ` (medians of ${rounds})` : '';
  for (const name of ['confab', 'janus'] as const) {
    const rs = runs[name];
    if (!rs.length) continue;
    console.log(
      `audio room ${name}${of}: CPU ${f1(med(rs, 'cpuPct'))}% of one core, ${f1(med(rs, 'usPerPacket'))} µs per forwarded packet, loss ${f2(med(rs, 'lossPct'))}% (goal ≤ ${goals.lossPct}%), added latency p50 ${f2(med(rs, 'addedP50'))} p99 ${f2(med(rs, 'addedP99'))} ms, peak RSS ${f1(med(rs, 'peakRssMb'))} MB${name === 'confab' ? `, bridge event loop p99 ${f1(med(rs, 'loopP99'))} ms` : ''}${flags(rs)}`,
    );
  }
  if (runs.confab.length && runs.janus.length) {
    const ratio = (k: keyof Result) => f2(med(runs.confab, k) / med(runs.janus, k));
    console.log(
      `audio room confab/janus${of}: CPU ${ratio('cpuPct')} (goal ≤ ${goals.cpuRatio}), CPU per forwarded packet ${ratio('usPerPacket')}, packets forwarded ${ratio('packets')}, peak RSS ${ratio('peakRssMb')}, added latency p50 ${ratio('addedP50')} p99 ${ratio('addedP99')}`,
    );
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
