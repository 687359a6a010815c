/**
 * Loaded into a benchmarked Node process (`node --require`, also through NODE_OPTIONS, where
 * `--cpu-prof` is not allowed) when `BENCH_CPU_PROFILE_DIR` is set: a V8 CPU profile of the
 * process's main thread from its start, written as `<pid>.cpuprofile` into that folder when
 * the process exits (an in-process inspector session answers at once, so `exit` can wait).
 * With `BENCH_CPU_PROFILE_FROM` (a file name) it starts only once that file exists, so that a
 * benchmark can profile its measured window alone, and with `BENCH_CPU_PROFILE_MS` it is written
 * that long after it started (a process killed at the end writes nothing at its exit).
 */
'use strict';
const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const { writeFileSync } = require('node:fs');
  const path = require('node:path');
  const inspector = require('node:inspector');
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, result) => {
      if (!err)
        writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  const from = process.env.BENCH_CPU_PROFILE_FROM;
  const forMs = Number(process.env.BENCH_CPU_PROFILE_MS ?? 0);
  const start = () => {
    session.post('Profiler.start');
    if (forMs > 0) setTimeout(write, forMs).unref();
  };
  if (from) {
    const { existsSync } = require('node:fs');
    const poll = setInterval(() => {
      if (!existsSync(from)) return;
      clearInterval(poll);
      start();
    }, 200);
    poll.unref();
  } else start();
  process.on('exit', write);
  for (const signal of ['SIGTERM', 'SIGINT']) process.prependListener(signal, write);
}
