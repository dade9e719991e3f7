/**
 * What the jail tests share: root is required (they chroot and chown), temporary trees under
 * os.tmpdir(), the built CLI, gcc-built fixtures, and views of a tree (snapshots, manifests, hashes)
 * that never follow a link.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Manifest } from '../../src/index.js';
import { PLAN_CACHE_PATH } from '../../src/internal.js';
import { MANIFEST_DIR } from '../../src/copy/manifest.js';

export { ELFCOPY, elfcopy } from '../../../cli/test/helpers.js';

/** Fails (never skips) when not root: CI runs these as root, and a skipped jail test proves nothing. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new Error('the jail tests chroot, chown and mknod: run them as root (CI does); they are not skipped');
  }
}

/** A fresh directory under os.tmpdir() (its real path); remove it with fs.rmSync when done. */
export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `elfcopy-${prefix}-`)));
}

/** stderr lines that are not warnings (what an error run must print: exactly one). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('elfcopy: warning:'));
}

export function sha256File(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

export interface TreeEntry {
  /** Path below the tree's root, starting with '/'. */
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
  stat: fs.Stats;
  /** A symlink's target as written. */
  target?: string;
}

/** Every entry below `root` (root itself excluded), links never followed, sorted by path. */
export function walkTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const p = path.posix.join(rel, name);
      const host = path.join(root, p);
      const st = fs.lstatSync(host);
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      out.push({ path: p, type, stat: st, ...(type === 'symlink' ? { target: fs.readlinkSync(host) } : {}) });
      if (type === 'dir') walk(p);
    }
  };
  walk('/');
  return out;
}

/** Names, types, modes, owners, sizes, mtimes and link targets: what "nothing changed" compares. */
export function snapshot(root: string): string[] {
  // Not the plan cache (and so not its directory's mtime): a run that finds the jail changed by
  // something else (a daemon that ran in it) records its new state there, and nothing else.
  return walkTree(root).filter((e) => e.path !== PLAN_CACHE_PATH && e.path !== MANIFEST_DIR).map((e) => `${e.path} ${e.type} ${e.stat.mode.toString(8)} ${e.stat.uid}:${e.stat.gid} ${e.stat.size} ${e.stat.mtimeMs} ${e.stat.ino} ${e.target ?? ''}`);
}

/**
 * What a jail holds, without times: types, modes, owners, link targets and file contents. Two jails
 * built the same way compare equal, however they got there.
 */
export function contentTree(root: string): string[] {
  // The plan cache records inodes and times: two jails built alike differ there by nature.
  return walkTree(root).filter((e) => e.path !== PLAN_CACHE_PATH).map((e) => {
    const what = e.type === 'file' ? sha256File(path.join(root, e.path)) : e.type === 'symlink' ? `-> ${e.target ?? ''}` : '';
    return `${e.path} ${e.type} ${(e.stat.mode & 0o7777).toString(8)} ${e.stat.uid}:${e.stat.gid} ${what}`;
  });
}

/** Entries whose name marks a staging leftover of a run. */
export function stagingLeftovers(root: string): string[] {
  return walkTree(root).filter((e) => path.posix.basename(e.path).startsWith('.elfcopy-tmp-')).map((e) => e.path);
}

export function manifestPath(jail: string): string {
  return path.join(jail, '.elfcopy', 'manifest.json');
}

export function readManifest(jail: string): Manifest {
  return JSON.parse(fs.readFileSync(manifestPath(jail), 'utf8')) as Manifest;
}

/** `cc -o out` with extra flags; the source is written beside the output. */
export function gcc(out: string, source: string, flags: string[] = []): string {
  const src = `${out}.c`;
  fs.writeFileSync(src, source);
  execFileSync('gcc', ['-O1', '-o', out, src, ...flags], { stdio: 'pipe' });
  return out;
}

/**
 * A program of `megabytes` MB: a tiny ELF with bytes appended past its segments (ld.so maps only
 * those), so that copying it takes long enough to meet mid-copy.
 */
export function paddedProgram(out: string, megabytes: number): string {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  gcc(out, 'int main(void) { return 0; }\n');
  const fd = fs.openSync(out, 'a');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  for (let i = 0; i < megabytes; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  return out;
}
