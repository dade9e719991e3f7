#!/usr/bin/env node
/**
 * Writes V8's code cache for the CLI bundle (dist/elfcopy.cjs.cache), after running one typical command
 * so that the functions it compiles lazily are in the cache too. bin/elfcopy.cjs uses it when present.
 * Same wrapper text as bin/elfcopy.cjs: V8 checks the source matches.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const bundle = path.resolve(process.argv[2]);
const source = fs.readFileSync(bundle, 'utf8');
const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
const script = new vm.Script(wrapper, { filename: bundle });
process.argv = [process.argv[0], bundle, 'deps', '--list', '/usr/bin/true'];
// The command's output is dropped: it writes to descriptor 1 directly (cli/src/output.ts).
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
setTimeout(() => {
  process.stdout.write = write;
  fs.writeSync = writeSync;
  process.exit = exit;
  process.exitCode = 0;
  fs.writeFileSync(bundle + '.cache', script.createCachedData());
}, 100);
