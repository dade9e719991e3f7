// Loaded with `node -r` by bench/profile.mjs: starts V8's sampling profiler from inside the process and
// writes ELFCOPY_PROFILE_DIR/<pid>.cpuprofile at exit. Unlike `node --cpu-prof`, `-r` is no V8 flag, so
// V8 still accepts the bundle's code cache: the profile shows the start-up users get (a flag on the
// command line would add ~12 ms of compilation that no real run pays).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const dir = process.env.ELFCOPY_PROFILE_DIR;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  // The in-thread session answers synchronously: the profiler runs before the program's first line.
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env.ELFCOPY_PROFILE_INTERVAL_US ?? 100) });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
