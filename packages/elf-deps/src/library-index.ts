/**
 * The step between RUNPATH and the system directories: ld.so.cache (dl-cache.c), or, when a root has no
 * cache, the directories of ld.so.conf scanned the way ldconfig would fill a cache.
 */
import type { SysRoot } from './sysroot.js';
import type { LoaderTarget } from './target.js';

export interface IndexHit {
  path: string;
  /** The glibc-hwcaps subdirectory of the chosen entry, if any. */
  hwcaps?: string;
  /** Every entry with this name that the target could use (all hwcaps variants and the baseline). */
  variants: string[];
}

export interface LibraryIndex {
  readonly source: 'ld.so.cache' | 'ld.so.conf';
  /** The cache file or the ld.so.conf file, in-root. */
  readonly location: string;
  lookup(name: string, target: LoaderTarget): IndexHit | undefined;
}

export function openLibraryIndex(_root: SysRoot, _ldCache: string | false | undefined): LibraryIndex | undefined {
  return undefined;
}
