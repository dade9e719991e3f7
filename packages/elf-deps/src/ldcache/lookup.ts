/**
 * ld.so.cache searched the way glibc 2.36's loader searches it: elf/dl-cache.c search_cache and
 * glibc_hwcaps_priorities_init, with the flags each port accepts (its dl-cache.h, in the arch table).
 */
import { archOfLoader, cacheFlagsFor, type AbiVariant, type ArchRow, type CacheFlagsRule } from '../arch/table.js';
import type { ByteOrder, ElfClass } from '../elf/fields.js';
import { HWCAP_TLS, U64_MASK, type LdCache, type LdCacheEntry } from './format.js';
import { isPlainName, libcmpBytes, libcmpKey, regularSpelling } from './libcmp.js';
import { lazyImageOf } from './lazy-image.js';

export type { CacheFlagsRule, AbiVariant } from '../arch/table.js';

/**
 * The cache flags the ld.so for this class, machine and ABI accepts (glibc 2.36's sysdeps/unix/sysv/
 * linux/<arch>/dl-cache.h, as the architecture table records them). Ports without their own header
 * (i386, 32-bit POWER and s390, m68k, LoongArch, …) use the generic rule: FLAG_ELF or FLAG_ELF_LIBC6.
 */
export function expectedCacheFlags(elfClass: ElfClass, machine: number, variant: AbiVariant = {}): CacheFlagsRule {
  return cacheFlagsFor(elfClass, machine, variant);
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
  const rules = lookupRules(target, options);
  return lookupPlain(cache, soname, target, rules) ?? lookupDecoded(cache, soname, Buffer.from(soname, 'utf8'), target, rules);
}

/**
 * The lookup over a lazy image (lazy-image.ts), or undefined where it does not answer: a cache parse.ts
 * did not make, a name that is not plain (libcmp.ts isPlainName), or a key libcmpPlain cannot compare.
 * lookupLdCache then searches the decoded entries; tests check the two agree.
 */
export function lookupLdCachePlain(cache: LdCache, soname: string, target: LdCacheTarget, options: LookupLdCacheOptions = {}): LdCacheLookup | undefined {
  return lookupPlain(cache, soname, target, lookupRules(target, options));
}

/**
 * The entry search_cache takes among `at(first)`, `at(first + 1)`, … (the entries equal to the name; the
 * binary search met `found`): the best-priority active and ISA-compatible glibc-hwcaps entry, else the first plain
 * entry with acceptable flags and legacy hwcap bits. `equal(i)` says whether entry i still has the name.
 */
function pickEntry(cache: LdCache, target: LdCacheTarget, rules: LookupRules, first: number, found: number, right: number, at: (i: number) => LdCacheEntry | undefined, equal: (i: number) => boolean): LdCacheEntry | undefined {
  const { rule, accepted, isa1, legacy, exclude, legacyEntries } = rules;
  const isNew = cache.format !== 'old';
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
  let middle = first;
  do {
    // search_cache compares again only past the entry the binary search met.
    if (middle > found && !equal(middle)) break;
    const e = at(middle);
    if (e === undefined) break;
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
  return best;
}

/**
 * search_cache's binary search over `count` sorted entries, `cmp(i)` comparing the name with entry i:
 * the run of entries equal to it — its first, the one the search met, and the search's right bound then
 * (pickEntry walks up to it) —, null when none is, undefined as soon as `cmp` answers NaN (cannot tell).
 */
function searchRun(count: number, cmp: (i: number) => number): { first: number; found: number; right: number } | null | undefined {
  let left = 0;
  let right = count - 1;
  while (left <= right) {
    const middle = Math.floor((left + right) / 2);
    const c = cmp(middle);
    if (Number.isNaN(c)) return undefined;
    if (c === 0) {
      let first = middle;
      for (; first > 0; first--) {
        const before = cmp(first - 1);
        if (Number.isNaN(before)) return undefined;
        if (before !== 0) break;
      }
      return { first, found: middle, right };
    }
    if (c < 0) left = middle + 1;
    else right = middle - 1;
  }
  return null;
}

/**
 * The lookup on a lazy image (lazy-image.ts) for a plain name: the same binary search over the key bytes
 * in the file, decoding only the entries with the name.
 */
function lookupPlain(cache: LdCache, soname: string, target: LdCacheTarget, rules: LookupRules): LdCacheLookup | undefined {
  const image = lazyImageOf(cache);
  if (image === undefined || !isPlainName(soname) || !image.plainUsable()) return undefined;
  // The regular spelling and its NUL: what withName looks for, and where libcmpPlain stops (the two
  // spellings compare alike).
  const name = Buffer.from(`${regularSpelling(soname)}\0`, 'latin1');
  const run = searchRun(image.count, (i) => image.compare(name, i));
  if (run === undefined) return undefined;
  let best: LdCacheEntry | undefined;
  if (run !== null) {
    let plain = true;
    const equal = (i: number): boolean => {
      const c = image.compare(name, i);
      if (Number.isNaN(c)) plain = false;
      return c === 0;
    };
    best = pickEntry(cache, target, rules, run.first, run.found, run.right, (i) => image.entry(i), equal);
    if (!plain) return undefined;
  }
  // In a sorted cache every entry with the name is in the run the search found (none: no run); else,
  // or where the run's end cannot be told, wherever the name's bytes occur among the keys.
  let ids = image.knownSorted() ? (run === null ? [] : image.runFrom(name, run.first)) : undefined;
  if (ids === undefined) {
    const key = libcmpKey(soname);
    ids = image.withName(name, (i) => libcmpKey(image.entry(i).name) === key);
  }
  const candidates = ids.map((i) => image.entry(i));
  return {
    path: best?.path,
    entry: best,
    candidates,
    usable: candidates.filter((e) => rules.accepted.has(e.flags)),
  };
}

function lookupDecoded(cache: LdCache, soname: string, name: Buffer, target: LdCacheTarget, rules: LookupRules): LdCacheLookup {
  const entries = cache.entries;
  let names = entryNameBytes.get(cache);
  if (!names) {
    names = new Array<Buffer | undefined>(entries.length);
    entryNameBytes.set(cache, names);
  }
  const nameAt = (i: number): Buffer => (names[i] ??= Buffer.from(entries[i]?.name ?? '', 'utf8'));
  const cmpAt = (i: number): number => libcmpBytes(name, nameAt(i), rules.unsignedChar);
  // libcmpBytes always answers: the search never gives up here.
  const run = searchRun(entries.length, cmpAt);
  const best = run ? pickEntry(cache, target, rules, run.first, run.found, run.right, (i) => entries[i], (i) => cmpAt(i) === 0) : undefined;

  const candidates = candidatesOf(cache, soname);
  return {
    path: best?.path,
    entry: best,
    candidates,
    usable: candidates.filter((e) => rules.accepted.has(e.flags)),
  };
}
