/**
 * Loaded into a benchmarked Node process (`node --require`, also through NODE_OPTIONS, where
 * `--cpu-prof` is not allowed) when `BENCH_CPU_PROFILE_DIR` is set: a V8 CPU profile of the
 * process's main thread from its start, written as `<pid>.cpuprofile` into that folder when
 * the process exits (an in-process inspector session answers at once, so `exit` can wait).
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
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    session.post('Profiler.stop', (err, result) => {
      if (!err)
        writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  };
  process.on('exit', write);
  for (const signal of ['SIGTERM', 'SIGINT']) process.prependListener(signal, write);
}
