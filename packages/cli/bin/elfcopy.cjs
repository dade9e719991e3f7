#!/usr/bin/env node
// The published bin: a stable file that exists before the build has run; the work is in the bundles.
// `elfcopy deps …` starts the deps-only bundle, a plain copy (`elfcopy PATH… --into JAIL`) the copy-only
// bundle (scripts/bundle.mjs): the same program with that one command. Everything else, and any bundle
// the build did not leave, is the full program.
// A bundle is compiled with V8's code cache when the build left one (scripts/code-cache.cjs): that
// saves ~12 ms of compilation on every run. A cache from another Node version is rejected by V8 and the
// bundle is simply compiled as usual.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

/**
 * The full program's command names (main.ts) and commander's own `help`: a first operand that is one
 * of them is that command, anything else that is not an option is a path for the default command, copy.
 * test/start-up.test.ts checks this list against `elfcopy --help`.
 */
const COMMANDS = new Set(['deps', 'copy', 'init', 'verify', 'audit', 'unit', 'trace', 'image', 'sbom', 'help']);

/**
 * Help asked for anywhere: commander prints the whole program's help for it even when it goes on to
 * the default command, which the copy-only program cannot. Any single-dash word with an h (-h, -qh, a
 * value such as -help) and anything from --help on: wider than commander's own reading, never narrower.
 */
const asksHelp = (a) => a.startsWith('--help') || (a.length > 1 && a[0] === '-' && a[1] !== '-' && a.includes('h'));

/** The program's own switches (baseProgram in program.ts), which may come before the command. */
const PROGRAM_SWITCHES = new Set(['-q', '--quiet', '-v', '--verbose']);

function bundleFor(argv) {
  if (argv[2] === 'deps') return 'elfcopy-deps.cjs';
  if (argv.some(asksHelp)) return 'elfcopy.cjs';
  let i = 2;
  while (PROGRAM_SWITCHES.has(argv[i])) i++;
  const first = argv[i];
  // `copy` by name: the copy-only program has that command too.
  if (first === 'copy' || (first !== undefined && first[0] !== '-' && !COMMANDS.has(first))) return 'elfcopy-copy.cjs';
  return 'elfcopy.cjs';
}

const deps = process.argv[2] === 'deps';
const dist = path.join(__dirname, '..', 'dist');

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

// A dist from a build that made no such bundle: the full program runs every command line.
const full = path.join(dist, 'elfcopy.cjs');
let bundle = path.join(dist, bundleFor(process.argv));
let source = readIfThere(bundle, 'utf8');
if (source === undefined && bundle !== full) {
  bundle = full;
  source = readIfThere(bundle, 'utf8');
}
// No bundle at all (no build yet): require says so.
const cachedData = source === undefined ? undefined : readIfThere(bundle + '.cache');

function readIfThere(file, encoding) {
  try {
    return fs.readFileSync(file, encoding);
  } catch {
    return undefined;
  }
}

if (cachedData === undefined) {
  boundYoungGeneration();
  require(bundle);
} else {
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: bundle, cachedData });
  boundYoungGeneration();
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));
}
