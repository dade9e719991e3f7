/**
 * A jail's own ld.so.cache, written natively (the format elf-deps reads, no ldconfig run, works for a
 * foreign root): needed when libraries sit outside the system directories (e.g. /usr/local/lib), where
 * ld.so would otherwise not look. Covers the directories of the jail's ld.so.conf, then every directory
 * of the jail that holds shared libraries, then the target's system directories (as Debian's ldconfig).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SysRoot, buildCacheFromLdConf, readLdConf, serializeLdCache, targetFor, type ElfInfo, type LdConfDirectory } from '@elfcopy/elf-deps';
import { ensureDir, writeFileAtomic } from './fileops.js';
import { Jail } from './inroot.js';

export interface JailLdCacheResult {
  path: string;
  entries: number;
  directories: string[];
}

/** Directories (in-jail) that hold a file named like a shared library. */
function libraryDirectories(root: SysRoot, libraryPaths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const p of libraryPaths) {
    const real = root.realpath(p);
    if (real) dirs.add(path.posix.dirname(real));
    dirs.add(path.posix.dirname(p));
  }
  return [...dirs].sort();
}

export async function writeJailLdCache(jailDir: string, like: Pick<ElfInfo, 'elfClass' | 'machine' | 'byteOrder'>, libraryPaths: readonly string[]): Promise<JailLdCacheResult> {
  const jail = Jail.open(jailDir);
  const root = new SysRoot(jail.root);
  const target = targetFor(like, root);
  const conf = readLdConf(root, { builtinDirs: [] });
  const seen = new Set(conf.directories.map((d) => d.path));
  const dirs: LdConfDirectory[] = [...conf.directories];
  const add = (p: string, from: string): void => {
    if (seen.has(p) || !root.stat(p)?.isDirectory()) return;
    seen.add(p);
    dirs.push({ path: p, from, line: 0 });
  };
  for (const d of libraryDirectories(root, libraryPaths)) if (!target.systemDirs.includes(d)) add(d, '<elfcopy: library directory of the jail>');
  for (const d of target.systemDirs) add(d, '<builtin>');
  const built = buildCacheFromLdConf(root, dirs, target);
  const bytes = serializeLdCache(built.cache);
  await ensureDir(jail, '/etc', { mode: 0o755, uid: 0, gid: 0 });
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-ldcache-'));
  try {
    const tmp = path.join(tmpDir, 'ld.so.cache');
    fs.writeFileSync(tmp, bytes);
    await writeFileAtomic(jail, '/etc/ld.so.cache', tmp, { mode: 0o644, uid: 0, gid: 0 });
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  return { path: '/etc/ld.so.cache', entries: built.cache.entries.length, directories: dirs.map((d) => d.path) };
}
