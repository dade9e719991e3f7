/**
 * Path resolution confined to the jail: every component is looked at with lstat, never followed by the
 * kernel; a symlink met on the way is resolved inside the jail (chroot semantics: `/x` is JAIL/x, `..`
 * stops at JAIL) — and only when it is trusted: a link whose target, followed by the host, would leave
 * the jail (an absolute target, or `..` above the root) is refused with JailEscapeError unless the caller
 * vouches for it (the mirror of the host's own link, e.g. lib64/ld-linux-x86-64.so.2 ->
 * /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2).
 *
 * Residual race: Node has no openat2(RESOLVE_IN_ROOT) nor openat(), so between this walk and the
 * operation on the resolved host path, a process with write access inside the jail could swap a checked
 * directory for a symlink. Final components are never followed (O_NOFOLLOW, rename, lstat), temporary
 * files live in a fresh 0700 directory, so the window is limited to a parent directory being replaced
 * during a run; run elfcopy while the jail's services are stopped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BadJailError, JailConflictError, JailEscapeError } from './errors.js';

export const MAX_LINKS = 40;

export type TrustLink = (linkInJail: string, target: string) => boolean;

export interface ResolveOptions {
  trustLink?: TrustLink;
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

export class Jail {
  /** Real host path of the jail directory. */
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static open(dir: string): Jail {
    let real: string;
    try {
      real = fs.realpathSync(path.resolve(dir));
    } catch {
      throw new BadJailError(dir, 'the jail directory does not exist');
    }
    if (real === '/') throw new BadJailError(dir, 'refusing to use / as a jail');
    let st: fs.Stats;
    try {
      st = fs.statSync(real);
    } catch {
      throw new BadJailError(dir, 'the jail directory cannot be read');
    }
    if (!st.isDirectory()) throw new BadJailError(dir, 'the jail is not a directory');
    return new Jail(real);
  }

  host(jailPath: string): string {
    return jailPath === '/' ? this.root : path.join(this.root, jailPath);
  }

  /**
   * Resolves every component of `p` but the last inside the jail. `create` makes missing directories
   * (mode 0755, root-owned unless told) instead of failing.
   */
  resolveParent(p: string, opts: ResolveOptions & { create?: (jailDir: string) => void } = {}): ResolvedParent {
    const norm = path.posix.normalize('/' + p);
    if (norm === '/') throw new JailConflictError(p, 'the jail root has no parent inside the jail');
    const name = path.posix.basename(norm);
    const jailDir = this.resolveDir(path.posix.dirname(norm), opts);
    return { hostDir: this.host(jailDir), jailDir, name };
  }

  /** Resolves a directory path fully (following trusted links), creating missing parts with `create`. */
  resolveDir(p: string, opts: ResolveOptions & { create?: (jailDir: string) => void } = {}): string {
    const pending = path.posix.normalize('/' + p).split('/').filter((c) => c.length > 0);
    const done: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const comp = pending.shift()!;
      if (comp === '.') continue;
      if (comp === '..') {
        done.pop();
        continue;
      }
      const jailPath = '/' + [...done, comp].join('/');
      const host = this.host(jailPath);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(host);
      } catch {
        st = undefined;
      }
      if (!st) {
        if (!opts.create) throw new JailConflictError(jailPath, 'a directory on the way does not exist in the jail');
        opts.create(jailPath);
        done.push(comp);
        continue;
      }
      if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(host);
        if (leavesJail(jailPath, target) && !(opts.trustLink?.(jailPath, target) ?? false)) throw new JailEscapeError(jailPath, target);
        if (++links > MAX_LINKS) throw new JailConflictError(jailPath, 'too many levels of symbolic links in the jail');
        if (target.startsWith('/')) done.length = 0;
        pending.unshift(...target.split('/').filter((c) => c.length > 0));
        continue;
      }
      if (!st.isDirectory()) throw new JailConflictError(jailPath, 'is not a directory, but a path goes through it');
      done.push(comp);
    }
    return '/' + done.join('/');
  }

  /** lstat of the entry itself (parent resolved in the jail); undefined when it or a parent is missing. */
  lstat(p: string, opts: ResolveOptions = {}): fs.Stats | undefined {
    let parent: ResolvedParent;
    try {
      parent = this.resolveParent(p, opts);
    } catch (err) {
      if (err instanceof JailConflictError) return undefined;
      throw err;
    }
    try {
      return fs.lstatSync(path.join(parent.hostDir, parent.name));
    } catch {
      return undefined;
    }
  }

  /** Host path of the entry itself (its parent resolved in the jail, the entry not followed). */
  hostPathOf(p: string, opts: ResolveOptions = {}): string {
    const parent = this.resolveParent(p, opts);
    return path.join(parent.hostDir, parent.name);
  }
}
