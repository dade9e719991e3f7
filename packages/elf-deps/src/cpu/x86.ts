/**
 * An x86 CPU as glibc's loader sees it: which vendor kind cpu-features.c makes of its CPUID vendor
 * string, the ISA levels of sysdeps/x86/get-isa-level.h, and what init_cpu_features then sets —
 * GLRO(dl_platform) ("haswell", "xeon_phi", or the kernel's AT_PLATFORM) and the legacy hwcap bits
 * (HWCAP_X86_64, HWCAP_X86_AVX512_1, HWCAP_X86_SSE2). The CPU is described the way /proc/cpuinfo
 * describes it: a vendor_id and the kernel's feature flag names (the kernel lists a feature only when it
 * is usable, e.g. AVX only with OS XSAVE support, which is what glibc's CPU_FEATURE_USABLE tests).
 *
 * The rules are glibc 2.36's (release/2.36/master), with Debian's backport of 18bec23cbb ("x86: include
 * BMI1 and BMI2 in x86-64-v3 level"); they are unchanged up to 2.42 for everything modelled here.
 */
import * as fs from 'node:fs';
import { legacyHwcapSubdirs } from './legacy-hwcaps.js';

/** cpu-features.c enum cpu_features_kind (without arch_kind_unknown, which init_cpu_features never leaves). */
export type X86VendorKind = 'intel' | 'amd' | 'zhaoxin' | 'other';

/** A CPU as /proc/cpuinfo describes it. */
export interface CpuDescription {
  /** The CPUID vendor string ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls", "  Shanghai  "). */
  vendorId: string;
  /** The kernel's feature flag names ("avx2", "pni", "abm", …). */
  flags: ReadonlySet<string>;
}

/** The vendor strings init_cpu_features recognises, and the kind each gives. */
const VENDORS: ReadonlyMap<string, X86VendorKind> = new Map([
  ['GenuineIntel', 'intel'],
  ['AuthenticAMD', 'amd'],
  ['HygonGenuine', 'amd'],
  ['CentaurHauls', 'zhaoxin'],
  ['  Shanghai  ', 'zhaoxin'],
]);

/** The vendor strings, by the short names an option may give instead. */
export const VENDOR_IDS: ReadonlyMap<string, string> = new Map([
  ['intel', 'GenuineIntel'],
  ['amd', 'AuthenticAMD'],
  ['hygon', 'HygonGenuine'],
  ['centaur', 'CentaurHauls'],
  ['zhaoxin', '  Shanghai  '],
  ['other', 'OtherVendor!'],
]);

/** cpu-features.c init_cpu_features: the vendor kind of a CPUID vendor string (exact, 12 bytes). */
export function vendorKind(vendorId: string): X86VendorKind {
  return VENDORS.get(vendorId) ?? 'other';
}

/**
 * The first processor's vendor_id and flags in /proc/cpuinfo text. /proc/cpuinfo prints vendor_id
 * after "\t: " verbatim, so Zhaoxin's "  Shanghai  " keeps its blanks; only the line end is cut.
 */
export function parseCpuinfo(text: string): CpuDescription {
  let vendorId = '';
  let flags: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-z_ ]+?)\s*:\s?(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value = ''] = m;
    if (key === 'vendor_id' && vendorId === '') vendorId = value.replace(/\r$/, '');
    else if (key === 'flags' && flags === undefined) flags = value.trim().split(/\s+/).filter(Boolean);
    if (vendorId !== '' && flags !== undefined) break;
  }
  return { vendorId, flags: new Set(flags ?? []) };
}

let hostCache: CpuDescription | null | undefined;

/** This machine's CPU from /proc/cpuinfo; undefined on a non-x86 host or when it cannot be read. */
export function hostCpu(): CpuDescription | undefined {
  if (hostCache === undefined) {
    hostCache = null;
    if (process.arch === 'x64' || process.arch === 'ia32') {
      try {
        hostCache = parseCpuinfo(fs.readFileSync('/proc/cpuinfo', 'utf8'));
      } catch {
        hostCache = null;
      }
    }
  }
  return hostCache ?? undefined;
}

const has = (flags: ReadonlySet<string>, names: readonly string[]): boolean => names.every((n) => flags.has(n));

/**
 * Of the features the tests here read, those init_cpu_features still knows for an unknown vendor: it
 * calls get_common_indices without `family`, so leaf 1 (FPU, CMOV, SSE2, SSE3, AVX, …) is never read,
 * nor (no get_extended_indices) leaf 0x80000001 (LAHF64_SAHF64, LZCNT); only leaf 7 is, and of it
 * only what needs no AVX state. Such a CPU is not even baseline x86-64 to the loader.
 */
const OTHER_VENDOR_USABLE = ['bmi1', 'bmi2'];

function usableFlags(flags: ReadonlySet<string>, kind: X86VendorKind): ReadonlySet<string> {
  if (kind !== 'other') return flags;
  return new Set([...flags].filter((f) => OTHER_VENDOR_USABLE.includes(f)));
}

// get-isa-level.h, feature by feature, in /proc/cpuinfo's names: CMPXCHG16B is cx16, LAHF64_SAHF64
// lahf_lm, SSE3 pni, LZCNT abm.
const BASELINE = ['cmov', 'cx8', 'fpu', 'fxsr', 'mmx', 'sse', 'sse2'];
const V2 = ['cx16', 'lahf_lm', 'popcnt', 'pni', 'ssse3', 'sse4_1', 'sse4_2'];
const V3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe'];
const V4 = ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'];

/** The glibc-hwcaps subdirectory names of x86-64, best first (sysdeps/x86_64/dl-hwcaps-subdirs.c). */
export const X86_64_HWCAPS = ['x86-64-v4', 'x86-64-v3', 'x86-64-v2'] as const;

/**
 * get-isa-level.h get_isa_level: the highest x86-64 level (0 = not even baseline, 1 = baseline … 4 =
 * v4) of the usable features. Each level needs every one below it.
 */
export function x86IsaLevel(flags: ReadonlySet<string>): number {
  if (!has(flags, BASELINE)) return 0;
  if (!has(flags, V2)) return 1;
  if (!has(flags, V3)) return 2;
  if (!has(flags, V4)) return 3;
  return 4;
}

/**
 * dl-hwcaps-subdirs.c _dl_hwcaps_subdirs_active: the active glibc-hwcaps names, best first — the
 * levels from v2 up to the CPU's.
 */
export function x86_64ActiveHwcaps(flags: ReadonlySet<string>, kind: X86VendorKind = 'intel'): string[] {
  const level = x86IsaLevel(usableFlags(flags, kind));
  return X86_64_HWCAPS.filter((_, i) => level >= 4 - i);
}

/** What init_cpu_features leaves for the loader's search. */
export interface X86LoaderCpu {
  kind: X86VendorKind;
  /** GLRO(dl_platform): `$PLATFORM` and the platform legacy subdirectory. */
  platform: string;
  /** Legacy hwcap names in GLRO(dl_hwcap) & HWCAP_IMPORTANT, lowest bit first ("x86_64", "avx512_1"; i386: "sse2"). */
  hwcapNames: string[];
  /** Active glibc-hwcaps names, best first. */
  hwcaps: string[];
}

/**
 * cpu-features.c init_cpu_features, the __x86_64__ part (x86-64 and x32): HWCAP_X86_64 always; on
 * Intel only, "xeon_phi" with AVX512CD+ER+PF, else HWCAP_X86_AVX512_1 with AVX512CD+BW+DQ+VL (and no
 * ER), and "haswell" with AVX2, FMA, BMI1, BMI2, LZCNT, MOVBE and POPCNT when no platform was chosen.
 * Elsewhere the platform stays the kernel's AT_PLATFORM (`atPlatform`, "x86_64").
 */
export function x86_64LoaderCpu(cpu: CpuDescription, atPlatform = 'x86_64'): X86LoaderCpu {
  const kind = vendorKind(cpu.vendorId);
  const f = usableFlags(cpu.flags, kind);
  const hwcapNames = ['x86_64'];
  let platform: string | undefined;
  if (kind === 'intel') {
    // CPU_FEATURE_USABLE (AVX512CD) implies AVX512F: the kernel lists neither without AVX-512 state.
    if (has(f, ['avx512f', 'avx512cd'])) {
      if (f.has('avx512er')) {
        if (f.has('avx512pf')) platform = 'xeon_phi';
      } else if (has(f, ['avx512bw', 'avx512dq', 'avx512vl'])) {
        hwcapNames.push('avx512_1');
      }
    }
    if (platform === undefined && has(f, ['avx2', 'fma', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt'])) platform = 'haswell';
  }
  return { kind, platform: platform ?? atPlatform, hwcapNames, hwcaps: x86_64ActiveHwcaps(f, kind) };
}

/**
 * The i386 part: HWCAP_X86_SSE2 with SSE2; the platform "i686" with CMOV, else "i586" with CX8, else
 * the kernel's AT_PLATFORM. No glibc-hwcaps on i386.
 */
export function i386LoaderCpu(cpu: CpuDescription, atPlatform = 'i686'): X86LoaderCpu {
  const kind = vendorKind(cpu.vendorId);
  const f = usableFlags(cpu.flags, kind);
  return {
    kind,
    platform: f.has('cmov') ? 'i686' : f.has('cx8') ? 'i586' : atPlatform,
    hwcapNames: f.has('sse2') ? ['sse2'] : [],
    hwcaps: [],
  };
}

/** dl-hwcaps.c _dl_important_hwcaps (glibc ≤ 2.36): the legacy subdirectories for a platform and hwcap names. */
export function x86LegacyDirs(platform: string, hwcapNames: readonly string[]): string[] {
  return legacyHwcapSubdirs(['tls', platform, ...[...hwcapNames].reverse()]);
}
