/**
 * ld.so.cache, read, searched and written the way glibc 2.36 does it. The specification is
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
import { archOfLoader, cacheFlagsFor, type AbiVariant, type ArchRow, type CacheFlagsRule } from './arch/table.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import { ElfDepsError, ElfFormatError } from './errors.js';
import type { SysRoot } from './sysroot.js';

/** Where ld.so reads its cache (LD_SO_CACHE, SYSCONFDIR "/ld.so.cache"). */
export const LD_SO_CACHE = '/etc/ld.so.cache';
/** Largest cache elfcopy reads; ldconfig writes about 60 bytes per library, so this is far above any system. */
export const MAX_LD_CACHE_BYTES = 64 * 1024 * 1024;

export * from './cache-flags.js';
import { FLAG_TYPE_MASK, FLAG_REQUIRED_MASK, FLAG_SPARC_LIB64, FLAG_IA64_LIB64, FLAG_X8664_LIB64, FLAG_S390_LIB64, FLAG_POWERPC_LIB64, FLAG_MIPS64_LIBN32, FLAG_MIPS64_LIBN64, FLAG_X8664_LIBX32, FLAG_ARM_LIBHF, FLAG_AARCH64_LIB64, FLAG_ARM_LIBSF, FLAG_MIPS_LIB32_NAN2008, FLAG_MIPS64_LIBN32_NAN2008, FLAG_MIPS64_LIBN64_NAN2008, FLAG_RISCV_FLOAT_ABI_SOFT, FLAG_RISCV_FLOAT_ABI_DOUBLE } from './cache-flags.js';

/** dl-cache.h: an entry whose hwcap has this bit (and nothing else above the ISA level bits) names a glibc-hwcaps subdirectory. */
export const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;
/** dl-cache.h DL_CACHE_HWCAP_ISA_LEVEL_MASK: ten ISA level bits at bit 32 of the hwcap field. */
const ISA_LEVEL_MASK = 0x3ffn;
/** dl-cache.c _DL_HWCAP_TLS_MASK: the legacy "tls" subdirectory bit, always acceptable. */
const HWCAP_TLS = 1n << 63n;
const U64_MASK = (1n << 64n) - 1n;

const NEW_MAGIC = Buffer.from('glibc-ld.so.cache1.1', 'latin1');
const OLD_MAGIC = Buffer.from('ld.so-1.7.0', 'latin1');
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
const OLD_HEADER_SIZE = 16;
const OLD_ENTRY_SIZE = 12;
/** dl-cache.h cache_extension_magic, (uint32_t) -358342284. */
const EXTENSION_MAGIC = 0xeaa42174;
const EXTENSION_HEADER_SIZE = 8;
const EXTENSION_SECTION_SIZE = 16;
const TAG_GENERATOR = 0;
const TAG_GLIBC_HWCAPS = 1;
const ENDIAN_UNSET = 0;
const ENDIAN_INVALID = 1;
const ENDIAN_LITTLE = 2;

/**
 * A cache file ld.so would refuse or misread: bad magic, a count or offset pointing outside the file, …
 * An ElfFormatError (field and offset) so callers report it like any malformed input, yet its own type.
 */
export class LdCacheFormatError extends ElfFormatError {
  override name = 'LdCacheFormatError';
}

/** An entry handed to the writer cannot be stored (a NUL in a name, an ISA level above 1023, …). */
export class LdCacheWriteError extends ElfDepsError {
  override name = 'LdCacheWriteError';
}

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

export interface ParseLdCacheOptions {
  /**
   * Byte order for a file that does not record one (the old format, or a new-format file from before
   * glibc 2.33): ld.so assumes its own. Default 'little'.
   */
  byteOrder?: ByteOrder;
}

/** Bounds-checked reads of one cache image; every failure is an LdCacheFormatError naming the field. */
class CacheImage {
  private readonly strings = new Map<number, string>();
  constructor(
    readonly buf: Buffer,
    readonly path: string,
    readonly order: ByteOrder,
  ) {}

  fail(field: string, offset: number, message: string): never {
    throw new LdCacheFormatError(this.path, field, Math.max(0, offset), message);
  }

  need(at: number, length: number, field: string): void {
    if (at < 0 || length < 0 || at + length > this.buf.length) {
      this.fail(field, at, `${field} lies outside the file (${length} bytes at ${at}, file size ${this.buf.length})`);
    }
  }

  u32(at: number, field: string): number {
    this.need(at, 4, field);
    return this.order === 'little' ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  i32(at: number, field: string): number {
    this.need(at, 4, field);
    return this.order === 'little' ? this.buf.readInt32LE(at) : this.buf.readInt32BE(at);
  }

  u64(at: number, field: string): bigint {
    this.need(at, 8, field);
    return this.order === 'little' ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
  }

  /** The NUL-terminated string at `at`; ld.so would read past the end of an unterminated one, so it is an error. */
  cString(at: number, field: string): string {
    const cached = this.strings.get(at);
    if (cached !== undefined) return cached;
    if (at < 0 || at >= this.buf.length) this.fail(field, at, `${field} string offset ${at} is outside the file (size ${this.buf.length})`);
    const nul = this.buf.indexOf(0, at);
    if (nul < 0) this.fail(field, at, `${field} string is not NUL-terminated before the end of the file`);
    const s = this.buf.toString('utf8', at, nul);
    this.strings.set(at, s);
    return s;
  }

  startsWith(at: number, magic: Buffer): boolean {
    return at + magic.length <= this.buf.length && this.buf.compare(magic, 0, magic.length, at, at + magic.length) === 0;
  }
}

/**
 * Parses a cache image. Accepts what ld.so accepts (dl-cache.c _dl_load_cache_lookup) and checks every
 * offset ld.so would follow; anything else is an LdCacheFormatError. ld.so itself silently ignores a
 * cache it cannot use, so a caller mirroring it treats the error as "no cache" (and may report it).
 */
export function parseLdCache(bytes: Buffer, displayPath: string, options: ParseLdCacheOptions = {}): LdCache {
  const hint = options.byteOrder ?? 'little';
  const probe = new CacheImage(bytes, displayPath, hint);
  if (probe.startsWith(0, NEW_MAGIC)) return parseNew(bytes, displayPath, 0, 'new', hint);
  if (!probe.startsWith(0, OLD_MAGIC)) {
    probe.fail('magic', 0, 'not an ld.so.cache: it starts with neither "glibc-ld.so.cache1.1" nor "ld.so-1.7.0"');
  }
  const nlibs = probe.u32(12, 'nlibs');
  // Same overflow-free corruption check as ld.so: the entry array must fit in the file.
  if (nlibs > Math.floor((bytes.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE)) {
    probe.fail('nlibs', 12, `old-format header claims ${nlibs} entries, more than the file holds`);
  }
  const entriesEnd = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;
  // ALIGN_CACHE uses __alignof__ (struct cache_file_new): 8 on 64-bit ABIs, 4 on i386. ldconfig pads the
  // old entry count to even so both agree; an odd count from another writer is found either way.
  for (const align of [8, 4]) {
    const at = Math.ceil(entriesEnd / align) * align;
    if (bytes.length >= at + NEW_HEADER_SIZE && probe.startsWith(at, NEW_MAGIC)) {
      return parseNew(bytes, displayPath, at, 'old+new', hint);
    }
  }
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
    entries.push({
      name: probe.cString(entriesEnd + probe.u32(at + 4, 'key'), 'key'),
      path: probe.cString(entriesEnd + probe.u32(at + 8, 'value'), 'value'),
      flags: probe.i32(at, 'flags'),
      hwcap: 0n,
      extension: false,
      isaLevel: 0,
      index: i,
    });
  }
  return { path: displayPath, format: 'old', byteOrder: hint, entries, hwcapsNames: [] };
}

function parseNew(bytes: Buffer, displayPath: string, base: number, format: LdCacheFormat, hint: ByteOrder): LdCache {
  const probe = new CacheImage(bytes, displayPath, hint);
  probe.need(base, NEW_HEADER_SIZE, 'header');
  // dl-cache.h cache_file_new_matches_endian: 0 means "not recorded"; only the low two bits count.
  const endian = (bytes[base + 28] ?? 0) & 3;
  if (endian === ENDIAN_INVALID) probe.fail('flags', base + 28, 'the cache marks itself invalid (endianness 1)');
  const order: ByteOrder = endian === ENDIAN_UNSET ? hint : endian === ENDIAN_LITTLE ? 'little' : 'big';
  const img = new CacheImage(bytes, displayPath, order);
  const nlibs = img.u32(base + 20, 'nlibs');
  if (nlibs > Math.floor((bytes.length - base - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE)) {
    img.fail('nlibs', base + 20, `header claims ${nlibs} entries, more than the file holds`);
  }
  const ext = readExtensions(img, img.u32(base + 32, 'extension_offset'));
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = base + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const hwcap = img.u64(at + 16, 'hwcap');
    const entry: LdCacheEntry = {
      name: img.cString(base + img.u32(at + 4, 'key'), 'key'),
      path: img.cString(base + img.u32(at + 8, 'value'), 'value'),
      flags: img.i32(at, 'flags'),
      hwcap,
      extension: isHwcapExtension(hwcap),
      isaLevel: 0,
      index: i,
    };
    if (entry.extension) {
      entry.isaLevel = Number((hwcap >> 32n) & ISA_LEVEL_MASK);
      const name = ext.hwcapsNames[Number(hwcap & 0xffffffffn)];
      if (name !== undefined) entry.hwcaps = name;
    }
    entries.push(entry);
  }
  const cache: LdCache = { path: displayPath, format, byteOrder: order, entries, hwcapsNames: ext.hwcapsNames };
  if (ext.generator !== undefined) cache.generator = ext.generator;
  return cache;
}

/** dl-cache.h dl_cache_hwcap_extension: bit 62 and nothing else above the ISA level bits. */
function isHwcapExtension(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~ISA_LEVEL_MASK) === DL_CACHE_HWCAP_EXTENSION >> 32n;
}

/**
 * dl-cache.h cache_extension_load and cache_extension_verify. Offsets in the directory and the hwcaps
 * string indices count from the start of the file (ld.so and `ldconfig -p` both read them so).
 */
function readExtensions(img: CacheImage, offset: number): { generator?: string; hwcapsNames: string[] } {
  const out: { generator?: string; hwcapsNames: string[] } = { hwcapsNames: [] };
  if (offset === 0) return out;
  const size = img.buf.length;
  if (offset % 4 !== 0) img.fail('extension_offset', offset, 'extension directory is not 4-byte aligned');
  img.need(offset, EXTENSION_HEADER_SIZE, 'extension directory');
  if (img.u32(offset, 'extension magic') !== EXTENSION_MAGIC) img.fail('extension magic', offset, 'extension directory has the wrong magic');
  const count = img.u32(offset + 4, 'extension count');
  if (count > Math.floor((size - offset - EXTENSION_HEADER_SIZE) / EXTENSION_SECTION_SIZE)) {
    img.fail('extension count', offset + 4, `extension directory claims ${count} sections, more than the file holds`);
  }
  const sections = new Map<number, { offset: number; size: number }>();
  for (let i = 0; i < count; i++) {
    const at = offset + EXTENSION_HEADER_SIZE + i * EXTENSION_SECTION_SIZE;
    const tag = img.u32(at, 'extension tag');
    const secOffset = img.u32(at + 8, 'extension section offset');
    const secSize = img.u32(at + 12, 'extension section size');
    if (secOffset + secSize > size) img.fail('extension section', at, `extension section ${i} (${secSize} bytes at ${secOffset}) lies outside the file`);
    // Unknown tags are skipped; a repeated tag replaces the earlier one, as in cache_extension_load.
    if (tag === TAG_GENERATOR || tag === TAG_GLIBC_HWCAPS) sections.set(tag, { offset: secOffset, size: secSize });
  }
  const generator = sections.get(TAG_GENERATOR);
  if (generator) out.generator = img.buf.toString('utf8', generator.offset, generator.offset + generator.size);
  const hwcaps = sections.get(TAG_GLIBC_HWCAPS);
  // cache_extension_verify drops (does not reject) an empty or misaligned hwcaps section.
  if (hwcaps && hwcaps.size > 0 && hwcaps.offset % 4 === 0 && hwcaps.size % 4 === 0) {
    for (let at = hwcaps.offset; at < hwcaps.offset + hwcaps.size; at += 4) {
      // An index past the file would send ld.so's glibc_hwcaps_priorities_init into an endless loop
      // writing past its array; refuse the file instead.
      out.hwcapsNames.push(img.cString(img.u32(at, 'glibc-hwcaps name'), 'glibc-hwcaps name'));
    }
  }
  return out;
}

/** Reads and parses the cache at `path` inside `root`; undefined when there is no such file. */
export function readLdCache(root: SysRoot, path: string = LD_SO_CACHE, options: ParseLdCacheOptions = {}): LdCache | undefined {
  const bytes = root.readBytes(path, MAX_LD_CACHE_BYTES);
  return bytes === undefined ? undefined : parseLdCache(bytes, path, options);
}

/**
 * dl-cache.c _dl_cache_libcmp: strcmp, except that digit runs compare as numbers ("libfoo.so.10" sorts
 * after "libfoo.so.9", and "libfoo.so.01" equals "libfoo.so.1"). Characters compare as C `char`, signed
 * on x86 and unsigned on ARM, POWER, s390 and RISC-V; only names with bytes above 0x7f notice. Integer
 * overflow in long digit runs wraps as it does in the C code.
 */
export function dlCacheLibcmp(a: string, b: string, unsignedChar = false): number {
  return libcmpBytes(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'), unsignedChar);
}

function libcmpBytes(p1: Uint8Array, p2: Uint8Array, unsignedChar: boolean): number {
  const at = (s: Uint8Array, k: number): number => (k < s.length ? (s[k] ?? 0) : 0);
  const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
  const asChar = (c: number): number => (unsignedChar || c < 0x80 ? c : c - 256);
  let i = 0;
  let j = 0;
  while (at(p1, i) !== 0) {
    const c1 = at(p1, i);
    const c2 = at(p2, j);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      let v1 = c1 - 0x30;
      let v2 = c2 - 0x30;
      i++;
      j++;
      while (isDigit(at(p1, i))) v1 = (Math.imul(v1, 10) + at(p1, i++) - 0x30) | 0;
      while (isDigit(at(p2, j))) v2 = (Math.imul(v2, 10) + at(p2, j++) - 0x30) | 0;
      if (v1 !== v2) return (v1 - v2) | 0;
    } else if (isDigit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return asChar(c1) - asChar(c2);
    } else {
      i++;
      j++;
    }
  }
  return 0 - asChar(at(p2, j));
}

/**
 * A key equal for exactly the names _dl_cache_libcmp calls equal: the same non-digit bytes and the
 * same (int-wrapped) digit-run values in the same places. NUL cannot occur in a C string, so it
 * delimits the numbers unambiguously.
 */
function libcmpKey(name: string): string {
  return name.replace(/[0-9]+/g, (run) => {
    let v = 0;
    for (const ch of run) v = (Math.imul(v, 10) + ch.charCodeAt(0) - 0x30) | 0;
    return `\0${v}\0`;
  });
}

export type { CacheFlagsRule, AbiVariant } from './arch/table.js';

/**
 * The cache flags the ld.so for this class, machine and ABI accepts (glibc 2.36's sysdeps/unix/sysv/
 * linux/<arch>/dl-cache.h, as the architecture table records them). Ports without their own header
 * (i386, 32-bit POWER and s390, m68k, LoongArch, …) use the generic rule: FLAG_ELF or FLAG_ELF_LIBC6.
 */
export function expectedCacheFlags(elfClass: ElfClass, machine: number, variant: AbiVariant = {}): CacheFlagsRule {
  return cacheFlagsFor(elfClass, machine, variant);
}

/** cache.c print_entry: the text in parentheses of an `ldconfig -p` line, without the hwcap part. */
export function describeCacheFlags(flags: number): string {
  const type = ['libc4', 'ELF', 'libc5', 'libc6'][flags & FLAG_TYPE_MASK] ?? 'unknown';
  const required = flags & FLAG_REQUIRED_MASK;
  const abi: Record<number, string> = {
    [FLAG_SPARC_LIB64]: ',64bit',
    [FLAG_IA64_LIB64]: ',IA-64',
    [FLAG_X8664_LIB64]: ',x86-64',
    [FLAG_S390_LIB64]: ',64bit',
    [FLAG_POWERPC_LIB64]: ',64bit',
    [FLAG_MIPS64_LIBN32]: ',N32',
    [FLAG_MIPS64_LIBN64]: ',64bit',
    [FLAG_X8664_LIBX32]: ',x32',
    [FLAG_ARM_LIBHF]: ',hard-float',
    [FLAG_AARCH64_LIB64]: ',AArch64',
    [FLAG_ARM_LIBSF]: ',soft-float',
    [FLAG_MIPS_LIB32_NAN2008]: ',nan2008',
    [FLAG_MIPS64_LIBN32_NAN2008]: ',N32,nan2008',
    [FLAG_MIPS64_LIBN64_NAN2008]: ',64bit,nan2008',
    [FLAG_RISCV_FLOAT_ABI_SOFT]: ',soft-float',
    [FLAG_RISCV_FLOAT_ABI_DOUBLE]: ',double-float',
    0: '',
  };
  return type + (abi[required] ?? `,${required}`);
}

/** cache.c print_entry: one line of `ldconfig -p`, without the leading tab and the newline. */
export function formatCacheEntry(entry: LdCacheEntry): string {
  let hw = '';
  if (entry.hwcaps !== undefined) hw = `, hwcap: "${entry.hwcaps}"`;
  else if (entry.hwcap !== 0n) hw = `, hwcap: 0x${entry.hwcap.toString(16).padStart(16, '0')}`;
  return `${entry.name} (${describeCacheFlags(entry.flags)}${hw}) => ${entry.path}`;
}

/**
 * The loader a lookup is for. LoaderTarget (target.ts) fits: only these fields are read.
 */
export interface LdCacheTarget {
  elfClass: ElfClass;
  machine: number;
  /** Active glibc-hwcaps subdirectory names, best first: the order ld.so gives them priorities in. */
  hwcaps: readonly string[];
  /** GLRO(dl_platform), for legacy platform entries ("haswell", "xeon_phi", "i686", …). */
  platform?: string;
  /** Legacy hwcap subdirectories ld.so searches ("tls/haswell/avx512_1/x86_64", …): which hwcap bits are on. */
  legacyHwcapDirs?: readonly string[];
  /** The loader's path, which tells ARM hard- from soft-float and the RISC-V float ABI. */
  interpreter?: string;
  /** The architecture row (LoaderTarget has it); found from class, machine and interpreter when absent. */
  arch?: ArchRow;
  byteOrder?: ByteOrder;
  /** The glibc release's rules (LoaderTarget has them); default 2.36's. */
  glibc?: { cacheLegacyHwcapEntries: boolean };
}

/** The legacy (pre-glibc-hwcaps) hwcap test of search_cache. */
export interface LegacyHwcapRule {
  /** GLRO(dl_hwcap) & GET_HWCAP_MASK (): the hwcap bits an entry may carry. */
  hwcap: bigint;
  /** _DL_HWCAP_PLATFORM: the bits that name a platform (0n where ld.so checks none). */
  platformMask: bigint;
  /** 1 << _dl_string_platform (GLRO(dl_platform)); undefined when the platform has no bit. */
  platform?: bigint;
}

export interface LookupLdCacheOptions {
  /** Overrides the flags rule derived from the target's class and machine. */
  flags?: CacheFlagsRule;
  /**
   * The CPU's GNU_PROPERTY_X86_ISA_1 bits (baseline 1, v2 2, v3 4, v4 8) for dl-isa-level.h's check of
   * hwcaps entries; null turns the check off (every port but x86 has none). Default on x86: derived from
   * the active x86-64-vN names in target.hwcaps.
   */
  isa1?: number | null;
  /** Overrides the legacy hwcap rule derived from the target (x86 only; elsewhere legacy bits are refused). */
  legacyHwcap?: LegacyHwcapRule;
}

export interface LdCacheLookup {
  /** The file ld.so tries for the name, or undefined when the cache has no entry it would take. */
  path: string | undefined;
  entry: LdCacheEntry | undefined;
  /** Every entry with the name (equal under _dl_cache_libcmp), in cache order. */
  candidates: LdCacheEntry[];
  /** The candidates whose flags this ld.so accepts: every hwcaps variant and the baseline. */
  usable: LdCacheEntry[];
}

/** sysdeps/x86/get-isa-level.h, as the active x86-64-vN subdirectories reveal it (each level implies those below). */
function x86Isa1(target: LdCacheTarget): number {
  let isa1 = 1;
  for (const name of target.hwcaps) {
    const m = /^x86-64-v([2-4])$/.exec(name);
    if (m) isa1 |= (1 << Number(m[1])) - 1;
  }
  return isa1;
}

/**
 * sysdeps/x86/cpu-features.c and dl-hwcap.h: on x86-64 dl_hwcap is HWCAP_X86_64 (bit 1) plus
 * HWCAP_X86_AVX512_1 (bit 2) on AVX-512 Intel CPUs, and the platforms haswell and xeon_phi are bits 50
 * and 51 of the four platform bits starting at 48; on i386 it is HWCAP_X86_SSE2 (bit 0) and i586/i686
 * at 48/49. Other ports: no legacy bit is acceptable (their ldconfig writes none on Debian).
 */
export function legacyHwcapRule(target: LdCacheTarget): LegacyHwcapRule {
  const components = new Set((target.legacyHwcapDirs ?? []).flatMap((d) => d.split('/')));
  const cpu = archOfLoader(target).cpu;
  if (cpu === 'x86-64') {
    const platformBit = target.platform === 'haswell' ? 50n : target.platform === 'xeon_phi' ? 51n : undefined;
    const rule: LegacyHwcapRule = { hwcap: 2n | (components.has('avx512_1') ? 4n : 0n), platformMask: 0xfn << 48n };
    if (platformBit !== undefined) rule.platform = 1n << platformBit;
    return rule;
  }
  if (cpu === 'i386') {
    const platformBit = target.platform === 'i686' ? 49n : target.platform === 'i586' ? 48n : undefined;
    const rule: LegacyHwcapRule = { hwcap: components.has('sse2') ? 1n : 0n, platformMask: 0x3n << 48n };
    if (platformBit !== undefined) rule.platform = 1n << platformBit;
    return rule;
  }
  return { hwcap: 0n, platformMask: 0n };
}

/**
 * dl-cache.c glibc_hwcaps_priorities_init: merges the cache's hwcaps names (sorted by ldconfig) with
 * the active names sorted by name; a name's priority is its position in the active list plus one, 0
 * meaning "not active". An unsorted cache gets the same wrong answers as ld.so gives it.
 */
function hwcapsPriorities(cacheNames: readonly string[], active: readonly string[]): number[] {
  const right = active
    .map((name, i) => ({ name: Buffer.from(name, 'utf8'), priority: i + 1 }))
    .sort((a, b) => Buffer.compare(a.name, b.name));
  const out: number[] = [];
  let r = 0;
  for (const name of cacheNames) {
    const left = Buffer.from(name, 'utf8');
    let priority = 0;
    while (r < right.length) {
      const cand = right[r];
      if (!cand) break;
      const cmp = Buffer.compare(left, cand.name);
      if (cmp > 0) {
        r++;
        continue;
      }
      if (cmp === 0) {
        priority = cand.priority;
        r++;
      }
      break;
    }
    out.push(priority);
  }
  return out;
}

const candidateIndex = new WeakMap<LdCache, Map<string, LdCacheEntry[]>>();

function candidatesOf(cache: LdCache, name: string): LdCacheEntry[] {
  let index = candidateIndex.get(cache);
  if (!index) {
    index = new Map();
    for (const e of cache.entries) {
      const key = libcmpKey(e.name);
      const list = index.get(key);
      if (list) list.push(e);
      else index.set(key, [e]);
    }
    candidateIndex.set(cache, index);
  }
  return [...(index.get(libcmpKey(name)) ?? [])];
}

/**
 * dl-cache.c search_cache, for the loader described by `target`: the binary search over ldconfig's
 * order, then, among the entries with the name, the best-priority glibc-hwcaps entry that is active and
 * ISA-compatible, else the first entry with acceptable flags and legacy hwcap bits. ld.so consults the
 * cache only for names without a slash, after RPATH, LD_LIBRARY_PATH and RUNPATH; that is the caller's rule.
 */
/** What a lookup derives from the target alone: computed once per target, not once per name. */
interface LookupRules {
  rule: CacheFlagsRule;
  accepted: Set<number>;
  isa1: number | null;
  legacy: LegacyHwcapRule;
  exclude: bigint;
  unsignedChar: boolean;
  legacyEntries: boolean;
}

const defaultRules = new WeakMap<LdCacheTarget, LookupRules>();
const entryNameBytes = new WeakMap<LdCache, (Buffer | undefined)[]>();

function lookupRules(target: LdCacheTarget, options: LookupLdCacheOptions): LookupRules {
  const plain = options.flags === undefined && options.isa1 === undefined && options.legacyHwcap === undefined;
  const known = plain ? defaultRules.get(target) : undefined;
  if (known) return known;
  const arch = archOfLoader(target);
  const rule = options.flags ?? arch.cacheFlags;
  const legacy = options.legacyHwcap ?? legacyHwcapRule(target);
  const rules: LookupRules = {
    rule,
    accepted: new Set(rule.accepted),
    // dl-isa-level.h: only x86 checks an entry's ISA level.
    isa1: options.isa1 === undefined ? (arch.cpu !== undefined ? x86Isa1(target) : null) : options.isa1,
    legacy,
    exclude: ~(legacy.hwcap | legacy.platformMask | HWCAP_TLS) & U64_MASK,
    unsignedChar: arch.unsignedChar,
    legacyEntries: target.glibc?.cacheLegacyHwcapEntries ?? true,
  };
  if (plain) defaultRules.set(target, rules);
  return rules;
}

export function lookupLdCache(cache: LdCache, soname: string, target: LdCacheTarget, options: LookupLdCacheOptions = {}): LdCacheLookup {
  const { rule, accepted, isa1, legacy, exclude, unsignedChar, legacyEntries } = lookupRules(target, options);
  const isNew = cache.format !== 'old';
  const name = Buffer.from(soname, 'utf8');
  const entries = cache.entries;
  let names = entryNameBytes.get(cache);
  if (!names) {
    names = new Array<Buffer | undefined>(entries.length);
    entryNameBytes.set(cache, names);
  }
  const nameAt = (i: number): Buffer => (names[i] ??= Buffer.from(entries[i]?.name ?? '', 'utf8'));
  const cmpAt = (i: number): number => libcmpBytes(name, nameAt(i), unsignedChar);
  let priorities: number[] | undefined;
  const priorityOf = (e: LdCacheEntry): number => {
    priorities ??= hwcapsPriorities(cache.hwcapsNames, target.hwcaps);
    return priorities[Number(e.hwcap & 0xffffffffn)] ?? 0;
  };
  const isaCompatible = (e: LdCacheEntry): boolean => {
    if (isa1 === null) return true;
    // dl-isa-level.h: 1 << level as a C int shift (the count wraps at 32 on x86).
    const bit = (1 << e.isaLevel) >>> 0;
    return ((bit & isa1) >>> 0) === bit;
  };

  let best: LdCacheEntry | undefined;
  let bestPriority = 0;
  let left = 0;
  let right = entries.length - 1;
  while (left <= right) {
    let middle = Math.floor((left + right) / 2);
    const cmp = cmpAt(middle);
    if (cmp === 0) {
      left = middle;
      while (middle > 0 && cmpAt(middle - 1) === 0) middle--;
      do {
        const e = entries[middle];
        if (!e || (middle > left && cmpAt(middle) !== 0)) break;
        if (!accepted.has(e.flags)) continue;
        let named = false;
        if (isNew) {
          named = e.extension;
          if (named && !isaCompatible(e)) continue;
          // Extension entries sort first; the first plain entry after a hwcaps match ends the search.
          if (!named && best !== undefined) break;
          if (!legacyEntries) {
            // glibc 2.40 (c5aa5fd40adc): a plain entry with any hwcap bit is a legacy one, skipped.
            if (!named && e.hwcap !== 0n) continue;
          } else {
            if (!named && (e.hwcap & exclude) !== 0n) continue;
            const platformBits = e.hwcap & legacy.platformMask;
            if (platformBits !== 0n && platformBits !== legacy.platform) continue;
          }
          if (named) {
            const priority = priorityOf(e);
            if (priority === 0) continue;
            if (best !== undefined && priority >= bestPriority) continue;
            bestPriority = priority;
          }
        }
        best = e;
        if (!named && e.flags === rule.defaultId) break;
      } while (++middle <= right);
      break;
    }
    if (cmp < 0) left = middle + 1;
    else right = middle - 1;
  }

  const candidates = candidatesOf(cache, soname);
  return {
    path: best?.path,
    entry: best,
    candidates,
    usable: candidates.filter((e) => accepted.has(e.flags)),
  };
}

/** One library for the writer. Parsed entries fit too: their hwcap is recomputed from `hwcaps`. */
export interface LdCacheInput {
  name: string;
  path: string;
  flags: number;
  /** glibc-hwcaps subdirectory name: makes this an extension entry. */
  hwcaps?: string;
  /** ISA level of an extension entry (0–1023; x86: highest GNU_PROPERTY_X86_ISA_1_NEEDED bit). */
  isaLevel?: number;
  /** Legacy hwcap bits of a plain entry (ignored when `hwcaps` is set). */
  hwcap?: bigint;
}

export interface BuildLdCacheOptions {
  /** Default 'little'. */
  byteOrder?: ByteOrder;
  /** Sort as an ldconfig whose C `char` is unsigned would (ARM, POWER, s390, RISC-V). Default false. */
  unsignedChar?: boolean;
  /** What the built cache calls itself in errors and its `path`. */
  path?: string;
  /** The generator string; null for none. Default "elfcopy". */
  generator?: string | null;
}

function popcount64(v: bigint): number {
  let n = 0;
  for (let x = v & U64_MASK; x !== 0n; x >>= 1n) if (x & 1n) n++;
  return n;
}

/**
 * Builds the cache ldconfig would write for these libraries: entries in cache.c `compare` order (stable,
 * like add_to_cache's insertion), glibc-hwcaps names indexed in strcmp order, extension hwcap values as
 * compute_hwcap_value makes them.
 */
export function buildLdCache(inputs: readonly LdCacheInput[], options: BuildLdCacheOptions = {}): LdCache {
  const where = options.path ?? '<built ld.so.cache>';
  const unsignedChar = options.unsignedChar ?? false;
  for (const input of inputs) {
    for (const [field, value] of [['name', input.name], ['path', input.path], ['hwcaps', input.hwcaps ?? '']] as const) {
      if (value.includes('\0')) throw new LdCacheWriteError(where, `${field} ${JSON.stringify(value)} contains a NUL byte`);
    }
    const isa = input.isaLevel ?? 0;
    if (!Number.isInteger(isa) || isa < 0 || BigInt(isa) > ISA_LEVEL_MASK) {
      throw new LdCacheWriteError(where, `${input.path}: ISA level ${isa} is outside 0..${ISA_LEVEL_MASK}`);
    }
    if (!Number.isInteger(input.flags) || input.flags < -0x80000000 || input.flags > 0x7fffffff) {
      throw new LdCacheWriteError(where, `${input.path}: flags ${input.flags} do not fit an int32`);
    }
  }
  const keyed = inputs.map((input) => ({
    input,
    key: Buffer.from(input.name, 'utf8'),
    hwcap: input.hwcaps === undefined ? (input.hwcap ?? 0n) & U64_MASK : 0n,
  }));
  // cache.c compare: names descending (the loader's binary search expects it), then flags descending,
  // hwcaps entries before plain ones and among themselves by subdirectory name, then more hwcap bits first.
  keyed.sort((e1, e2) => {
    const res = libcmpBytes(e2.key, e1.key, unsignedChar);
    if (res !== 0) return res;
    if (e1.input.flags !== e2.input.flags) return e1.input.flags > e2.input.flags ? -1 : 1;
    const h1 = e1.input.hwcaps;
    const h2 = e2.input.hwcaps;
    if (h1 !== undefined && h2 === undefined) return -1;
    if (h1 === undefined && h2 !== undefined) return 1;
    if (h1 !== undefined && h2 !== undefined) {
      const byName = Buffer.compare(Buffer.from(h1, 'utf8'), Buffer.from(h2, 'utf8'));
      if (byName !== 0) return byName;
    }
    const bits = popcount64(e2.hwcap) - popcount64(e1.hwcap);
    if (bits !== 0) return bits;
    return e2.hwcap > e1.hwcap ? 1 : e2.hwcap < e1.hwcap ? -1 : 0;
  });
  const hwcapsNames = [...new Set(inputs.flatMap((i) => (i.hwcaps === undefined ? [] : [i.hwcaps])))].sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')),
  );
  const hwcapsIndex = new Map(hwcapsNames.map((n, i) => [n, i]));
  const entries = keyed.map(({ input, hwcap }, index): LdCacheEntry => {
    const entry: LdCacheEntry = { name: input.name, path: input.path, flags: input.flags, hwcap, extension: false, isaLevel: 0, index };
    const hwIndex = input.hwcaps === undefined ? undefined : hwcapsIndex.get(input.hwcaps);
    if (input.hwcaps !== undefined && hwIndex !== undefined) {
      entry.isaLevel = input.isaLevel ?? 0;
      entry.hwcap = DL_CACHE_HWCAP_EXTENSION | (BigInt(entry.isaLevel) << 32n) | BigInt(hwIndex);
      entry.extension = true;
      entry.hwcaps = input.hwcaps;
    } else {
      entry.extension = isHwcapExtension(hwcap);
    }
    return entry;
  });
  const cache: LdCache = { path: where, format: 'new', byteOrder: options.byteOrder ?? 'little', entries, hwcapsNames };
  const generator = options.generator === undefined ? 'elfcopy' : options.generator;
  if (generator !== null) cache.generator = generator;
  return cache;
}

/**
 * The bytes of `cache` in the new format, entries in the order given (buildLdCache sorts them). Layout
 * as cache.c save_cache writes it: header, entries, strings (offsets from the header), then at the next
 * 4-byte boundary the extension directory, the hwcaps index array and the generator string.
 */
export function serializeLdCache(cache: LdCache): Buffer {
  const little = cache.byteOrder === 'little';
  const n = cache.entries.length;
  const stringsBase = NEW_HEADER_SIZE + n * NEW_ENTRY_SIZE;
  const chunks: Buffer[] = [];
  const offsets = new Map<string, number>();
  let stringsSize = 0;
  const intern = (s: string): number => {
    let off = offsets.get(s);
    if (off === undefined) {
      const bytes = Buffer.from(s + '\0', 'utf8');
      off = stringsBase + stringsSize;
      offsets.set(s, off);
      chunks.push(bytes);
      stringsSize += bytes.length;
    }
    return off;
  };
  const entryOffsets = cache.entries.map((e) => ({ key: intern(e.name), value: intern(e.path) }));
  const hwcapsOffsets = cache.hwcapsNames.map(intern);
  const generator = cache.generator === undefined ? undefined : Buffer.from(cache.generator, 'utf8');
  const sectionCount = (generator ? 1 : 0) + (hwcapsOffsets.length > 0 ? 1 : 0);
  const extensionOffset = sectionCount === 0 ? 0 : Math.ceil((stringsBase + stringsSize) / 4) * 4;
  const directorySize = EXTENSION_HEADER_SIZE + sectionCount * EXTENSION_SECTION_SIZE;
  const hwcapsSize = hwcapsOffsets.length * 4;
  const total = sectionCount === 0 ? stringsBase + stringsSize : extensionOffset + directorySize + hwcapsSize + (generator?.length ?? 0);
  if (total > 0xffffffff) throw new LdCacheWriteError(cache.path, `the cache would be ${total} bytes, more than 32-bit offsets reach`);

  const out = Buffer.alloc(total);
  const u32 = (v: number, at: number): void => void (little ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
  NEW_MAGIC.copy(out, 0);
  u32(n, 20);
  u32(stringsSize, 24);
  out[28] = little ? ENDIAN_LITTLE : 3;
  u32(extensionOffset, 32);
  cache.entries.forEach((e, i) => {
    const at = NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const offs = entryOffsets[i];
    if (!offs) return;
    if (little) out.writeInt32LE(e.flags, at);
    else out.writeInt32BE(e.flags, at);
    u32(offs.key, at + 4);
    u32(offs.value, at + 8);
    if (little) out.writeBigUInt64LE(e.hwcap & U64_MASK, at + 16);
    else out.writeBigUInt64BE(e.hwcap & U64_MASK, at + 16);
  });
  Buffer.concat(chunks).copy(out, stringsBase);
  if (sectionCount > 0) {
    u32(EXTENSION_MAGIC, extensionOffset);
    u32(sectionCount, extensionOffset + 4);
    let section = extensionOffset + EXTENSION_HEADER_SIZE;
    const hwcapsAt = extensionOffset + directorySize;
    const generatorAt = hwcapsAt + hwcapsSize;
    if (generator) {
      u32(TAG_GENERATOR, section);
      u32(generatorAt, section + 8);
      u32(generator.length, section + 12);
      section += EXTENSION_SECTION_SIZE;
      generator.copy(out, generatorAt);
    }
    if (hwcapsOffsets.length > 0) {
      u32(TAG_GLIBC_HWCAPS, section);
      u32(hwcapsAt, section + 8);
      u32(hwcapsSize, section + 12);
      hwcapsOffsets.forEach((off, i) => u32(off, hwcapsAt + i * 4));
    }
  }
  return out;
}

/** buildLdCache then serializeLdCache: a file `ldconfig -p -C FILE` and ld.so read as ldconfig's own. */
export function writeLdCache(entries: readonly LdCacheInput[], options: BuildLdCacheOptions = {}): Buffer {
  return serializeLdCache(buildLdCache(entries, options));
}
