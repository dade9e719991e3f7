/**
 * A jail's own ld.so.cache, written natively (the format elf-deps reads, no ldconfig run, works for a
 * foreign root): needed when libraries sit outside the system directories (e.g. /usr/local/lib), where
 * ld.so would otherwise not look. Covers the directories of the jail's ld.so.conf, then every directory
 * of the jail that holds shared libraries, then the target's system directories (as Debian's ldconfig).
 */
import * as path from 'node:path';
import { SysRoot, buildCacheFromLdConf, readLdConf, serializeLdCache, targetFor, type ElfInfo } from '@elfcopy/elf-deps';

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

/**
 * The cache for the jail as it now is (its libraries in place): the bytes to write and what they hold.
 * Reads the jail through a SysRoot (every link resolved inside it); writes nothing — apply's
 * `ldcache` step writes the bytes.
 */
export function buildJailLdCache(jailRoot: string, like: Pick<ElfInfo, 'elfClass' | 'machine' | 'byteOrder'>, libraryPaths: readonly string[]): { bytes: Uint8Array; entries: number; directories: string[] } {
  const root = new SysRoot(jailRoot);
  const target = targetFor(like, root);
  const extra = libraryDirectories(root, libraryPaths).filter((d) => !target.systemDirs.includes(d));
  // ldconfig.c add_single_dir: a directory met again under another name (/lib/x86_64-linux-gnu is
  // /usr/lib/x86_64-linux-gnu in a merged-/usr jail) is scanned once, at its first position; each one
  // also brings its glibc-hwcaps subdirectories. Going through readLdConf's list does both.
  const conf = readLdConf(root, { builtinDirs: [...extra, ...target.systemDirs], libTypes: target.glibc?.ldconfigLibTypes ?? true });
  const built = buildCacheFromLdConf(root, conf, target);
  return { bytes: serializeLdCache(built.cache), entries: built.cache.entries.length, directories: built.directories.map((d) => d.path) };
}
