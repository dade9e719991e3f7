/**
 * Path resolution confined to the jail. Every path inside a jail is hostile: any component may be a
 * planted symlink. So the kernel never resolves more than one component of a jail path at a time:
 *
 * - each directory is opened with O_DIRECTORY|O_NOFOLLOW *relative to the directory opened before it*,
 *   through /proc/self/fd/N/name — Node has no openat(), and a path below /proc/self/fd/N is looked up
 *   from the very directory N refers to, wherever it has been moved since (the same trick as
 *   libpathrs and runc's securejoin without openat2);
 * - a symlink met on the way is read and resolved by this walk with chroot semantics (`/x` is JAIL/x,
 *   `..` pops the walk's own stack of open directories and never goes above JAIL) — and only when it
 *   is harmless or vouched for: a link whose target, followed by the host from where it stands, would
 *   leave the jail (absolute, or `..` above the root) is refused with JailEscapeError unless the
 *   caller's trustLink says it is the mirror of the host's own link (lib64/ld-linux-x86-64.so.2 ->
 *   /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2, var/run -> /run);
 * - the result is an open JailDir; fileops.ts acts on names inside it (mkdir, rename, symlink, unlink,
 *   open with O_NOFOLLOW) through JailDir.entry, never through a path re-walked from the host's root.
 *
 * Without a usable /proc (checked when the jail is opened) the same walk runs on host path strings,
 * and a directory swapped for a symlink between the walk and the operation can redirect it: see
 * `Jail.anchored`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_SYMLINKS } from '@elfcopy/elf-deps/internal';
import { BadJailError, JailConflictError, JailEscapeError, type JailEntryKind } from '../errors.js';
import { randomHex } from './random-hex.js';

/** Where the kernel shows this process's descriptors: PROC_FD/N/name is openat(N, name). */
const PROC_FD = '/proc/self/fd';
const DIR_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;
/** How often one component may change under the walk before it gives up (a live race, not a loop). */
const MAX_RETRIES = 8;
/** Every temporary name elfcopy makes in a jail starts so; cleanupTemps removes what a killed run left. */
export const TMP_PREFIX = '.elfcopy-tmp-';

/** `.elfcopy-tmp-<pid>-<random>`: the pid lets cleanupTemps spare the temporaries of a live run. */
export function tmpName(): string {
  return `${TMP_PREFIX}${process.pid}-${randomHex(6)}`;
}

/** Says whether a link in the jail that leaves it may be followed (inside the jail) all the same. */
export type TrustLink = (linkInJail: string, target: string) => boolean;

export interface ResolveOptions {
  trustLink?: TrustLink;
}

/** Mode bits and owner a file or directory must have (set through a descriptor, never by path). */
export interface FileMeta {
  mode: number;
  uid: number;
  gid: number;
}

export interface WalkOptions extends ResolveOptions {
  /**
   * Makes missing directories instead of failing; returns the mode and owner for each one
   * (`last`: it is the directory the walk ends on).
   */
  create?: (jailPath: string, last: boolean) => FileMeta;
}

export interface ResolvedParent {
  /** Host path of the (real) parent directory. */
  hostDir: string;
  /** In-jail real path of the parent directory. */
  jailDir: string;
  /** The final component. */
  name: string;
}

/** True when a relative link at `linkPath` (in-jail) climbs above the jail's root with `..`. */
export function climbsAboveRoot(linkPath: string, target: string): boolean {
  if (target.startsWith('/')) return false;
  let depth = path.posix.dirname(linkPath).split('/').filter(Boolean).length;
  for (const part of target.split('/')) {
    if (part === '..') depth--;
    else if (part !== '.' && part !== '') depth++;
    if (depth < 0) return true;
  }
  return false;
}

/** True when a link at `linkPath` (in-jail) with `target` would, followed by the host, leave the jail. */
export function leavesJail(linkPath: string, target: string): boolean {
  return target.startsWith('/') || climbsAboveRoot(linkPath, target);
}

export function kindOf(st: fs.Stats): JailEntryKind {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  return 'other';
}

/** True for the errors that mean "nothing there": a missing component, or a file where a directory goes (ENOENT, ENOTDIR). */
export function missingInJail(err: unknown): boolean {
  return err instanceof JailConflictError && err.needed === 'directory' && (err.found === 'missing' || err.found === 'file' || err.found === 'other');
}

export function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** fchown then fchmod (chown may clear setuid/setgid bits; the mode then says exactly what stays). */
export function setMeta(fd: number, meta: FileMeta): void {
  fs.fchownSync(fd, meta.uid, meta.gid);
  fs.fchmodSync(fd, meta.mode);
}

/**
 * An open directory of the jail. Names inside it are reached through `entry(name)`, which the kernel
 * looks up from this directory itself (openat semantics), not by re-walking a path.
 */
export class JailDir {
  readonly fd: number;
  /** The directory's real path inside the jail, as resolved when it was opened. */
  readonly jailPath: string;
  /** Its host path when it was opened (for messages; operations use `entry`). */
  readonly hostPath: string;
  /** True when entries are reached through the descriptor, false when through `hostPath`. */
  readonly anchored: boolean;
  /** True when the walk that opened it also made it (its mode and owner are the creator's). */
  readonly created: boolean;
  /** A view of a directory the jail holds (Jail.holdDirectories): close() leaves the descriptor open. */
  private readonly borrowed: boolean;
  private closed = false;

  constructor(fd: number, jailPath: string, hostPath: string, anchored: boolean, created = false, borrowed = false) {
    this.fd = fd;
    this.jailPath = jailPath;
    this.hostPath = hostPath;
    this.anchored = anchored;
    this.created = created;
    this.borrowed = borrowed;
  }

  /** A path naming `name` (one component, or '.' for the directory itself) inside this very directory. */
  entry(name: string): string {
    if (name === '' || name === '..' || name.includes('/')) throw new Error(`JailDir.entry: '${name}' is not one path component`);
    return `${this.anchored ? `${PROC_FD}/${this.fd}` : this.hostPath}/${name}`;
  }

  /** Opens the directory `name` (or '.', a second descriptor on this one) without following a link there. */
  openChild(name: string): JailDir {
    const fd = fs.openSync(this.entry(name), DIR_FLAGS);
    return new JailDir(fd, path.posix.join(this.jailPath, name), path.join(this.hostPath, name), this.anchored);
  }

  /** The same open directory for a caller that will close() it while the holder keeps it. */
  lend(created: boolean): JailDir {
    return new JailDir(this.fd, this.jailPath, this.hostPath, this.anchored, created, true);
  }

  close(): void {
    if (this.closed || this.borrowed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

interface LinkMet {
  link: string;
  target: string;
  trusted?: boolean;
}

/** A component still to walk, and the link whose target it came from (undefined: the caller's path). */
interface Pending {
  comp: string;
  via?: LinkMet;
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c.length > 0);
}

export class Jail {
  /** Real host path of the jail directory. */
  readonly root: string;
  /**
   * True when every operation is anchored on open directories (/proc/self/fd works here): a component
   * swapped after it was checked cannot redirect it. False: operations use host paths re-walked by the
   * kernel, and the check-then-use race of a path walk remains.
   */
  readonly anchored: boolean;
  private readonly dev: number;
  private readonly ino: number;
  /** Directories kept open by holdDirectories: the walks with the same trustLink start from them. */
  private held: { trustLink: TrustLink | undefined; dirs: Map<string, JailDir>; retired: JailDir[] } | undefined;

  private constructor(root: string, st: fs.Stats, anchored: boolean) {
    this.root = root;
    this.dev = st.dev;
    this.ino = st.ino;
    this.anchored = anchored;
  }

  /** Opens JAIL: its real path must be an existing directory other than `/` (BadJailError otherwise). */
  static open(dir: string): Jail {
    let real: string;
    try {
      real = fs.realpathSync.native(path.resolve(dir));
    } catch (err) {
      const code = errnoOf(err);
      const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is below a file, not a directory' : code === 'ELOOP' ? 'is a loop of symbolic links' : `cannot be resolved (${code ?? String(err)})`;
      throw new BadJailError(dir, `the jail ${why}`);
    }
    if (real === '/') throw new BadJailError(dir, "the jail resolves to '/': the host's root cannot be a jail");
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch (err) {
      throw new BadJailError(dir, `the jail cannot be read (${errnoOf(err) ?? String(err)})`);
    }
    if (!st.isDirectory()) throw new BadJailError(dir, 'the jail is not a directory');
    return new Jail(real, st, procFdWorks(real));
  }

  /**
   * From now until the returned function is called, every directory a walk with this `trustLink`
   * resolves stays open, and a later walk of the same path gets it back without walking again (one
   * apply: ~8 system calls saved per entry). Each was resolved under the rules above when first walked,
   * and stays the directory it was, wherever it is moved (the walk-then-act window of one operation,
   * made as long as the run); whoever changes what a path resolves to (replacing or removing a link or
   * a directory) calls forgetDirectories.
   */
  holdDirectories(trustLink: TrustLink | undefined): () => void {
    const held = { trustLink, dirs: new Map<string, JailDir>(), retired: [] as JailDir[] };
    this.held = held;
    return () => {
      if (this.held === held) this.held = undefined;
      for (const d of [...held.dirs.values(), ...held.retired]) d.close();
      held.dirs.clear();
      held.retired = [];
    };
  }

  /**
   * The held directories are walked again from now on: an entry that may be a component of their paths
   * was replaced or removed. Their descriptors stay open until the hold ends (an operation in flight
   * may still be using one: a closed number could be reused by another open).
   */
  forgetDirectories(): void {
    const held = this.held;
    if (!held || held.dirs.size === 0) return;
    held.retired.push(...held.dirs.values());
    held.dirs.clear();
  }

  /** The host path of an in-jail path, joined lexically (no link resolution: for messages and tests). */
  host(jailPath: string): string {
    const norm = path.posix.normalize('/' + jailPath);
    return norm === '/' ? this.root : this.root + norm;
  }

  /** Opens the directory `p` resolves to inside the jail (every component, the last one too, followed under the rules above). */
  openDir(p: string, opts: WalkOptions = {}): JailDir {
    return this.walk(path.posix.normalize('/' + p), opts);
  }

  /** Opens the directory holding `p`'s last component (not followed) and names that component. */
  openParent(p: string, opts: WalkOptions = {}): { dir: JailDir; name: string } {
    const norm = path.posix.normalize('/' + p);
    if (norm === '/') throw new JailConflictError('/', "the jail's root has no parent inside the jail");
    return { dir: this.walk(path.posix.dirname(norm), opts), name: path.posix.basename(norm) };
  }

  /**
   * Resolves every component of `p` but the last inside the jail; returns where that parent really is.
   * The host path is for callers that need one: acting on it re-walks it (see `openParent`).
   */
  resolveParent(p: string, opts: WalkOptions = {}): ResolvedParent {
    const { dir, name } = this.openParent(p, opts);
    dir.close();
    return { hostDir: this.host(dir.jailPath), jailDir: dir.jailPath, name };
  }

  /** The in-jail real path of directory `p`. */
  resolveDir(p: string, opts: WalkOptions = {}): string {
    const dir = this.openDir(p, opts);
    dir.close();
    return dir.jailPath;
  }

  /** Like openParent, but undefined when a directory on the way is missing or is not one (ENOENT, ENOTDIR). */
  openParentIfThere(p: string, opts: ResolveOptions = {}): { dir: JailDir; name: string } | undefined {
    try {
      return this.openParent(p, opts);
    } catch (err) {
      if (missingInJail(err)) return undefined;
      throw err;
    }
  }

  /** lstat of the entry itself (parent resolved in the jail); undefined when it or a parent is missing. */
  lstat(p: string, opts: ResolveOptions = {}): fs.Stats | undefined {
    if (path.posix.normalize('/' + p) === '/') return fs.statSync(this.root);
    const parent = this.openParentIfThere(p, opts);
    if (!parent) return undefined;
    try {
      return lstatOrUndefined(parent.dir.entry(parent.name));
    } finally {
      parent.dir.close();
    }
  }

  private dirAt(fd: number, jailPath: string, created: boolean): JailDir {
    return new JailDir(fd, jailPath, this.host(jailPath), this.anchored, created);
  }

  /** The jail's root, checked to be the directory opened by Jail.open (not something swapped in since). */
  private openRoot(): JailDir {
    let fd: number;
    try {
      fd = fs.openSync(this.root, DIR_FLAGS);
    } catch (err) {
      throw new BadJailError(this.root, `the jail cannot be opened (${errnoOf(err) ?? String(err)})`);
    }
    const st = fs.fstatSync(fd);
    if (st.dev !== this.dev || st.ino !== this.ino) {
      fs.closeSync(fd);
      throw new BadJailError(this.root, 'the jail directory was replaced after elfcopy opened it');
    }
    return this.dirAt(fd, '/', false);
  }

  private trusts(link: LinkMet, opts: ResolveOptions): boolean {
    link.trusted ??= opts.trustLink?.(link.link, link.target) ?? false;
    return link.trusted;
  }

  /** The directory `p` (normalized) resolves to: held from an earlier walk (holdDirectories), or walked now. */
  private walk(p: string, opts: WalkOptions): JailDir {
    const held = this.held !== undefined && this.held.trustLink === opts.trustLink ? this.held.dirs : undefined;
    const hit = held?.get(p);
    if (hit) return hit.lend(false);
    const dir = this.walkFromRoot(p, opts);
    if (!held) return dir;
    held.set(p, dir);
    return dir.lend(dir.created);
  }

  /**
   * The component walk (RESOLVE_IN_ROOT by hand): a stack of open directories, one per component of
   * the real path so far; links expand in place; `..` pops the stack.
   */
  private walkFromRoot(p: string, opts: WalkOptions): JailDir {
    const stack: JailDir[] = [this.openRoot()];
    const pending: Pending[] = components(p).map((comp) => ({ comp }));
    let links = 0;
    try {
      for (let item = pending.shift(); item !== undefined; item = pending.shift()) {
        const { comp, via } = item;
        if (comp === '.') continue;
        if (comp === '..') {
          if (stack.length > 1) stack.pop()?.close();
          // The check on the link's text is lexical; this is the host's real walk: a `..` at the root
          // that came from a link's target (e.g. a/l -> d/../.. with d -> ..) takes the host out.
          else if (via && !this.trusts(via, opts)) throw new JailEscapeError(via.link, via.target, this.root);
          continue;
        }
        const top = stack[stack.length - 1];
        if (!top) throw new Error('Jail.walk: the stack lost its root');
        const jailPath = path.posix.join(top.jailPath, comp);
        const found = this.step(top, comp, jailPath, pending.length === 0, opts.create);
        if ('dir' in found) {
          stack.push(found.dir);
          continue;
        }
        const link: LinkMet = { link: jailPath, target: found.target };
        if (leavesJail(jailPath, found.target) && !this.trusts(link, opts)) throw new JailEscapeError(jailPath, found.target, this.root);
        if (++links > MAX_SYMLINKS) {
          throw new JailConflictError(jailPath, `too many levels of symbolic links (more than ${MAX_SYMLINKS}: a loop?)`, { found: 'link-loop', needed: 'directory' });
        }
        if (found.target.startsWith('/')) while (stack.length > 1) stack.pop()?.close();
        pending.unshift(...components(found.target).map((c) => ({ comp: c, via: link })));
      }
      const last = stack.pop();
      if (!last) throw new Error('Jail.walk: the stack lost its root');
      return last;
    } finally {
      for (const d of stack) d.close();
    }
  }

  /** One component below `parent`: the directory opened, or the link's target to expand. */
  private step(parent: JailDir, comp: string, jailPath: string, last: boolean, create: WalkOptions['create']): { dir: JailDir } | { target: string } {
    const entry = parent.entry(comp);
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      try {
        return { dir: this.dirAt(fs.openSync(entry, DIR_FLAGS), jailPath, false) };
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') {
          if (!create) throw new JailConflictError(jailPath, 'does not exist in the jail', { found: 'missing', needed: 'directory' });
          const made = this.makeDir(parent, comp, jailPath, create(jailPath, last));
          if (made) return { dir: made };
          continue;
        }
        // O_NOFOLLOW|O_DIRECTORY on a link or a file: ENOTDIR (ELOOP on some kernels for a link).
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
      }
      let st: fs.Stats;
      let target: string | undefined;
      try {
        st = fs.lstatSync(entry);
        if (st.isSymbolicLink()) target = fs.readlinkSync(entry);
      } catch (err) {
        // Changed between the open and the look: look again.
        if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL') continue;
        throw err;
      }
      if (target !== undefined) return { target };
      if (st.isDirectory()) continue;
      const found = kindOf(st);
      throw new JailConflictError(jailPath, `is ${found === 'file' ? 'a file' : 'a special file'} in the jail, where a directory is needed`, { found, needed: 'directory' });
    }
    throw new JailConflictError(jailPath, 'keeps changing while elfcopy walks through it', { found: 'other', needed: 'directory' });
  }

  /**
   * Makes `comp` in `parent` with exactly `meta`: made private under a temporary name beside it, given
   * its mode (the umask cannot alter it) and owner through a descriptor, then renamed into place. A run
   * killed half-way leaves a `.elfcopy-tmp-*` entry for cleanupTemps, never a 0700 directory a later run
   * would find and keep. Undefined when something else got there first (the walk looks again).
   */
  private makeDir(parent: JailDir, comp: string, jailPath: string, meta: FileMeta): JailDir | undefined {
    const tmp = parent.entry(tmpName());
    fs.mkdirSync(tmp, { mode: 0o700 });
    let made: fs.Stats;
    try {
      const fd = fs.openSync(tmp, DIR_FLAGS);
      try {
        made = fs.fstatSync(fd);
        setMeta(fd, meta);
      } finally {
        fs.closeSync(fd);
      }
      // rename would replace an empty directory made meanwhile (Node has no RENAME_NOREPLACE): look first.
      if (lstatOrUndefined(parent.entry(comp))) {
        fs.rmdirSync(tmp);
        return undefined;
      }
      fs.renameSync(tmp, parent.entry(comp));
    } catch (err) {
      try {
        fs.rmdirSync(tmp);
      } catch {
        // Already renamed or gone; cleanupTemps takes what is left.
      }
      const code = errnoOf(err);
      if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw err;
    }
    let fd: number;
    try {
      fd = fs.openSync(parent.entry(comp), DIR_FLAGS);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
      throw err;
    }
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return this.dirAt(fd, jailPath, st.dev === made.dev && st.ino === made.ino);
  }
}

/** lstat, undefined when nothing is there. */
export function lstatOrUndefined(p: string): fs.Stats | undefined {
  // Not a thrown ENOENT: an Error with its stack costs more than the lstat (most calls of a fresh copy miss).
  return fs.lstatSync(p, { throwIfNoEntry: false });
}

/** Whether /proc/self/fd/N/x reaches x inside the directory N (procfs mounted and not faked). */
function procFdWorks(real: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(real, DIR_FLAGS);
    const a = fs.fstatSync(fd);
    const b = fs.statSync(`${PROC_FD}/${fd}/.`);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
