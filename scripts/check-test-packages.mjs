#!/usr/bin/env node
// `npm test`'s first step (the "pretest" script): the suite runs real oracles (readelf, ldd, chroot,
// nginx, php-fpm, tar, skopeo, …) that a fresh Debian 12 lacks. Rather than fail a hundred tests one by
// one, say what is missing in one apt-get line and stop. scripts/test-packages.txt is the one list, read
// here and by .ci/run (which installs it, then runs npm test).
//
//   node scripts/check-test-packages.mjs [LIST]     exit 0: all there; 1: the apt-get line to run
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const list = process.argv[2] ?? fileURLToPath(new URL('test-packages.txt', import.meta.url));
const wanted = readFileSync(list, 'utf8')
  .split('\n')
  .map((l) => l.replace(/#.*/, '').trim())
  .filter(Boolean);

const problems = [];
const major = Number(process.versions.node.split('.')[0]);
if (major < 20) problems.push(`Node.js ${process.versions.node} is too old: elfcopy needs Node.js 20 or later`);
if (process.getuid?.() !== 0) problems.push('the tests chroot, make device nodes and start daemons in jails: run npm test as root');

// One dpkg-query for the whole list: a package it does not know goes to stderr, and is missing too.
const q = spawnSync('dpkg-query', ['-W', '-f=${Package}\\t${db:Status-Abbrev}\\n', ...wanted], { encoding: 'utf8' });
if (q.error) {
  problems.push(`dpkg-query: ${q.error.code === 'ENOENT' ? 'not found' : q.error.message} (the test suite runs on Debian 12, where .ci/run installs ${list})`);
} else {
  // "ii " is installed; "rc " (removed, config left) and the rest are not.
  const installed = new Set(
    q.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, status]) => status?.startsWith('ii'))
      .map(([name]) => name),
  );
  const missing = wanted.filter((p) => !installed.has(p));
  if (missing.length > 0) {
    process.stderr.write(`npm test: ${missing.length} Debian package(s) the tests use are not installed (from ${list}); install them with:\n`);
    process.stdout.write(`apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}\n`);
    process.exitCode = 1;
  }
}
for (const p of problems) process.stderr.write(`npm test: ${p}\n`);
if (problems.length > 0) process.exitCode = 1;
