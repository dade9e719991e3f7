/**
 * The step between RUNPATH and the system directories: ld.so.cache (dl-cache.c _dl_load_cache_lookup).
 * ld.so itself never reads ld.so.conf: with no cache it goes straight to the system directories. By
 * option (`ldConf: true`) a root without a cache is given the cache `ldconfig` would write from its
 * ld.so.conf, labelled 'ld.so.conf' wherever it decides something.
 */
import { LD_SO_CACHE, lookupLdCache, readLdCache, type LdCache } from './ldcache/index.js';
import { readLdConf, LD_SO_CONF } from './ldconf.js';
import { buildCacheFromLdConf } from './ldconfig-cache.js';
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

function fromCache(cache: LdCache, source: LibraryIndex['source'], location: string): LibraryIndex {
  // One lookup per (target, name) for the whole run: a batch of 700 programs asks for libc.so.6 700 times.
  const memo = new WeakMap<LoaderTarget, Map<string, IndexHit | null>>();
  return {
    source,
    location,
    lookup(name, target) {
      let byName = memo.get(target);
      if (!byName) {
        byName = new Map();
        memo.set(target, byName);
      }
      const known = byName.get(name);
      if (known !== undefined) return known ?? undefined;
      const r = lookupLdCache(cache, name, target);
      let hit: IndexHit | undefined;
      if (r.path !== undefined) {
        hit = { path: r.path, variants: r.usable.map((e) => e.path) };
        if (r.entry?.hwcaps !== undefined) hit.hwcaps = `glibc-hwcaps/${r.entry.hwcaps}`;
      }
      byName.set(name, hit ?? null);
      return hit;
    },
  };
}

export interface LibraryIndexOptions {
  /** In-root path of the cache (default /etc/ld.so.cache); false: do not read one. */
  ldCache?: string | false;
  /** With no cache, predict the one ldconfig would write from ld.so.conf (not what ld.so does). */
  ldConf?: boolean;
  /** System directories ldconfig adds after the configuration (Debian: the target's). */
  systemDirs?: readonly string[];
  /** Target for reading libraries when predicting from ld.so.conf. */
  target?: LoaderTarget;
}

export function openLibraryIndex(root: SysRoot, options: LibraryIndexOptions = {}): LibraryIndex | undefined {
  if (options.ldCache !== false) {
    const location = options.ldCache ?? LD_SO_CACHE;
    const cache = readLdCache(root, location);
    if (cache) return fromCache(cache, 'ld.so.cache', location);
  }
  if (options.ldConf && options.target) {
    const conf = readLdConf(root, { builtinDirs: options.systemDirs ?? options.target.systemDirs, libTypes: options.target.glibc?.ldconfigLibTypes ?? true });
    const built = buildCacheFromLdConf(root, conf, options.target);
    return fromCache(built.cache, 'ld.so.conf', LD_SO_CONF);
  }
  return undefined;
}
