/**
 * Walks a jail without following any symlink (lstat only), so a hostile jail cannot lead the walk out of
 * itself or into a loop. Pseudo file systems (/proc, /sys, /dev contents are listed but not descended
 * into when they are mounts) are skipped by name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface JailEntry {
  /** In-jail path. */
  path: string;
  /** Host path. */
  host: string;
  stat: fs.Stats;
}

const SKIP_DIRS = new Set(['/proc', '/sys']);
const MAX_DEPTH = 128;

export function* walkJail(jail: string, start = '/'): Generator<JailEntry> {
  const stack: { p: string; depth: number }[] = [{ p: start, depth: 0 }];
  while (stack.length > 0) {
    const { p, depth } = stack.pop()!;
    const host = p === '/' ? jail : path.join(jail, p);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      continue;
    }
    yield { path: p, host, stat: st };
    if (!st.isDirectory() || SKIP_DIRS.has(p) || depth >= MAX_DEPTH) continue;
    let names: string[];
    try {
      names = fs.readdirSync(host);
    } catch {
      continue;
    }
    names.sort().reverse();
    for (const n of names) stack.push({ p: path.posix.join(p, n), depth: depth + 1 });
  }
}
