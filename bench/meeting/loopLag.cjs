/**
 * Loaded into the Confab bridge process by benchmarks (`node --require`), so that the bridge's
 * own event-loop delay can be read without a change to the bridge: each second it appends one
 * JSON line to the file named by `BENCH_LOOP_LAG_FILE` (wall-clock ms, the process id (several
 * processes may share the file: a server and the bridge it starts), that second's sample
 * count, its histogram's percentiles and max in ms, and the process's RSS and heap in MB), then
 * starts the histogram afresh (`loopLag.ts` merges the seconds).
 * One small asynchronous append a second; the timer is unref'd and never keeps the bridge alive.
 */
'use strict';
const { appendFile } = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const file = process.env.BENCH_LOOP_LAG_FILE;
if (file) {
  // Node 20's histogram holds the whole interval between its timer's turns, the resolution
  // included (an idle loop reads 5.1 ms at 5): the delay is what exceeds the resolution.
  const resolution = 5;
  const h = monitorEventLoopDelay({ resolution });
  h.enable();
  const ms = (ns) => Math.max(0, Math.round(ns / 1e4) / 100 - resolution);
  setInterval(() => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      pid: process.pid,
      count: h.count,
      pcts: [...h.percentiles].map(([p, v]) => [p, ms(v)]),
      max: ms(h.max),
      rssMb: Math.round(m.rss / 1e5) / 10,
      heapMb: Math.round(m.heapUsed / 1e5) / 10,
    };
    h.reset();
    // Asynchronous: a write that waits on a busy disk must not stall the loop it measures. A
    // failed one (the benchmark removed its folder) is dropped.
    appendFile(file, `${JSON.stringify(line)}\n`, () => {});
  }, 1000).unref();
}
