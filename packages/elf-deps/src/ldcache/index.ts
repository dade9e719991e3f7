/**
 * ld.so.cache, read (parse.ts), searched (lookup.ts) and written (build.ts, serialize.ts) the way glibc 2.36 does it. The specification is
 * sysdeps/generic/dl-cache.h (layout, extension directory, hwcap bits), elf/dl-cache.c (the loader:
 * _dl_load_cache_lookup, search_cache, _dl_cache_libcmp, glibc_hwcaps_priorities_init) and elf/cache.c
 * (ldconfig: compare, save_cache, print_cache).
 *
 * Three layouts exist. The new format ("glibc-ld.so.cache1.1", ldconfig's default since 2.32) is a
 * 48-byte header, 24-byte entries and a string table whose offsets count from that header; an extension
 * directory after the strings carries the generator string and the glibc-hwcaps subdirectory names. The
 * old libc5 format ("ld.so-1.7.0") has 12-byte entries and offsets counted from the end of its entry
 * array. `ldconfig -c compat` hides a new-format cache in the old format's string table; ld.so then reads
 * only the new part, and so does this module.
 */
export * from './flags.js';
export { LD_SO_CACHE, MAX_LD_CACHE_BYTES, DL_CACHE_HWCAP_EXTENSION, type LdCache, type LdCacheEntry, type LdCacheFormat } from './format.js';
export { LdCacheFormatError, LdCacheWriteError } from './errors.js';
export { parseLdCache, readLdCache, type ParseLdCacheOptions } from './parse.js';
export { dlCacheLibcmp } from './libcmp.js';
export { describeCacheFlags, formatCacheEntry } from './print.js';
export {
  expectedCacheFlags,
  legacyHwcapRule,
  lookupLdCache,
  type AbiVariant,
  type CacheFlagsRule,
  type LdCacheLookup,
  type LdCacheTarget,
  type LegacyHwcapRule,
  type LookupLdCacheOptions,
} from './lookup.js';
export { buildLdCache, type BuildLdCacheOptions, type LdCacheInput } from './build.js';
export { ldCacheBytes, serializeLdCache } from './serialize.js';
