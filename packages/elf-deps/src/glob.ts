/**
 * Globs, in one place: one component's wildcards as a RegExp, a pattern expanded inside a root
 * (component by component, as glob(3) does; `**` for any depth where asked), and a path tested against
 * a pattern with `**`.
 */
import type * as fs from 'node:fs';
import * as path from 'node:path';

/** What a glob reads of a root (SysRoot has both): entries not followed, and directory listings. */
export interface GlobRoot {
  lstat(p: string): fs.Stats | undefined;
  listDir(p: string): ReadonlySet<string> | undefined;
}

/** Shell-style wildcards within one path component (`*`, `?`, `[…]`, `[!…]`), as glob(3) matches them. */
export function globComponentRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob.charAt(i);
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, close);
        if (body.startsWith('!')) body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

export function hasGlobChars(s: string): boolean {
  return /[*?[]/.test(s);
}

export interface RootGlobOptions {
  /**
   * `**` matches any depth: every non-directory entry below, symlinked directories not followed (no
   * loops, no escapes), symlinks matched like files. Off (glob(3)): `**` is `*`.
   */
  globstar?: boolean;
  /** Stop once this many paths matched (a `**` over a whole tree). Default: no limit. */
  maxMatches?: number;
  /**
   * 'components' (default): sorted name by name, as glob(3) lists them level by level; 'string': the
   * whole paths sorted as strings.
   */
  order?: 'components' | 'string';
}

/**
 * The in-root paths matching `pattern` (absolute), each once; dot files only for patterns that name
 * them. Every listing goes through the root, so an observer of its reads sees what the match depended on.
 */
export function globInRoot(root: GlobRoot, pattern: string, options: RootGlobOptions = {}): string[] {
  const parts = pattern.split('/').filter((p) => p.length > 0);
  const max = options.maxMatches ?? Number.POSITIVE_INFINITY;
  const out = new Set<string>();
  const step = (base: string, i: number): void => {
    if (out.size > max) return;
    const part = parts[i];
    if (part === undefined) {
      if (root.lstat(base)) out.add(base);
      return;
    }
    if (part === '**' && options.globstar) {
      walkBelow(root, base, out, max);
      return;
    }
    if (!hasGlobChars(part)) {
      step(path.posix.join(base, part), i + 1);
      return;
    }
    const names = root.listDir(base);
    if (!names) return;
    const re = globComponentRegExp(part);
    for (const n of [...names].sort()) if (re.test(n) && (!n.startsWith('.') || part.startsWith('.'))) step(path.posix.join(base, n), i + 1);
  };
  step('/', 0);
  return options.order === 'string' ? [...out].sort() : [...out];
}

/** Every non-directory entry below `dir` (or `dir` itself when it is not a directory), not following symlinked directories. */
function walkBelow(root: GlobRoot, dir: string, out: Set<string>, max: number): void {
  const st = root.lstat(dir);
  if (!st) return;
  if (st.isSymbolicLink() || !st.isDirectory()) {
    out.add(dir);
    return;
  }
  for (const n of root.listDir(dir) ?? []) {
    if (out.size > max) return;
    const p = path.posix.join(dir, n);
    const s = root.lstat(p);
    if (!s) continue;
    if (s.isDirectory()) walkBelow(root, p, out, max);
    else out.add(p);
  }
}

/** Whether the path `p` matches `pattern`, component by component, `**` standing for any number of them. */
export function matchesGlobPath(pattern: string, p: string): boolean {
  const pp = pattern.split('/').filter(Boolean);
  const xs = p.split('/').filter(Boolean);
  const rec = (i: number, j: number): boolean => {
    if (i === pp.length) return j === xs.length;
    const part = pp[i];
    if (part === '**') return xs.length >= j && [...Array(xs.length - j + 1).keys()].some((k) => rec(i + 1, j + k));
    const name = xs[j];
    return part !== undefined && name !== undefined && globComponentRegExp(part).test(name) && rec(i + 1, j + 1);
  };
  return rec(0, 0);
}
