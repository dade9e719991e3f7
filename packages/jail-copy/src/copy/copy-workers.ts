/**
 * The bytes of every copied file, moved and hashed in one pass: each lane reads the source through the
 * descriptor the main thread opened and checked, feeds sha256 (the manifest's) and writes the same
 * buffer to the staging file the main thread created (O_EXCL, O_NOFOLLOW, 0600). Descriptors are the
 * process's, so a worker acts on exactly the files the confined walk chose, and opens nothing itself
 * but the files it is asked to hash by path.
 *
 * Why not the kernel's copy (copy_file_range, what fs.copyFile does without a reflink) beside a hashing
 * thread: that reads every byte twice (the kernel copy, then the hash), and the hash may see another
 * file than the copy if the source changes in between. php-fpm and its extensions (130 MB, 2 cores), the
 * copy phase alone: copy_file_range + one hashing thread 0.18 s, + two hashing threads 0.14 s, one pass
 * on two workers 0.12 s, one pass on this thread and one worker about the same with less processor time
 * and memory. A reflink would make the kernel's copy free, but the hash must read every byte all the same.
 *
 * This thread is one lane, and one worker per further processor (up to the run's parallel jobs) the
 * others. If no worker can start, or one dies, the work is done on this thread.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';

/** 256 KiB: as fast as 1 MiB on the php-fpm jail, and ~2-3 MB less peak RSS over the lanes. */
const CHUNK = 1 << 18;

/** The worker's whole program (CommonJS, run with `eval`): the loops of stageHere, copyWithSha256 and sha256OfFile below. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const C = fs.constants;
const buf = Buffer.allocUnsafe(${CHUNK});
parentPort.on('message', ({ id, file, src, dst, stage }) => {
  let fd;
  try {
    const h = createHash('sha256');
    let pos = 0;
    let n;
    if (file !== undefined) {
      fd = fs.openSync(file, C.O_RDONLY | C.O_NONBLOCK);
      while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) { h.update(buf.subarray(0, n)); pos += n; }
    } else {
      // stage: the file is created here, as stageHere does below, and is this thread's until closed.
      if (stage !== undefined) fd = fs.openSync(stage.path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      const out = stage !== undefined ? fd : dst;
      while ((n = fs.readSync(src, buf, 0, buf.length, pos)) > 0) {
        h.update(buf.subarray(0, n));
        for (let o = 0; o < n; ) o += fs.writeSync(out, buf, o, n - o, pos + o);
        pos += n;
      }
      if (stage !== undefined) {
        fs.fchownSync(fd, stage.uid, stage.gid);
        fs.fchmodSync(fd, stage.mode);
        fs.futimesSync(fd, stage.atime, stage.mtime);
        if (stage.fsync) fs.fsyncSync(fd);
      }
    }
    parentPort.postMessage({ id, sha: h.digest('hex'), size: pos });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err), code: err && err.code, path: err && err.path });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
});
`;

/** What a copy moved: the sha256 of exactly the bytes written, and how many. */
export interface Copied {
  sha256: string;
  size: number;
}

/**
 * A staging file for a lane to make: created at `path` (O_EXCL, O_NOFOLLOW, 0600: a name in the run's
 * private staging directory, reached through its held descriptor), filled, given its owner, exact mode
 * (fchmod: the umask does not apply; after the owner, as fchown clears setuid bits) and the source's times (seconds, a double: microseconds
 * kept), fsync-ed when asked, and closed — all on the lane that copies it.
 */
export interface StagedFile {
  path: string;
  uid: number;
  gid: number;
  mode: number;
  atime: number;
  mtime: number;
  fsync: boolean;
}

/** Moves the bytes of a copy (from the checked source's descriptor) and hashes them. */
export interface ContentCopier {
  /** Into an open descriptor the caller owns. */
  copy(src: number, dst: number): Promise<Copied>;
  /**
   * Into a new staging file the lane makes and finishes itself (StagedFile). Why the lane and not the
   * caller: creating an inode is the dearest call of a copy (~70-100 µs on ext4, in the kernel), and
   * with this thread the one that walks, checks and renames every entry, it is the thread the others
   * wait on at the end of a run of many small files.
   */
  stage(src: number, file: StagedFile): Promise<Copied>;
}

/** Read buffers of this thread's copies, kept for the next (a fresh 1 MiB costs its page faults again). */
const spare: Buffer[] = [];

/** One loop turn: between two chunks of a copy here, the workers are fed and other steps walk. */
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Reads `next(buf)` chunk by chunk into a buffer of this thread, hashing each and handing it to `sink`;
 * yields to the event loop after every chunk. The bytes hashed and their count.
 */
async function hashChunks(next: (buf: Buffer, pos: number) => number, sink: (buf: Buffer, n: number, pos: number) => void): Promise<Copied> {
  const buf = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  try {
    const h = createHash('sha256');
    let pos = 0;
    for (let n = next(buf, pos); n > 0; n = next(buf, pos)) {
      h.update(buf.subarray(0, n));
      sink(buf, n, pos);
      pos += n;
      await yieldToLoop();
    }
    return { sha256: h.digest('hex'), size: pos };
  } finally {
    spare.push(buf);
  }
}

/** Copies `src` to `dst` from offset 0 on this thread, hashing what it writes (positioned: a redo overwrites). */
export function copyWithSha256(src: number, dst: number): Promise<Copied> {
  return hashChunks(
    (buf, pos) => fs.readSync(src, buf, 0, CHUNK, pos),
    (buf, n, pos) => {
      for (let o = 0; o < n; ) o += fs.writeSync(dst, buf, o, n - o, pos + o);
    },
  );
}

/** sha256 of a file on this thread. */
export async function sha256OfFile(file: string): Promise<string> {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    return (await hashChunks((buf) => fs.readSync(fd, buf, 0, CHUNK, null), () => undefined)).sha256;
  } finally {
    fs.closeSync(fd);
  }
}

/** StagedFile on this thread: the same calls, in the same order, as the worker's. */
export async function stageHere(src: number, file: StagedFile): Promise<Copied> {
  const fd = fs.openSync(file.path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    const copied = await copyWithSha256(src, fd);
    fs.fchownSync(fd, file.uid, file.gid);
    fs.fchmodSync(fd, file.mode);
    fs.futimesSync(fd, file.atime, file.mtime);
    // Through libuv's pool: this thread is a lane of other copies meanwhile.
    if (file.fsync) await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
    return copied;
  } finally {
    fs.closeSync(fd);
  }
}

/** The copier without threads: for the few small files elfcopy writes itself (manifest, caches). */
export const THIS_THREAD: ContentCopier = { copy: copyWithSha256, stage: stageHere };

type Job = { file: string } | { src: number; dst: number } | { src: number; stage: StagedFile };

interface Pending {
  job: Job;
  worker: Slot;
  resolve: (c: Copied) => void;
  reject: (err: Error) => void;
}

interface Reply {
  id: number;
  sha?: string;
  size?: number;
  error?: string;
  code?: string;
  /** The path a failed call named (a Node error's `path`): the staging file's, for a stage job. */
  path?: string;
}

interface Slot {
  worker: Worker;
  /** Jobs sent and not yet done: a job goes to the least loaded worker. */
  queued: number;
}

/** Jobs a worker holds (the one it runs, one waiting) before this thread takes the next itself. */
const MAX_QUEUED = 2;

/**
 * This thread and a few workers, as lanes of copying and hashing. A worker costs ~25 ms of processor
 * time to boot, so this thread is a lane too: it takes a job whenever every worker already has
 * MAX_QUEUED waiting, and the workers are fed again each time it yields.
 */
export class CopyWorkers implements ContentCopier {
  private readonly count: number;
  private slots: Slot[] = [];
  private started = false;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  /** `jobs`: the run's parallel copies; one lane per processor (this thread one of them), at most that many. */
  constructor(jobs: number) {
    this.count = Math.max(0, Math.min(jobs, os.availableParallelism()) - 1);
  }

  /**
   * Starts the workers now (they boot on their own threads while this one goes on); else on first use.
   * Not earlier than the copies: booting while the plan is computed slowed the plan by as much (2 cores).
   */
  start(): this {
    if (this.started) return this;
    this.started = true;
    for (let i = 0; i < this.count; i++) {
      let worker: Worker;
      try {
        // stdout/stderr true: not piped into process.stdout and process.stderr, which Node would make
        // for it, nor read while it runs, which would make the worker's own: each loads the stream
        // classes (~3 ms) on a run that prints nothing. The worker prints nothing itself; whatever Node
        // prints for it (a warning) waits in its stream and is written out when it exits.
        worker = new Worker(WORKER_SOURCE, { eval: true, stdout: true, stderr: true });
      } catch {
        break;
      }
      const slot: Slot = { worker, queued: 0 };
      worker.on('message', (r: Reply) => this.settle(r));
      worker.on('error', () => this.lose(slot));
      // Ended any other way than by close() (killed, out of memory): the same.
      worker.on('exit', () => {
        flushTo(worker.stdout, 1);
        flushTo(worker.stderr, 2);
        this.lose(slot);
      });
      // Not unref'd: while work is awaited the workers are what keeps the event loop alive (close()
      // ends them); unref'd, a run could end silently mid-apply with nothing else pending.
      this.slots.push(slot);
    }
    return this;
  }

  copy(src: number, dst: number): Promise<Copied> {
    return this.send({ src, dst });
  }

  stage(src: number, file: StagedFile): Promise<Copied> {
    return this.send({ src, stage: file });
  }

  async hash(file: string): Promise<string> {
    return (await this.send({ file })).sha256;
  }

  /**
   * Ends the workers. A job still pending on one (a hash nobody waits for after a failed copy) is
   * rejected once its thread has stopped, never redone here: a descriptor is released only when no
   * thread can still write through it.
   */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error('the copying threads were closed before this job finished'));
    }
  }

  private send(job: Job): Promise<Copied> {
    if (this.closed) return Promise.reject(new Error('the copying threads are closed'));
    this.start();
    const slot = this.slots.reduce<Slot | undefined>((best, s) => (best === undefined || s.queued < best.queued ? s : best), undefined);
    if (!slot || slot.queued >= MAX_QUEUED) return runHere(job);
    const id = this.nextId++;
    slot.queued++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { job, worker: slot, resolve, reject });
      slot.worker.postMessage({ id, ...job });
    });
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    p.worker.queued--;
    if (r.sha !== undefined && r.size !== undefined) p.resolve({ sha256: r.sha, size: r.size });
    else p.reject(Object.assign(new Error('file' in p.job ? `${p.job.file}: ${r.error ?? 'cannot be hashed'}` : (r.error ?? 'cannot be copied')), r.code ? { code: r.code } : {}, r.path ? { path: r.path } : {}));
  }

  /**
   * A worker died: what it still had is done here (a copy starts again from offset 0; a staging file
   * it made is removed and made again — the descriptor it held, if any, stays open until the process ends).
   */
  private lose(slot: Slot): void {
    if (this.closed) return;
    this.slots = this.slots.filter((s) => s !== slot);
    for (const [id, p] of this.pending) {
      if (p.worker !== slot) continue;
      this.pending.delete(id);
      const redo = async (): Promise<Copied> => {
        if ('dst' in p.job) fs.ftruncateSync(p.job.dst, 0);
        if ('stage' in p.job) fs.rmSync(p.job.stage.path, { force: true });
        return runHere(p.job);
      };
      redo().then(p.resolve, p.reject);
    }
  }
}

/** What an exited worker left in its output stream, written to this process's descriptor `fd` with write(2). */
function flushTo(stream: Readable, fd: number): void {
  try {
    for (let chunk = stream.read() as Buffer | string | null; chunk !== null; chunk = stream.read() as Buffer | string | null) {
      fs.writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
  } catch {
    // A reader that has gone, a full non-blocking pipe: a diagnostic is not worth failing the copy.
  }
}

async function runHere(job: Job): Promise<Copied> {
  if ('file' in job) return { sha256: await sha256OfFile(job.file), size: 0 };
  if ('stage' in job) return stageHere(job.src, job.stage);
  return copyWithSha256(job.src, job.dst);
}
