#!/usr/bin/env node
/**
 * Writes V8's code cache for one CLI bundle (BUNDLE.cache), after running the command lines a typical
 * start of that bundle runs, so that the functions they compile lazily are in the cache too: a function
 * missing from it is compiled at run time, on every run. bin/elfcopy.cjs uses the cache when present.
 * Same wrapper text as bin/elfcopy.cjs: V8 checks the source matches.
 *
 *   node scripts/code-cache.cjs BUNDLE '[["deps","--list","/usr/bin/true"], …]'
 *
 * Each command line (without `node BIN`) runs in turn through the bundle's exported main(argv), its
 * output dropped; one that fails is said on stderr and the cache is written all the same (it only
 * misses that command's functions).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const bundle = path.resolve(process.argv[2]);
const warmUps = JSON.parse(process.argv[3] ?? '[]');
const source = fs.readFileSync(bundle, 'utf8');
const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
const script = new vm.Script(wrapper, { filename: bundle });
// Loading the bundle runs its program on process.argv: --version, which is done at once; the warm-ups
// follow through main(argv).
process.argv = [process.argv[0], bundle, '--version'];
// The commands' output is dropped: they write to descriptor 1 directly (cli/src/output.ts) or through
// process.stdout (commander, a copy's --json).
const write = process.stdout.write;
const writeSync = fs.writeSync;
process.stdout.write = () => true;
// The deps bundle ends the process when its command is done (program.ts, exitWhenDone): not here.
const exit = process.exit;
process.exit = (code) => {
  process.exitCode = code;
};
fs.writeSync = (fd, ...rest) => (fd === 1 ? (typeof rest[0] === 'string' ? Buffer.byteLength(rest[0]) : (rest[2] ?? rest[0].length - (rest[1] ?? 0))) : writeSync(fd, ...rest));
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));

(async () => {
  for (const argv of warmUps) {
    const code = await mod.exports.main([process.argv[0], bundle, ...argv]);
    if (code !== 0) process.stderr.write(`code-cache: warm-up \`elfcopy ${argv.join(' ')}\` exited ${code}; its functions compile at run time\n`);
  }
  // A moment for what the last command left running (a copy's worker thread) to end.
  setTimeout(() => {
    process.stdout.write = write;
    fs.writeSync = writeSync;
    process.exit = exit;
    process.exitCode = 0;
    fs.writeFileSync(bundle + '.cache', script.createCachedData());
  }, 100);
})();
