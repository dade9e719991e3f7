/**
 * File operations confined to a jail (inroot.ts): directories with exact modes, atomic file copies,
 * atomic symlinks, removal — none of them ever follows a link at the final component, and none writes
 * a byte outside the jail.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JailConflictError } from './errors.js';
import { Jail, type ResolveOptions } from './inroot.js';

const TMP_PREFIX = '.elfcopy-tmp-';
const O_DIR_NOFOLLOW = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

function tmpName(): string {
  return `${TMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** chmod/chown through a descriptor opened without following links: never a path-based chmod. */
function setDirMeta(hostDir: string, mode: number, uid: number, gid: number): void {
  const fd = fs.openSync(hostDir, O_DIR_NOFOLLOW);
  try {
    fs.fchownSync(fd, uid, gid);
    fs.fchmodSync(fd, mode);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates `hostPath` with exactly `mode` and owner: made private under a temporary name beside it, given
 * its mode (umask must not alter it) and owner, then renamed into place. A run killed half-way leaves a
 * `.elfcopy-tmp-*` entry for the next run to clear — never a 0700 directory that later runs would find
 * existing and keep.
 */
function makeDir(hostPath: string, mode: number, uid: number, gid: number): void {
  const tmp = path.join(path.dirname(hostPath), tmpName());
  fs.mkdirSync(tmp, { mode: 0o700 });
  try {
    setDirMeta(tmp, mode, uid, gid);
    fs.renameSync(tmp, hostPath);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

export interface DirOptions extends ResolveOptions {
  mode: number;
  uid: number;
  gid: number;
  /** Also set mode and owner when the directory already exists. */
  force?: boolean;
}

/** Makes `p` a directory in the jail; true when it was created by this call. */
export async function ensureDir(jail: Jail, p: string, opts: DirOptions): Promise<boolean> {
  const norm = path.posix.normalize('/' + p);
  if (norm === '/') return false;
  const parent = jail.resolveParent(norm, {
    ...opts,
    create: (d) => makeDir(jail.host(d), 0o755, 0, 0),
  });
  const host = path.join(parent.hostDir, parent.name);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(host);
  } catch {
    st = undefined;
  }
  if (st?.isSymbolicLink()) {
    // A link where a directory goes: follow it only under the same trust rule as any other link.
    const real = jail.resolveDir(norm, opts);
    if (opts.force) setDirMeta(jail.host(real), opts.mode, opts.uid, opts.gid);
    return false;
  }
  if (st && !st.isDirectory()) throw new JailConflictError(norm, 'exists in the jail and is not a directory');
  if (st) {
    if (opts.force) setDirMeta(host, opts.mode, opts.uid, opts.gid);
    return false;
  }
  makeDir(host, opts.mode, opts.uid, opts.gid);
  return true;
}

export interface WriteOptions extends ResolveOptions {
  mode: number;
  uid: number;
  gid: number;
  /** Remove setuid/setgid bits (default true). */
  stripSetuid?: boolean;
  /** Private staging directories to reuse across many writes (one per target directory). */
  staging?: StagingDirs;
}

/**
 * One private (0700) staging directory per target directory for a whole run: files are copied there,
 * fixed up, and renamed into place. Creating one per file would cost a mkdir and an rmdir each.
 */
export class StagingDirs {
  private readonly dirs = new Map<string, string>();
  get(hostDir: string): string {
    let d = this.dirs.get(hostDir);
    if (!d) {
      d = path.join(hostDir, tmpName());
      fs.mkdirSync(d, { mode: 0o700 });
      this.dirs.set(hostDir, d);
    }
    return d;
  }
  /** Removes every staging directory (and anything a failed copy left in it). */
  cleanup(): void {
    for (const d of this.dirs.values()) fs.rmSync(d, { recursive: true, force: true });
    this.dirs.clear();
  }
}

/**
 * Copies host file `source` to `p` in the jail atomically: into a fresh 0700 directory beside the
 * target (so no jailed process can open a half-written or not-yet-stripped file), reflinked where the
 * file system can, owner, mode and mtime set through a descriptor, then renamed over the final name.
 * A process killed at any moment leaves only a `.elfcopy-tmp-*` directory, never a truncated file.
 */
export async function writeFileAtomic(jail: Jail, p: string, source: string, opts: WriteOptions): Promise<void> {
  const srcSt = fs.statSync(source);
  if (!srcSt.isFile()) throw new JailConflictError(p, `source ${source} is not a regular file (devices, FIFOs and sockets are never copied)`);
  const parent = jail.resolveParent(p, opts);
  const final = path.join(parent.hostDir, parent.name);
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(final);
  } catch {
    existing = undefined;
  }
  if (existing?.isDirectory()) throw new JailConflictError(p, 'is a directory in the jail; a file must go there');
  const own = opts.staging ? undefined : new StagingDirs();
  const tmpDir = (opts.staging ?? own!).get(parent.hostDir);
  const tmp = path.join(tmpDir, `f-${Math.random().toString(36).slice(2, 10)}`);
  try {
    await fs.promises.copyFile(source, tmp, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
    const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      fs.fchownSync(fd, opts.uid, opts.gid);
      const mode = opts.stripSetuid === false ? opts.mode : opts.mode & ~0o6000;
      fs.fchmodSync(fd, mode);
      // Seconds as a double keep sub-millisecond precision (a Date would round to the millisecond).
      fs.futimesSync(fd, srcSt.atimeMs / 1000, srcSt.mtimeMs / 1000);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, final);
  } finally {
    fs.rmSync(tmp, { force: true });
    own?.cleanup();
  }
}

/** Makes `p` a symlink to `target`, replacing whatever file or link was there, atomically. */
export async function symlinkAtomic(jail: Jail, p: string, target: string, opts: ResolveOptions = {}): Promise<'created' | 'replaced' | 'unchanged'> {
  const parent = jail.resolveParent(p, opts);
  const final = path.join(parent.hostDir, parent.name);
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(final);
  } catch {
    existing = undefined;
  }
  if (existing?.isSymbolicLink() && fs.readlinkSync(final) === target) return 'unchanged';
  if (existing?.isDirectory()) throw new JailConflictError(p, `is a directory in the jail; the host has a symlink to '${target}' there`);
  const tmp = path.join(parent.hostDir, tmpName());
  fs.symlinkSync(target, tmp);
  try {
    fs.renameSync(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return existing ? 'replaced' : 'created';
}

/** Removes a file, link or (with `directory`) an empty directory; never follows, never recurses. */
export async function removeEntry(jail: Jail, p: string, opts: ResolveOptions & { directory?: boolean } = {}): Promise<boolean> {
  let parent;
  try {
    parent = jail.resolveParent(p, opts);
  } catch (err) {
    if (err instanceof JailConflictError) return false;
    throw err;
  }
  const host = path.join(parent.hostDir, parent.name);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(host);
  } catch {
    return false;
  }
  if (st.isDirectory()) {
    if (!opts.directory) return false;
    try {
      fs.rmdirSync(host);
      return true;
    } catch {
      return false;
    }
  }
  fs.unlinkSync(host);
  return true;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Mode bits and owner a copy must have; a copy that drifted from them is not up to date. */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
}

/** True when `st` has exactly `meta`'s mode bits and owner (or when no meta is asked for). */
export function hasMeta(st: fs.Stats, meta: FileMeta | undefined): boolean {
  return meta === undefined || ((st.mode & 0o7777) === meta.mode && st.uid === meta.uid && st.gid === meta.gid);
}

/**
 * The copy at `p` is a regular file matching `source` by size and mtime (or sha256 with `checksum`)
 * and, given `meta`, with that mode and owner: a copy made with --keep-setuid, or chmod-ed since, is
 * redone rather than kept with bits it must not have.
 */
export async function isUpToDate(jail: Jail, p: string, source: string, opts: ResolveOptions & { checksum?: boolean; meta?: FileMeta } = {}): Promise<boolean> {
  const st = jail.lstat(p, opts);
  if (!st?.isFile() || !hasMeta(st, opts.meta)) return false;
  let src: fs.Stats;
  try {
    src = fs.statSync(source);
  } catch {
    return false;
  }
  if (st.size !== src.size) return false;
  if (opts.checksum) return sha256(jail.hostPathOf(p, opts)) === sha256(source);
  return Math.abs(st.mtimeMs - src.mtimeMs) < 1;
}

/** Removes stale `.elfcopy-tmp-*` entries a killed run left in `dir` (in-jail). */
export function cleanupTemps(jail: Jail, dir: string, opts: ResolveOptions = {}): string[] {
  const real = jail.resolveDir(dir, opts);
  const host = jail.host(real);
  const removed: string[] = [];
  for (const n of fs.readdirSync(host)) {
    if (!n.startsWith(TMP_PREFIX)) continue;
    fs.rmSync(path.join(host, n), { recursive: true, force: true });
    removed.push(path.posix.join(real, n));
  }
  return removed;
}
