/**
 * A file-system view rooted at a directory: every path is absolute *inside* the root, and symlinks,
 * absolute or relative, resolve inside it (openat2's RESOLVE_IN_ROOT semantics: `..` at the root stays
 * at the root, `/x` means ROOT/x). The host itself is the view rooted at `/`.
 *
 * Directory listings and resolved prefixes are cached for the life of the view: a resolver run reads a
 * library directory once, not once per probe.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteSource, describeNonRegular, errnoToUnreadable } from './bytes.js';
import { PathResolutionError, UnreadableFileError } from './errors.js';
import { globComponentRegExp } from './glob.js';

/** Linux's limit on symlinks followed in one lookup (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
/** Largest configuration file elfcopy reads (ld.so.conf, nsswitch.conf, …). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface ResolvedLink {
  /** The link's path inside the root. */
  link: string;
  /** What the link says, as written. */
  target: string;
}

export interface Resolution {
  /** The real path inside the root, every symlink resolved. */
  real: string;
  /** Every symlink met on the way, in the order met. */
  links: ResolvedLink[];
}

/** One component met while walking a path: what ld.so's open() walks through. */
export interface PathComponent {
  /** In-root path of this component (its parent already resolved). */
  path: string;
  kind: 'directory' | 'symlink' | 'file' | 'other';
  /** For a symlink: its target as written. */
  target?: string;
  stat: fs.Stats;
}

/**
 * Told of everything a SysRoot consults, so that an upper layer can tell later whether any of it changed
 * (jail-copy's plan cache attaches one). SysRoot keeps no such record itself.
 */
export interface SysRootObserver {
  /** An in-root path looked up: a file opened, stat'd or read, or a component of a path resolved. */
  seen(path: string): void;
  /** A directory whose listing was read: a new entry there could change a result. */
  listed(path: string): void;
  /**
   * Resolve paths on the host by the component walk as well, so that `seen` hears of every component
   * and every link on the way: the kernel's realpath, used otherwise on the host, hides them.
   */
  readonly walkComponents?: boolean;
}

export interface SysRootOptions {
  observer?: SysRootObserver;
}

let identityOf: (root: SysRoot, p: string) => string | undefined;
let recordOf: (root: SysRoot, on: boolean) => void;

export class SysRoot {
  /** The root as a normalized absolute host path ("/" for the host). */
  readonly root: string;
  readonly isHost: boolean;
  private readonly observer: SysRootObserver | undefined;
  /** Resolve by the component walk even on the host (an observer asked for it). */
  private readonly componentWalk: boolean;
  private readonly dirCache = new Map<string, ReadonlySet<string> | null>();
  /** listDir results by the path exactly as asked (no normalisation on the hot path). */
  private readonly listCache = new Map<string, ReadonlySet<string> | null>();
  private readonly realCache = new Map<string, string | null>();
  /** lstat of each in-root path the component walk met (null: not there), for the life of the view. */
  private readonly lstatCache = new Map<string, fs.Stats | null>();
  /** readlink of each link the walk met. */
  private readonly linkCache = new Map<string, string>();
  /** Every path (and prefix of one) the component walk resolved, by the path as asked (walkState). */
  private readonly walkMemo = new Map<string, WalkState>();
  /**
   * While a batch's inputs are collected and resolved (recordIdentities): the identity (fileIdentity) of
   * each regular file stat() found, by the path as asked. It tells the resolver, before any open, that an
   * input is a file already read. Strings, not the Stats: a closure of all of /usr stats thousands of links.
   */
  private regularIdentities: Map<string, string> | undefined;

  constructor(root = '/', options: SysRootOptions = {}) {
    const abs = path.resolve(root);
    this.root = abs;
    this.isHost = abs === '/';
    this.observer = options.observer;
    this.componentWalk = options.observer?.walkComponents ?? false;
  }

  private see(p: string): void {
    this.observer?.seen(p);
  }

  /** The host path of an in-root path, joined lexically (no link resolution). */
  hostPath(inRoot: string): string {
    const norm = path.posix.normalize('/' + inRoot);
    return this.isHost ? norm : norm === '/' ? this.root : this.root + norm;
  }

  /**
   * Resolves every symlink in `p` inside the root and records the links met. Missing components give
   * undefined; a loop or an over-long chain gives PathResolutionError.
   */
  resolve(p: string): Resolution | undefined {
    const links: ResolvedLink[] = [];
    const real = this.walk(p, links);
    return real === undefined ? undefined : { real, links };
  }

  /** The real in-root path of `p` (cached), or undefined when it does not exist. */
  realpath(p: string): string | undefined {
    // Not normalised lexically: `..` after a symlink goes up from the link's target, as in the kernel.
    const key = p.startsWith('/') ? p : '/' + p;
    // The walk keeps its own answers (walkMemo), by the same key.
    if (!this.isHost || this.componentWalk) return this.walkState(key)?.real;
    const cached = this.realCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    let real: string | undefined;
    try {
      real = fs.realpathSync.native(key);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new PathResolutionError(key, 'too many levels of symbolic links (a symlink loop)');
      real = undefined;
    }
    this.realCache.set(key, real ?? null);
    return real;
  }

  /** Like realpath, but the last component is not followed when it is a symlink. */
  realParent(p: string): string | undefined {
    const norm = (p.startsWith('/') ? p : '/' + p).replace(/\/+$/, '') || '/';
    if (norm === '/') return '/';
    const base = path.posix.basename(norm);
    if (base === '..' || base === '.') return this.realpath(norm);
    const dir = this.realpath(path.posix.dirname(norm));
    return dir === undefined ? undefined : path.posix.join(dir, base);
  }

  /** stat() through links, inside the root; undefined when missing. */
  stat(p: string): fs.Stats | undefined {
    let st: fs.Stats | undefined;
    if (this.isHost && !this.componentWalk) st = hostStat(p.startsWith('/') ? p : '/' + p);
    else {
      const real = this.realpath(p);
      if (real === undefined) return undefined;
      try {
        st = fs.statSync(this.hostPath(real));
      } catch {
        return undefined;
      }
    }
    const record = this.regularIdentities;
    if (record !== undefined && st?.isFile()) {
      const id = fileIdentity(st.dev, st.ino, st.size, st.mode);
      if (id !== undefined) record.set(p, id);
    }
    return st;
  }

  static {
    identityOf = (root, p) => {
      const id = root.regularIdentities?.get(p);
      if (id !== undefined) root.regularIdentities?.delete(p);
      return id;
    };
    recordOf = (root, on) => {
      // Never with an observer: it must hear of every file opened, so nothing may stand in for an open.
      root.regularIdentities = on && !root.observer ? new Map() : undefined;
    };
  }

  /** lstat() of the entry itself (its parent resolved inside the root); undefined when missing. */
  lstat(p: string): fs.Stats | undefined {
    this.see(p);
    const rp = this.realParent(p);
    if (rp === undefined) return undefined;
    try {
      return fs.lstatSync(this.hostPath(rp));
    } catch {
      return undefined;
    }
  }

  /** The names in a directory (cached), or undefined when it is not a readable directory. */
  listDir(p: string): ReadonlySet<string> | undefined {
    this.observer?.listed(p);
    const hit = this.listCache.get(p);
    if (hit !== undefined) return hit ?? undefined;
    const names = this.listDirUncached(p);
    this.listCache.set(p, names ?? null);
    return names;
  }

  private listDirUncached(p: string): ReadonlySet<string> | undefined {
    const real = this.realpath(p);
    if (real === undefined) return undefined;
    this.observer?.listed(real);
    const cached = this.dirCache.get(real);
    if (cached !== undefined) return cached ?? undefined;
    let names: ReadonlySet<string> | null;
    try {
      names = new Set(fs.readdirSync(this.hostPath(real)));
    } catch {
      names = null;
    }
    this.dirCache.set(real, names);
    return names ?? undefined;
  }

  /**
   * The entries of directory `p` (a real in-root path) with their types: one readdir, not cached (a
   * directory walk reads each directory once). Undefined when it cannot be read.
   */
  readDirEntries(p: string): fs.Dirent[] | undefined {
    this.observer?.listed(p);
    try {
      return fs.readdirSync(this.hostPath(p), { withFileTypes: true });
    } catch {
      return undefined;
    }
  }

  /** Tells the observer of a file read by other means than open(): a magic-number test. */
  noteRead(p: string): void {
    this.see(p);
  }

  /** True when `dir/name` is listed in `dir` (one cached readdir per directory instead of a probe per name). */
  hasEntry(dir: string, name: string): boolean {
    return this.listDir(dir)?.has(name) ?? false;
  }

  /**
   * A regular file's text, at most MAX_CONFIG_BYTES; undefined when missing. FIFOs, devices and
   * directories are refused with UnreadableFileError before they are opened.
   */
  readText(p: string, maxBytes = MAX_CONFIG_BYTES): string | undefined {
    const bytes = this.readBytes(p, maxBytes);
    return bytes?.toString('utf8');
  }

  readBytes(p: string, maxBytes = MAX_CONFIG_BYTES): Buffer | undefined {
    const real = this.realpath(p);
    if (real === undefined) return undefined;
    const host = this.hostPath(real);
    let st: fs.Stats;
    try {
      st = fs.statSync(host);
    } catch {
      return undefined;
    }
    const bad = describeNonRegular(st);
    if (bad) throw new UnreadableFileError(p, bad.kind, bad.message);
    if (st.size > maxBytes) throw new UnreadableFileError(p, 'io', `is ${st.size} bytes, more than the ${maxBytes} elfcopy reads from such a file`);
    const src = ByteSource.open(host, p);
    try {
      return Buffer.from(src.read(0, Math.min(src.size, maxBytes), 'file'));
    } finally {
      src.close();
    }
  }

  /**
   * Opens a file for ELF reading; errors name the in-root path. `checkedRegular`: the caller has just
   * seen it to be a regular file (a stat of this run), so the type check before open() is not made again;
   * the check after it (fstat) always is.
   */
  open(p: string, checkedRegular = false): ByteSource {
    // On the host the kernel's own lookup is the right one; a sysroot needs the in-root walk.
    if (this.observer) {
      this.see(p);
      // Every link on the way is part of what was read.
      this.realpath(p);
    }
    if (this.isHost) return ByteSource.open(p, p, checkedRegular);
    const real = this.realpath(p);
    if (real === undefined) {
      // Let the OS say why (ENOENT, ENOTDIR, EACCES) with the user's path in the message.
      try {
        fs.statSync(this.hostPath(p));
      } catch (err) {
        throw errnoToUnreadable(p, err);
      }
      throw new UnreadableFileError(p, 'not-found', 'no such file or directory');
    }
    return ByteSource.open(this.hostPath(real), p, checkedRegular);
  }

  /** Expands a glob whose wildcards sit in the last component only (ld.so.conf `include` patterns). */
  globLast(pattern: string): string[] {
    const norm = path.posix.normalize('/' + pattern);
    const dir = path.posix.dirname(norm);
    const base = path.posix.basename(norm);
    if (!/[*?[]/.test(base)) return this.stat(norm) ? [norm] : [];
    const names = this.listDir(dir);
    if (!names) return [];
    const re = globComponentRegExp(base);
    return [...names].filter((n) => re.test(n) && !(n.startsWith('.') && !base.startsWith('.'))).sort().map((n) => path.posix.join(dir, n));
  }

  /**
   * Every directory, symlink and final file met while resolving `p` inside the root, in the order the
   * kernel meets them (a link's target is walked where the link stands). Undefined when `p` is missing.
   * This is what a jail must reproduce for the same path to open the same way. The array is new on each
   * call; its entries (and their Stats) are the view's own, shared between calls: read, never change them.
   */
  pathComponents(p: string): PathComponent[] | undefined {
    const state = this.walkState(p);
    return state === undefined ? undefined : metOnTheWay(state);
  }

  /** Component walk confined to the root; `links` collects the symlinks met. */
  private walk(p: string, links: ResolvedLink[] | undefined): string | undefined {
    const state = this.walkState(p);
    if (state === undefined) return undefined;
    if (links !== undefined) for (const e of metOnTheWay(state)) if (e.target !== undefined) links.push({ link: e.path, target: e.target });
    return state.real;
  }

  /**
   * The one walk behind realpath, resolve and pathComponents, as the kernel's path walk (fs/namei.c:
   * link_path_walk): components in order, each looked at with lstat, a link's target walked where the
   * link stands (absolute: from the root), `..` applied to the path resolved so far, at most MAX_SYMLINKS
   * links followed over the whole lookup. Each prefix of `p` walked is kept (walkMemo) with the links it
   * followed, so a path below a directory already resolved costs one step per new component, and a
   * prefix that was missing or looped answers the same again. The observer has heard every component of
   * a kept prefix when it was walked: it is told again only of what is new.
   */
  private walkState(p: string): WalkState | undefined {
    const key = p.startsWith('/') ? p : '/' + p;
    // A path past PATH_MAX is walked whole and not kept: no open() of the loader takes it, and a hostile
    // RPATH of 400,000 components would leave as many kept prefixes.
    const memo = key.length <= MAX_KEPT_PATH ? this.walkMemo : undefined;
    // The longest prefix of `key` (ending before a '/', or `key` itself) already walked.
    let from = ROOT_STATE;
    let pos = memo === undefined ? 0 : key.length;
    while (pos > 0 && memo !== undefined) {
      const hit = memo.get(pos === key.length ? key : key.slice(0, pos));
      if (hit !== undefined) {
        if (hit === MISSING) return undefined;
        if (hit === LOOP) throw new PathResolutionError(p, 'too many levels of symbolic links (a symlink loop)');
        if (pos === key.length) return hit;
        from = hit;
        break;
      }
      pos = pos <= 1 ? 0 : key.lastIndexOf('/', pos - 1);
    }
    let state = from;
    while (pos < key.length) {
      const slash = key.indexOf('/', pos + 1);
      const end = slash < 0 ? key.length : slash;
      if (end > pos + 1) {
        // Below what is not a directory nothing resolves (ENOTDIR), not even `.` or `..`.
        if (!state.isDir) return undefined;
        const comp = key.slice(pos + 1, end);
        const cur: WalkCursor = { real: state.real, followed: state.followed, isDir: true, met: [] };
        let found: boolean;
        try {
          found = this.step(cur, comp, false, p);
        } catch (err) {
          if (err instanceof PathResolutionError) memo?.set(key.slice(0, end), LOOP);
          throw err;
        }
        if (!found) {
          memo?.set(key.slice(0, end), MISSING);
          return undefined;
        }
        state = { real: cur.real, followed: cur.followed, isDir: cur.isDir, prev: state, met: cur.met };
        memo?.set(end === key.length ? key : key.slice(0, end), state);
      }
      pos = end;
    }
    // `key` itself is kept too when it ends in a slash (its last step was kept without it).
    memo?.set(key, state);
    return state;
  }

  /**
   * One component `comp` resolved from where `cur` stands (a directory), moving `cur` to it. `more`: other
   * components follow (then it must be a directory, or a link that leads to one). False when it is not
   * there; PathResolutionError (naming `p`, the path asked) past MAX_SYMLINKS links.
   */
  private step(cur: WalkCursor, comp: string, more: boolean, p: string): boolean {
    if (comp === '.') return true;
    if (comp === '..') {
      // `..` at the root stays at the root (RESOLVE_IN_ROOT).
      const up = cur.real.lastIndexOf('/');
      cur.real = up <= 0 ? '/' : cur.real.slice(0, up);
      cur.isDir = true;
      return true;
    }
    const inRoot = cur.real === '/' ? '/' + comp : cur.real + '/' + comp;
    this.see(inRoot);
    const host = this.isHost ? inRoot : this.root + inRoot;
    // Cached like the listings: a plan walks /usr/lib/x86_64-linux-gnu once, not once per library.
    let st = this.lstatCache.get(inRoot);
    if (st === undefined) {
      try {
        st = fs.lstatSync(host);
      } catch {
        st = null;
      }
      this.lstatCache.set(inRoot, st);
    }
    if (st === null) return false;
    if (st.isSymbolicLink()) {
      if (++cur.followed > MAX_SYMLINKS) throw new PathResolutionError(p, 'too many levels of symbolic links (a symlink loop)');
      let target = this.linkCache.get(inRoot);
      if (target === undefined) {
        target = fs.readlinkSync(host);
        this.linkCache.set(inRoot, target);
      }
      cur.met.push({ path: inRoot, kind: 'symlink', target, stat: st });
      if (target.startsWith('/')) cur.real = '/';
      const parts = target.split('/');
      let last = parts.length - 1;
      while (last >= 0 && parts[last] === '') last--;
      for (let i = 0; i <= last; i++) {
        const c = parts[i];
        if (c === undefined || c === '') continue;
        if (!this.step(cur, c, more || i < last, p)) return false;
      }
      return true;
    }
    const kind = st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
    if (more && kind !== 'directory') return false;
    cur.met.push({ path: inRoot, kind, stat: st });
    cur.real = inRoot;
    cur.isDir = kind === 'directory';
    return true;
  }
}

/** A path resolved by the component walk, kept for the life of the view (SysRoot.walkMemo). */
interface WalkState {
  /** The real in-root path. */
  readonly real: string;
  /** Links followed so far in the lookup: the rest of a longer path may follow MAX_SYMLINKS minus these. */
  readonly followed: number;
  /** Whether a walk may go on below it (a directory, or the root). */
  readonly isDir: boolean;
  /** The state of the path one component shorter (undefined: the root). */
  readonly prev: WalkState | undefined;
  /** What resolving the last component met: the entry, or a link and everything its target walked through. */
  readonly met: readonly PathComponent[];
}

/** Where a walk stands while it resolves one component (SysRoot.step). */
interface WalkCursor {
  real: string;
  followed: number;
  isDir: boolean;
  met: PathComponent[];
}

/** PATH_MAX: the longest path the walk keeps, and its prefixes (walkState). */
const MAX_KEPT_PATH = 4096;
const ROOT_STATE: WalkState = { real: '/', followed: 0, isDir: true, prev: undefined, met: [] };
/** walkMemo's marks for a path that is missing and for one whose walk went past MAX_SYMLINKS. */
const MISSING: WalkState = { real: '', followed: 0, isDir: false, prev: undefined, met: [] };
const LOOP: WalkState = { real: '', followed: 0, isDir: false, prev: undefined, met: [] };

/** Every entry met on the way to `state`, in the order met. */
function metOnTheWay(state: WalkState): PathComponent[] {
  const chain: (readonly PathComponent[])[] = [];
  for (let s: WalkState | undefined = state; s !== undefined; s = s.prev) if (s.met.length > 0) chain.push(s.met);
  const out: PathComponent[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const met = chain[i];
    if (met !== undefined) for (const e of met) out.push(e);
  }
  return out;
}

/**
 * From now until `on` is false, `root` records the identity of each regular file its stat() finds
 * (never with an observer). Functions beside the class, not methods: the resolver's shortcut for a
 * batch (analyzeDeps), not SysRoot's public surface; off, stat() records nothing and keeps nothing.
 */
export function recordIdentities(root: SysRoot, on: boolean): void {
  recordOf(root, on);
}

/**
 * fileIdentity of `p` (the same string) as a stat() of `root` found it a regular file while recording,
 * if one did; asked once (the record is dropped then: an input is read once).
 */
export function takeIdentityOfRun(root: SysRoot, p: string): string | undefined {
  return identityOf(root, p);
}

/**
 * A file's identity as one string: device and inode (what _dl_map_object_from_fd compares), size and
 * mode (a file rewritten or chmod'ed in between is not the same). Undefined for an inode number past
 * 2^53 (overlayfs's xino bits): as a number it has lost its low bits, and two files could compare equal.
 */
export function fileIdentity(dev: number, ino: number, size: number, mode: number): string | undefined {
  return Number.isSafeInteger(ino) ? `${dev}:${ino}:${size}:${mode}` : undefined;
}

/**
 * stat() by the kernel's own lookup, for the host root when nothing records: the same answer as the
 * realpath and stat of the real path, in one system call. A symlink loop is PathResolutionError, as
 * realpath() makes it; any other failure (ENOENT, ENOTDIR, EACCES) is "not there".
 */
function hostStat(p: string): fs.Stats | undefined {
  try {
    return fs.statSync(p, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new PathResolutionError(p, 'too many levels of symbolic links (a symlink loop)');
    return undefined;
  }
}
