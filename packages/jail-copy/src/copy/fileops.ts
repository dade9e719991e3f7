/**
 * File operations confined to a jail (inroot.ts): directories with exact modes, atomic file copies,
 * atomic symlinks, removal, up-to-date checks. Each acts on a name inside a directory the jail walk
 * opened (JailDir.entry), never follows a link at the final component (O_NOFOLLOW, O_EXCL, rename,
 * lstat), sets modes and owners through descriptors, and writes no byte outside the jail.
 *
 * The slow parts (copying, hashing, fsync) are asynchronous, so a caller can run several at once
 * under p-limit (a copy's bytes move on copy-workers.ts' threads); walks and metadata calls are
 * synchronous (microseconds each).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UnreadableFileError, type UnreadableKind } from '@elfcopy/elf-deps';
import { JailConflictError, asJailIoError } from '../errors.js';
import { Jail, JailDir, TMP_PREFIX, errnoOf, lstatOrUndefined, setMeta, tmpName, type FileMeta, type ResolveOptions } from '../confine/inroot.js';
import { randomHex } from '../confine/random-hex.js';
import { THIS_THREAD, type ContentCopier } from './copy-workers.js';

const C = fs.constants;
/** Two stat times this close are the same time: utimes keeps microseconds (libuv truncates to them). */
const MTIME_SLACK_NS = 2000n;
const HASH_CHUNK = 1 << 20;

/** Temporaries this process is using right now: cleanupTemps never takes them from under a copy. */
const inFlight = new Set<string>();

/**
 * How to remove what this process has staged right now (staging directories, host temporaries, a
 * device node being made): what removeStaging runs when the process is told to stop mid-run.
 */
const liveStaging = new Set<() => void>();

/** Registers `remove` until the returned function is called. */
export function trackStaging(remove: () => void): () => void {
  liveStaging.add(remove);
  return () => void liveStaging.delete(remove);
}

/**
 * Removes everything this process has staged, synchronously: for a signal handler (SIGINT, SIGTERM,
 * SIGHUP) that then exits. A copy still running on a worker thread may add a file to a staging
 * directory while it is emptied: each is tried a few times.
 */
export function removeStaging(): void {
  for (const remove of [...liveStaging]) {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        remove();
        break;
      } catch {
        // ENOTEMPTY from a file that arrived meanwhile: again.
      }
    }
    liveStaging.delete(remove);
  }
}

function unlinkQuietly(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}

function isDirectoryConflict(err: unknown): boolean {
  const code = errnoOf(err);
  return code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST';
}

export interface DirOptions extends ResolveOptions, FileMeta {
  /** Also set mode and owner when the directory already exists. */
  force?: boolean;
}

/**
 * Makes `p` a directory in the jail, creating each missing component (mode 0755, owned by the caller,
 * for those above `p`; `mode`, `uid`, `gid` for `p` itself). An existing directory keeps its mode and
 * owner unless `force`; an existing link is followed only under the jail's rules; anything else in
 * the way is a JailConflictError. True when `p` was created by this call.
 */
export async function ensureDir(jail: Jail, p: string, opts: DirOptions): Promise<boolean> {
  try {
    return await ensureDirIn(jail, p, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, p);
  }
}

async function ensureDirIn(jail: Jail, p: string, opts: DirOptions): Promise<boolean> {
  if (path.posix.normalize('/' + p) === '/') return false;
  const above: FileMeta = { mode: 0o755, uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
  const dir = jail.openDir(p, { trustLink: opts.trustLink, create: (_, last) => (last ? opts : above) });
  try {
    if (opts.force && !dir.created) setMeta(dir.fd, opts);
    return dir.created;
  } finally {
    dir.close();
  }
}

/**
 * One private (0700, ours) staging directory per target directory, reused by every copy into that
 * directory during a run: files are copied there, fixed up, and renamed into place. A file being
 * written is never visible under a name in the jail's own directory, where a jailed user could open it
 * half-written or hard-link it before its owner and mode are set.
 */
export class StagingDirs {
  private readonly dirs = new Map<string, { parent: JailDir; name: string; dir: JailDir }>();

  /** The staging directory inside `dir` (made on first use). */
  get(dir: JailDir): JailDir {
    const st = fs.fstatSync(dir.fd);
    const key = `${st.dev}:${st.ino}`;
    const hit = this.dirs.get(key);
    if (hit) return hit.dir;
    const name = tmpName();
    fs.mkdirSync(dir.entry(name), { mode: 0o700 });
    inFlight.add(name);
    const parent = dir.openChild('.');
    let staged: JailDir | undefined;
    try {
      staged = parent.openChild(name);
      const sst = fs.fstatSync(staged.fd);
      if (sst.uid !== process.geteuid?.() || (sst.mode & 0o077) !== 0) {
        throw new JailConflictError(staged.jailPath, 'the staging directory elfcopy just made was replaced', { found: 'directory', needed: 'directory' });
      }
    } catch (err) {
      staged?.close();
      removeTreeAt(parent, name);
      parent.close();
      inFlight.delete(name);
      throw err;
    }
    this.dirs.set(key, { parent, name, dir: staged });
    this.untrack ??= trackStaging(() => this.cleanup());
    return staged;
  }

  private untrack: (() => void) | undefined;

  /** Removes every staging directory (and anything a failed copy left in it). */
  cleanup(): void {
    for (const [key, s] of this.dirs) {
      s.dir.close();
      try {
        removeTreeAt(s.parent, s.name);
      } finally {
        s.parent.close();
        inFlight.delete(s.name);
        this.dirs.delete(key);
      }
    }
    this.untrack?.();
    this.untrack = undefined;
  }
}

export interface WriteOptions extends ResolveOptions, FileMeta {
  /** Remove setuid/setgid bits from `mode` (default true). */
  stripSetuid?: boolean;
  /** Staging directories shared by the writes of one run (default: one made and removed per call). */
  staging?: StagingDirs;
  /** fsync the copy before it is renamed into place (default false). */
  fsync?: boolean;
  /** What moves and hashes the bytes (default: this thread; applyPlan passes its CopyWorkers). */
  copier?: ContentCopier;
}

export interface WriteResult {
  /** The setuid/setgid bits removed from `mode` (0: none). */
  strippedBits: number;
  /** Bytes copied. */
  size: number;
  /** sha256 of exactly the bytes copied. */
  sha256: string;
}

const NON_REGULAR: readonly [(st: fs.Stats) => boolean, UnreadableKind, string][] = [
  [(st) => st.isDirectory(), 'directory', 'is a directory'],
  [(st) => st.isFIFO(), 'fifo', 'is a FIFO (named pipe)'],
  [(st) => st.isSocket(), 'socket', 'is a socket'],
  [(st) => st.isCharacterDevice(), 'char-device', 'is a character device'],
  [(st) => st.isBlockDevice(), 'block-device', 'is a block device'],
];

function refuseNonRegular(source: string, st: fs.Stats): void {
  if (st.isFile()) return;
  const [, kind, what] = NON_REGULAR.find(([test]) => test(st)) ?? [undefined, 'not-regular', 'is not a regular file'];
  throw new UnreadableFileError(source, kind, `${what}: only regular files are copied into a jail`);
}

/**
 * Opens the host file to copy. stat comes first so a device or FIFO is refused before anything opens
 * it (opening a device can act on it; O_NONBLOCK keeps a FIFO swapped in meanwhile from blocking),
 * then the descriptor is checked again: the copy reads this very file. Synchronous, like the other
 * metadata calls of a copy: each is a few microseconds, a trip through libuv's pool tens (only the
 * bytes go to another thread, the copier's).
 */
function openSource(source: string): { fd: number; stat: fs.Stats } {
  let fd: number;
  try {
    refuseNonRegular(source, fs.statSync(source));
    fd = fs.openSync(source, C.O_RDONLY | C.O_NONBLOCK | C.O_NOCTTY);
  } catch (err) {
    if (err instanceof UnreadableFileError) throw err;
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UnreadableFileError(source, 'not-found', 'no such file on the host');
    if (code === 'EACCES' || code === 'EPERM') throw new UnreadableFileError(source, 'permission', 'permission denied');
    throw err;
  }
  try {
    const stat = fs.fstatSync(fd);
    refuseNonRegular(source, stat);
    return { fd, stat };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * Copies host file `source` to `p` in the jail atomically, hashing the bytes it writes (`copier`):
 * into a file created with O_EXCL|O_NOFOLLOW in the staging directory beside the target; owner, mode
 * (setuid/setgid stripped unless told) and the source's times set through that file's descriptor; then
 * renamed over the final name,
 * which replaces a file or link there (never follows it). A process killed at any moment leaves only
 * a `.elfcopy-tmp-*` entry (cleanupTemps), never a truncated file at `p`. `p`'s directory must exist
 * (ensureDir): a write never makes directories.
 */
export async function writeFileAtomic(jail: Jail, p: string, source: string, opts: WriteOptions): Promise<WriteResult> {
  const src = openSource(source);
  try {
    return await writeFromSource(jail, p, src, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, p);
  } finally {
    fs.closeSync(src.fd);
  }
}

async function writeFromSource(jail: Jail, p: string, src: { fd: number; stat: fs.Stats }, opts: WriteOptions): Promise<WriteResult> {
  const { dir, name } = jail.openParent(p, opts);
  try {
    const final = dir.entry(name);
    const conflict = (): JailConflictError => new JailConflictError(p, 'is a directory in the jail, where a file goes', { found: 'directory', needed: 'file' });
    const there = lstatOrUndefined(final);
    if (there?.isDirectory()) throw conflict();
    const staging = opts.staging ?? new StagingDirs();
    const tmp = staging.get(dir).entry(`f-${randomHex(6)}`);
    let renamed = false;
    try {
      // Created by the lane that copies it (copy-workers.ts: StagedFile), EXCL|NOFOLLOW: the name is
      // created, never opened through a link; 0600 until its mode is set, in a private staging directory.
      const strippedBits = opts.stripSetuid === false ? 0 : opts.mode & 0o6000;
      const copied = await (opts.copier ?? THIS_THREAD).stage(src.fd, {
        path: tmp,
        uid: opts.uid,
        gid: opts.gid,
        mode: opts.mode & ~strippedBits,
        // Seconds as a double keep microseconds (a Date would round to the millisecond).
        atime: src.stat.atimeMs / 1000,
        mtime: src.stat.mtimeMs / 1000,
        fsync: Boolean(opts.fsync),
      });
      try {
        fs.renameSync(tmp, final);
        renamed = true;
      } catch (err) {
        throw isDirectoryConflict(err) ? conflict() : err;
      }
      // A link replaced may have been a component of a held directory's path.
      if (there?.isSymbolicLink()) jail.forgetDirectories();
      return { strippedBits, size: copied.size, sha256: copied.sha256 };
    } finally {
      if (!renamed) unlinkQuietly(tmp);
      if (staging !== opts.staging) staging.cleanup();
    }
  } finally {
    dir.close();
  }
}

/**
 * Writes `content` as file `p` of the jail, with `meta`'s mode and owner (setuid/setgid stripped):
 * staged in a private host temporary directory, then copied in by writeFileAtomic, so the jail only
 * ever sees a whole file. The one way elfcopy writes what it made rather than copied (init's files,
 * the jail's ld.so.cache, the manifest, the plan cache).
 */
export async function writeJailContent(jail: Jail, p: string, content: string | Uint8Array, meta: FileMeta & Pick<WriteOptions, 'trustLink'>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-write-'));
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  const untrack = trackStaging(remove);
  try {
    const tmp = path.join(dir, path.posix.basename(p) || 'content');
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    await writeFileAtomic(jail, p, tmp, { ...meta, stripSetuid: true });
  } finally {
    remove();
    untrack();
  }
}

/** `text` as root-only file `p` of the jail (the manifest, the plan cache). */
export async function writeJailText(jail: Jail, p: string, text: string): Promise<void> {
  await writeJailContent(jail, p, text, { mode: 0o600, uid: 0, gid: 0 });
}

/**
 * Makes `p` a symlink to `target`: made at a temporary name beside it, then renamed over whatever file
 * or link was there (a directory there is a JailConflictError). An identical link is left alone.
 */
export async function symlinkAtomic(jail: Jail, p: string, target: string, opts: ResolveOptions = {}): Promise<'created' | 'replaced' | 'unchanged'> {
  try {
    return await symlinkIn(jail, p, target, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, p);
  }
}

async function symlinkIn(jail: Jail, p: string, target: string, opts: ResolveOptions): Promise<'created' | 'replaced' | 'unchanged'> {
  const { dir, name } = jail.openParent(p, opts);
  try {
    const final = dir.entry(name);
    const existing = lstatOrUndefined(final);
    if (existing?.isSymbolicLink() && fs.readlinkSync(final) === target) return 'unchanged';
    const conflict = (): JailConflictError => new JailConflictError(p, `is a directory in the jail, where a symlink to '${target}' goes`, { found: 'directory', needed: 'symlink' });
    if (existing?.isDirectory()) throw conflict();
    const tmpBase = tmpName();
    const tmp = dir.entry(tmpBase);
    inFlight.add(tmpBase);
    try {
      fs.symlinkSync(target, tmp);
      try {
        fs.renameSync(tmp, final);
      } catch (err) {
        unlinkQuietly(tmp);
        throw isDirectoryConflict(err) ? conflict() : err;
      }
    } finally {
      inFlight.delete(tmpBase);
    }
    // What it replaced may have been a component of a held directory's path.
    if (existing) jail.forgetDirectories();
    return existing ? 'replaced' : 'created';
  } finally {
    dir.close();
  }
}

export interface RemoveOptions extends ResolveOptions {
  /** Remove an empty directory too. */
  directory?: boolean;
  /** Remove a directory with everything in it (links inside are removed, never followed). */
  recursive?: boolean;
}

/**
 * Removes the file, link or device at `p` (never what a link points to). A directory only with
 * `directory` (when empty) or `recursive`. False when there was nothing to remove, or a directory was
 * not asked for.
 */
export async function removeEntry(jail: Jail, p: string, opts: RemoveOptions = {}): Promise<boolean> {
  try {
    return await removeIn(jail, p, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, p);
  }
}

async function removeIn(jail: Jail, p: string, opts: RemoveOptions): Promise<boolean> {
  const parent = jail.openParentIfThere(p, opts);
  if (!parent) return false;
  const { dir, name } = parent;
  try {
    const entry = dir.entry(name);
    const st = lstatOrUndefined(entry);
    if (!st) return false;
    // A directory or link removed may be a component of a held directory's path.
    if (!st.isFile()) jail.forgetDirectories();
    if (st.isDirectory()) {
      if (opts.recursive) {
        removeTreeAt(dir, name);
        return true;
      }
      if (!opts.directory) return false;
      try {
        fs.rmdirSync(entry);
        return true;
      } catch (err) {
        if (isDirectoryConflict(err) || errnoOf(err) === 'ENOENT') return false;
        throw err;
      }
    }
    try {
      fs.unlinkSync(entry);
      return true;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EISDIR') return false;
      throw err;
    }
  } finally {
    dir.close();
  }
}

/**
 * Removes `name` inside `parent` and, for a directory, everything below it: each level opened with
 * O_NOFOLLOW and emptied through its own descriptor, so a link swapped in anywhere is unlinked, never
 * descended into.
 */
function removeTreeAt(parent: JailDir, name: string): void {
  let dir: JailDir;
  try {
    dir = parent.openChild(name);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
    try {
      fs.unlinkSync(parent.entry(name));
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    return;
  }
  try {
    for (const n of fs.readdirSync(dir.entry('.'))) removeTreeAt(dir, n);
  } finally {
    dir.close();
  }
  fs.rmdirSync(parent.entry(name));
}

/** True when the temporary's name carries the pid of another process still running (a concurrent run). */
function ownedByLiveProcess(name: string): boolean {
  const pid = Number(name.slice(TMP_PREFIX.length).split('-')[0]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/**
 * Removes the stale `.elfcopy-tmp-*` entries (staging directories, temporary links) a killed run left
 * in directory `dir` (in-jail); spares those of copies in flight here and of other live processes.
 * Returns the in-jail paths removed.
 */
export function cleanupTemps(jail: Jail, dir: string, opts: ResolveOptions = {}): string[] {
  try {
    return cleanupTempsIn(jail, dir, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, dir);
  }
}

function cleanupTempsIn(jail: Jail, dir: string, opts: ResolveOptions): string[] {
  const d = jail.openDir(dir, opts);
  try {
    const removed: string[] = [];
    for (const n of fs.readdirSync(d.entry('.'))) {
      if (!n.startsWith(TMP_PREFIX) || inFlight.has(n) || ownedByLiveProcess(n)) continue;
      removeTreeAt(d, n);
      removed.push(path.posix.join(d.jailPath, n));
    }
    return removed;
  } finally {
    d.close();
  }
}

/**
 * sha256 of an open file, read through libuv's pool a chunk at a time (this thread is a copy lane
 * meanwhile). Callback fs, not fs/promises: that module (and the readline it loads) costs ~3 ms of
 * every run's start-up, for the one caller here.
 */
async function sha256Of(fd: number): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  const readAt = (pos: number): Promise<number> => new Promise((resolve, reject) => fs.read(fd, buf, 0, HASH_CHUNK, pos, (err, n) => (err ? reject(err) : resolve(n))));
  for (let pos = 0; ; ) {
    const bytesRead = await readAt(pos);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest('hex');
}

/** True when `st` has exactly `meta`'s mode bits and owner (or when no meta is asked for). */
export function hasMeta(st: Pick<fs.Stats, 'mode' | 'uid' | 'gid'> | Pick<fs.BigIntStats, 'mode' | 'uid' | 'gid'>, meta: FileMeta | undefined): boolean {
  return meta === undefined || ((Number(st.mode) & 0o7777) === meta.mode && Number(st.uid) === meta.uid && Number(st.gid) === meta.gid);
}

export interface UpToDateOptions extends ResolveOptions {
  /** Compare sha256 of both files instead of size and mtime. */
  checksum?: boolean;
  /** Mode bits and owner the copy must have: one made with --keep-setuid, or chmod-ed since, is redone. */
  meta?: FileMeta;
}

/**
 * The copy at `p` is up to date with host file `source`: it is a regular file (not a link), has no
 * other name (a hard link may be shared with something outside the jail), `meta`'s mode and owner when
 * given, the same size, and the same mtime (writeFileAtomic gives the copy the source's) — or, with
 * `checksum`, the same sha256.
 */
export async function isUpToDate(jail: Jail, p: string, source: string, opts: UpToDateOptions = {}): Promise<boolean> {
  try {
    return await isUpToDateIn(jail, p, source, opts);
  } catch (err) {
    throw asJailIoError(err, jail.root, p);
  }
}

async function isUpToDateIn(jail: Jail, p: string, source: string, opts: UpToDateOptions): Promise<boolean> {
  const parent = jail.openParentIfThere(p, opts);
  if (!parent) return false;
  const { dir, name } = parent;
  try {
    const entry = dir.entry(name);
    // lstat first: a device planted in the jail is never opened.
    if (!lstatOrUndefined(entry)?.isFile()) return false;
    let copy: number;
    try {
      copy = fs.openSync(entry, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ELOOP') return false;
      throw err;
    }
    try {
      const st = fs.fstatSync(copy, { bigint: true });
      if (!st.isFile() || st.nlink !== 1n || !hasMeta(st, opts.meta)) return false;
      let src: fs.BigIntStats;
      try {
        src = fs.statSync(source, { bigint: true });
      } catch {
        return false;
      }
      if (!src.isFile() || st.size !== src.size) return false;
      if (!opts.checksum) {
        const delta = st.mtimeNs - src.mtimeNs;
        return delta < MTIME_SLACK_NS && delta > -MTIME_SLACK_NS;
      }
      // O_NONBLOCK: a FIFO swapped in for the file just stat'ed does not hang the open.
      const sourceFd = fs.openSync(source, C.O_RDONLY | C.O_NONBLOCK | C.O_NOCTTY);
      try {
        return (await sha256Of(copy)) === (await sha256Of(sourceFd));
      } finally {
        fs.closeSync(sourceFd);
      }
    } finally {
      fs.closeSync(copy);
    }
  } finally {
    dir.close();
  }
}
