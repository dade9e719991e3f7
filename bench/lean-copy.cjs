#!/usr/bin/env node
/**
 * bench/run.mjs, W3: a floor for any Node program that copies the same entries and records the sha256
 * of every byte it writes (as elfcopy's manifest does): no plan, no resolution, no checks, no manifest,
 * one thread. Each file is read once through a 256 KiB buffer, hashed and written; directories and
 * symbolic links are made as they are. Modes are kept (umask 0); owners and times are not (a floor).
 *
 *   node bench/lean-copy.cjs LIST DEST     LIST: one path a line, relative to /, parents first (tar -T's list)
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');

const [list, dest] = process.argv.slice(2);
if (!list || !dest) {
  console.error('usage: node bench/lean-copy.cjs LIST DEST');
  process.exit(2);
}
process.umask(0);
const buf = Buffer.allocUnsafe(256 * 1024);
for (const name of fs.readFileSync(list, 'utf8').split('\n')) {
  if (name === '') continue;
  const src = `/${name}`;
  const dst = path.join(dest, name);
  const st = fs.lstatSync(src);
  if (st.isDirectory()) {
    fs.mkdirSync(dst, { recursive: true, mode: st.mode & 0o7777 });
  } else if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dst);
  } else if (st.isFile()) {
    const hash = createHash('sha256');
    const from = fs.openSync(src, 'r');
    const to = fs.openSync(dst, 'wx', st.mode & 0o7777);
    for (let n; (n = fs.readSync(from, buf, 0, buf.length, null)) > 0; ) {
      hash.update(buf.subarray(0, n));
      fs.writeSync(to, buf, 0, n);
    }
    hash.digest();
    fs.closeSync(from);
    fs.closeSync(to);
  }
}
