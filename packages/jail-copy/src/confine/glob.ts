/**
 * Globs inside a root, for profiles: `*`, `?`, `[…]` within a component, `**` for any depth. Directories
 * reached by `**` are walked without following symlinks (no loops, no escapes); symlinks themselves are
 * matched like files, and the copier brings their targets.
 */
import * as path from 'node:path';
import { globComponentRegExp, hasGlobChars, type SysRoot } from '@elfcopy/elf-deps';

const MAX_MATCHES = 200_000;

/** The in-root paths matching `pattern` (absolute), sorted; directories only when named without `**`. */
export function globInRoot(root: SysRoot, pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p.length > 0);
  const out = new Set<string>();
  const step = (base: string, i: number): void => {
    if (out.size > MAX_MATCHES) return;
    if (i === parts.length) {
      if (root.lstat(base)) out.add(base);
      return;
    }
    const part = parts[i];
    if (part === undefined) return;
    if (part === '**') {
      walkAll(root, base, out);
      return;
    }
    if (!hasGlobChars(part)) {
      step(path.posix.join(base, part), i + 1);
      return;
    }
    const names = root.listDir(base);
    if (!names) return;
    const re = globComponentRegExp(part);
    for (const n of names) if (re.test(n) && (!n.startsWith('.') || part.startsWith('.'))) step(path.posix.join(base, n), i + 1);
  };
  step('/', 0);
  return [...out].sort();
}

/** Every non-directory entry below `dir`, not following symlinked directories. */
function walkAll(root: SysRoot, dir: string, out: Set<string>): void {
  const st = root.lstat(dir);
  if (!st) return;
  if (st.isSymbolicLink() || !st.isDirectory()) {
    out.add(dir);
    return;
  }
  const names = root.listDir(dir);
  for (const n of names ?? []) {
    if (out.size > MAX_MATCHES) return;
    const p = path.posix.join(dir, n);
    const s = root.lstat(p);
    if (!s) continue;
    if (s.isDirectory()) walkAll(root, p, out);
    else out.add(p);
  }
}
