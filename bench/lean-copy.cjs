#!/usr/bin/env node
/**
 * bench/run.mjs, W3: a floor for any Node program that copies the same entries and records the sha256
 * of every byte it writes (as elfcopy's manifest does): no plan, no resolution, no checks, no manifest.
 * Each file is read once through a 256 KiB buffer, hashed and written; directories and symbolic links
 * are made as they are. Modes are kept (umask 0); owners and times are not (a floor).
 * With two or more cores the files are split in two lanes as elfcopy splits them: the main thread
 * and one worker thread, each taking the largest file not yet taken by either.
 *
 *   node bench/lean-copy.cjs LIST DEST     LIST: one path a line, relative to /, parents first (tar -T's list)
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createHash } = require('node:crypto');
const { Worker, isMainThread, workerData } = require('node:worker_threads');

const buf = Buffer.allocUnsafe(256 * 1024);
/** Copies SRC to DST in one pass, hashing what it writes. */
function copyHashed(src, dst, mode) {
  const hash = createHash('sha256');
  const from = fs.openSync(src, 'r');
  const to = fs.openSync(dst, 'wx', mode);
  for (let n; (n = fs.readSync(from, buf, 0, buf.length, null)) > 0; ) {
    hash.update(buf.subarray(0, n));
    fs.writeSync(to, buf, 0, n);
  }
  hash.digest();
  fs.closeSync(from);
  fs.closeSync(to);
}
/** Takes files from the shared queue (an Int32Array counter over the size-sorted list) until none is left. */
function drain(files, next) {
  for (let i; (i = Atomics.add(next, 0, 1)) < files.length; ) copyHashed(files[i].src, files[i].dst, files[i].mode);
}

if (!isMainThread) {
  drain(workerData.files, new Int32Array(workerData.next));
} else {
  const [list, dest] = process.argv.slice(2);
  if (!list || !dest) {
    console.error('usage: node bench/lean-copy.cjs LIST DEST');
    process.exit(2);
  }
  process.umask(0);
  const files = [];
  for (const name of fs.readFileSync(list, 'utf8').split('\n')) {
    if (name === '') continue;
    const src = `/${name}`;
    const dst = path.join(dest, name);
    const st = fs.lstatSync(src);
    if (st.isDirectory()) fs.mkdirSync(dst, { recursive: true, mode: st.mode & 0o7777 });
    else if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else if (st.isFile()) files.push({ src, dst, mode: st.mode & 0o7777, size: st.size });
  }
  files.sort((a, b) => b.size - a.size);
  const next = new SharedArrayBuffer(4);
  const worker = os.availableParallelism() > 1 ? new Worker(__filename, { workerData: { files, next } }) : undefined;
  drain(files, new Int32Array(next));
  worker?.on('error', (e) => {
    console.error(`lean-copy: ${e.message}`);
    process.exitCode = 1;
  });
}
