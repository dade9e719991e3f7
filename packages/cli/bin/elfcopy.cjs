#!/usr/bin/env node
// The published bin: a stable file that exists before the build has run; the work is in the bundle.
// `elfcopy deps …` starts the deps-only bundle (scripts/bundle.mjs): the same program with that one command.
// The bundle is compiled with V8's code cache when the build left one (scripts/code-cache.cjs): that
// saves ~12 ms of compilation on every run. A cache from another Node version is rejected by V8 and the
// bundle is simply compiled as usual.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const deps = process.argv[2] === 'deps';
const bundle = path.join(__dirname, '..', 'dist', deps ? 'elfcopy-deps.cjs' : 'elfcopy.cjs');
let cachedData;
try {
  cachedData = fs.readFileSync(bundle + '.cache');
} catch {
  cachedData = undefined;
}
/**
 * A directory argument means a batch (thousands of files): keep V8's young generation from doubling,
 * which holds peak RSS near 100 MB on a closure of all of /usr for ~5% more time. Set after the bundle
 * is compiled: a flag changed before would make V8 reject the code cache. `elfcopy deps` sets it itself
 * when it meets a directory (cli/src/batch-heap.ts), without asking about every argument first.
 */
function boundYoungGeneration() {
  if (deps) return;
  // access("ARG/") succeeds for a directory only: no stat buffer and no exception per argument, for
  // the thousands of files a batch may name instead.
  // Not for a copy (--into): its directory arguments are a few, and the bound's extra scavenges cost it ~2-3 %.
  const batch = !process.argv.some((a) => a === '--into' || a.startsWith('--into=')) && process.argv.slice(2).some((a) => !a.startsWith('-') && fs.existsSync(`${a}/`));
  if (batch) require('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}

if (cachedData === undefined) {
  boundYoungGeneration();
  require(bundle);
} else {
  const source = fs.readFileSync(bundle, 'utf8');
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: bundle, cachedData });
  boundYoungGeneration();
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));
}
