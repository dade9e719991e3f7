/**
 * sha256 of copied sources for the manifest, on a second thread. A php-fpm jail is ~130 MB: hashing it
 * takes ~130 ms of CPU, while the copies themselves run in the kernel (copy_file_range) from libuv's
 * threads — on the main thread the hashing came on top of everything else. One worker, fed every file
 * at once, hashes while the main thread walks the jail and the thread pool copies.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

const HASH_CHUNK = 1 << 20;

/** The worker's whole program (CommonJS, run with `eval`): it needs nothing of elfcopy. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const buf = Buffer.allocUnsafe(${HASH_CHUNK});
parentPort.on('message', ({ id, file }) => {
  let fd;
  try {
    const h = createHash('sha256');
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
    parentPort.postMessage({ id, sha: h.digest('hex') });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err), code: err && err.code });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
});
`;

/** sha256 of a file on this thread, reading into one reused 1 MiB buffer. */
export function sha256OfFile(file: string): string {
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  const h = createHash('sha256');
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, HASH_CHUNK, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

interface Reply {
  id: number;
  sha?: string;
  error?: string;
  code?: string;
}

/** Hashes files on a worker thread, in the order asked; falls back to this thread if no worker starts. */
export class Sha256Worker {
  private worker: Worker | undefined;
  /** False until the first hash: a run whose manifest already knows every file starts no thread. */
  private started = false;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (sha: string) => void; reject: (err: Error) => void; file: string }>();

  hash(file: string): Promise<string> {
    if (!this.started) this.start();
    const worker = this.worker;
    if (!worker) return Promise.resolve().then(() => sha256OfFile(file));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, file });
      worker.postMessage({ id, file });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private start(): void {
    this.started = true;
    try {
      this.worker = new Worker(WORKER_SOURCE, { eval: true });
      this.worker.on('message', (r: Reply) => this.settle(r));
      this.worker.on('error', (err) => this.failAll(err));
      // Not unref'd: while hashes are awaited the worker is what keeps the event loop alive (close()
      // ends it); unref'd, a run could end silently mid-apply with nothing else pending.
    } catch {
      this.worker = undefined;
    }
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.sha !== undefined) p.resolve(r.sha);
    else p.reject(Object.assign(new Error(`${p.file}: ${r.error ?? 'cannot be hashed'}`), r.code ? { code: r.code } : {}));
  }

  private failAll(err: Error): void {
    // The worker died: hash what is left here.
    this.worker = undefined;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      try {
        p.resolve(sha256OfFile(p.file));
      } catch (e) {
        p.reject(e instanceof Error ? e : err);
      }
    }
  }
}
