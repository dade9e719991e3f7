/**
 * The ld.so.cache layouts (sysdeps/generic/dl-cache.h): the constants of the new format
 * ("glibc-ld.so.cache1.1": 48-byte header, 24-byte entries, an extension directory after the strings) and
 * the old libc5 one ("ld.so-1.7.0": 12-byte entries), and the entries both decode to.
 *
 * `ldconfig -c compat` hides a new-format cache in the old format's string table; ld.so then reads only
 * the new part, and so does parse.ts.
 */
import type { ByteOrder } from '../elf/fields.js';

/** Where ld.so reads its cache (LD_SO_CACHE, SYSCONFDIR "/ld.so.cache"). */
export const LD_SO_CACHE = '/etc/ld.so.cache';
/** Largest cache elfcopy reads; ldconfig writes about 60 bytes per library, so this is far above any system. */
export const MAX_LD_CACHE_BYTES = 64 * 1024 * 1024;

/** dl-cache.h: an entry whose hwcap has this bit (and nothing else above the ISA level bits) names a glibc-hwcaps subdirectory. */
export const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;
/** dl-cache.h DL_CACHE_HWCAP_ISA_LEVEL_MASK: ten ISA level bits at bit 32 of the hwcap field. */
export const ISA_LEVEL_MASK = 0x3ffn;
/** dl-cache.c _DL_HWCAP_TLS_MASK: the legacy "tls" subdirectory bit, always acceptable. */
export const HWCAP_TLS = 1n << 63n;
export const U64_MASK = (1n << 64n) - 1n;

export const NEW_MAGIC = Buffer.from('glibc-ld.so.cache1.1', 'latin1');
export const OLD_MAGIC = Buffer.from('ld.so-1.7.0', 'latin1');
export const NEW_HEADER_SIZE = 48;
export const NEW_ENTRY_SIZE = 24;
export const OLD_HEADER_SIZE = 16;
export const OLD_ENTRY_SIZE = 12;
/** dl-cache.h cache_extension_magic, (uint32_t) -358342284. */
export const EXTENSION_MAGIC = 0xeaa42174;
export const EXTENSION_HEADER_SIZE = 8;
export const EXTENSION_SECTION_SIZE = 16;
export const TAG_GENERATOR = 0;
export const TAG_GLIBC_HWCAPS = 1;
export const ENDIAN_UNSET = 0;
export const ENDIAN_INVALID = 1;
export const ENDIAN_LITTLE = 2;

export type LdCacheFormat = 'new' | 'old' | 'old+new';

export interface LdCacheEntry {
  /** The name ld.so matches a DT_NEEDED against (the SONAME, or a development link's own name). */
  name: string;
  /** The file ld.so tries, as ldconfig wrote it. */
  path: string;
  /** FLAG_* type and ABI bits (`libc6,x86-64` is 0x0303). */
  flags: number;
  /** The raw hwcap field (0n in the old format). */
  hwcap: bigint;
  /** True when `hwcap` marks a glibc-hwcaps extension entry (dl-cache.h dl_cache_hwcap_extension). */
  extension: boolean;
  /** For an extension entry: the glibc-hwcaps subdirectory name its index resolves to. */
  hwcaps?: string;
  /** For an extension entry: the ISA level ldconfig read from the library's GNU property note. */
  isaLevel: number;
  /** Position in the cache. */
  index: number;
}

export interface LdCache {
  /** Where the cache came from (an in-root path, or a description for a built one). */
  path: string;
  format: LdCacheFormat;
  byteOrder: ByteOrder;
  /** The entries ld.so searches, in file order (ldconfig sorts them: see buildLdCache). */
  entries: readonly LdCacheEntry[];
  /** The glibc-hwcaps extension section: subdirectory names by index (empty when absent). */
  hwcapsNames: readonly string[];
  /** The generator extension section: which ldconfig wrote the file. */
  generator?: string;
}

/** dl-cache.h dl_cache_hwcap_extension: bit 62 and nothing else above the ISA level bits. */
export function isHwcapExtension(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~ISA_LEVEL_MASK) === DL_CACHE_HWCAP_EXTENSION >> 32n;
}

/**
 * A new-format entry from its decoded fields: an extension entry's hwcap holds its ISA level and the
 * index of its glibc-hwcaps subdirectory name (dl-cache.h). The eager parse and the lazy image share it.
 */
export function newFormatEntry(name: string, path: string, flags: number, hwcap: bigint, index: number, hwcapsNames: readonly string[]): LdCacheEntry {
  const entry: LdCacheEntry = { name, path, flags, hwcap, extension: isHwcapExtension(hwcap), isaLevel: 0, index };
  if (entry.extension) {
    entry.isaLevel = Number((hwcap >> 32n) & ISA_LEVEL_MASK);
    const subdir = hwcapsNames[Number(hwcap & 0xffffffffn)];
    if (subdir !== undefined) entry.hwcaps = subdir;
  }
  return entry;
}

