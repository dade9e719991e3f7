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
const write = process.stdout.write;
process.stdout.write = () => true;
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, path.dirname(bundle));
setTimeout(() => {
  process.stdout.write = write;
  process.exitCode = 0;
  fs.writeFileSync(bundle + '.cache', script.createCachedData());
}, 100);
