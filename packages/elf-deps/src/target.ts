/**
 * What the target's loader is: its default interpreter, `$LIB`, `$PLATFORM`, system directories, and the
 * hwcaps subdirectories it searches. Defaults are glibc 2.36 as Debian 12 builds it; every field can be
 * overridden for a foreign sysroot.
 */
import * as fs from 'node:fs';
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64 } from './elf/constants.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import type { SysRoot } from './sysroot.js';

export interface LoaderTarget {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
  /** The loader a file without PT_INTERP is run with (ldd's RTLD). */
  interpreter: string;
  /** `$LIB` */
  lib: string;
  /** `$PLATFORM` (glibc's GLRO(dl_platform): on x86-64 "haswell" when the CPU qualifies). */
  platform: string;
  /** The built-in search path after ld.so.cache (rtld_search_dirs). */
  systemDirs: string[];
  /** Active glibc-hwcaps subdirectory names, best first (x86-64-v4, v3, v2 …). */
  hwcaps: string[];
  /** Every glibc-hwcaps name this machine has, active or not: variants in all of them are reported. */
  allHwcaps: string[];
  /** Legacy hwcap subdirectories (tls, platform, hwcap names) in search order, glibc ≤ 2.36. */
  legacyHwcapDirs: string[];
}

export type TargetOverrides = Partial<Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder'>>;

const X86_64_LEVELS: { name: string; flags: string[] }[] = [
  { name: 'x86-64-v4', flags: ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'] },
  { name: 'x86-64-v3', flags: ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'movbe', 'xsave', 'abm'] },
  { name: 'x86-64-v2', flags: ['cx16', 'lahf_lm', 'popcnt', 'sse4_1', 'sse4_2', 'ssse3'] },
];

let cpuFlagsCache: Set<string> | undefined;
/** The host CPU's feature flags from /proc/cpuinfo (empty when unreadable). */
export function hostCpuFlags(): Set<string> {
  if (cpuFlagsCache) return cpuFlagsCache;
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('flags'));
    cpuFlagsCache = new Set((line?.split(':')[1] ?? '').trim().split(/\s+/));
  } catch {
    cpuFlagsCache = new Set();
  }
  return cpuFlagsCache;
}

/** The x86-64 ISA levels this CPU supports, best first (each level needs the ones below it). */
export function hostX86Levels(flags: Set<string> = hostCpuFlags()): string[] {
  const out: string[] = [];
  for (let i = X86_64_LEVELS.length - 1; i >= 0; i--) {
    const level = X86_64_LEVELS[i]!;
    if (!level.flags.every((f) => flags.has(f))) break;
    out.unshift(level.name);
  }
  return out;
}

/**
 * dl-hwcaps.c (_dl_important_hwcaps, legacy part): every subset of [tls, platform, hwcap names…], most
 * specific first — counting down in binary with `tls` as the top bit.
 */
export function legacyHwcapSubdirs(components: string[]): string[] {
  const out: string[] = [];
  const n = components.length;
  for (let mask = (1 << n) - 1; mask > 0; mask--) {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) if (mask & (1 << (n - 1 - i))) parts.push(components[i]!);
    out.push(parts.join('/'));
  }
  return out;
}

function x86_64Target(flags: Set<string>): Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder'> {
  const levels = hostX86Levels(flags);
  // sysdeps/x86/cpu-features.c: dl_platform is "haswell" with AVX2, BMI1/2, LZCNT, MOVBE, POPCNT (and FMA).
  const haswell = ['avx2', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt', 'fma'].every((f) => flags.has(f));
  const xeonPhi = ['avx512er', 'avx512pf'].every((f) => flags.has(f));
  const platform = xeonPhi ? 'xeon_phi' : haswell ? 'haswell' : 'x86_64';
  const legacy = ['tls'];
  if (platform !== 'x86_64') legacy.push(platform);
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) legacy.push('avx512_1');
  legacy.push('x86_64');
  return {
    interpreter: '/lib64/ld-linux-x86-64.so.2',
    lib: 'lib/x86_64-linux-gnu',
    platform,
    systemDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'],
    hwcaps: levels,
    allHwcaps: X86_64_LEVELS.map((l) => l.name),
    legacyHwcapDirs: legacyHwcapSubdirs(legacy),
  };
}

function multiarch(triplet: string, interpreter: string, platform: string) {
  return {
    interpreter,
    lib: `lib/${triplet}`,
    platform,
    systemDirs: [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'],
    hwcaps: [] as string[],
    allHwcaps: [] as string[],
    legacyHwcapDirs: ['tls'],
  };
}

/**
 * The loader target for a file of this class and machine. The host CPU decides the hwcaps defaults only
 * when the target is the host's own architecture.
 */
export function targetFor(
  file: { elfClass: ElfClass; machine: number; byteOrder: ByteOrder },
  root?: SysRoot,
  overrides: TargetOverrides = {},
): LoaderTarget {
  const { elfClass, machine, byteOrder } = file;
  let base: Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder'>;
  if (machine === EM_X86_64 && elfClass === 64) {
    base = x86_64Target(process.arch === 'x64' ? hostCpuFlags() : new Set());
  } else if (machine === EM_386 && elfClass === 32) {
    // Debian amd64's libc6-i386 puts the 32-bit world in /lib32; a native i386 root is multiarch.
    const lib32 = root?.stat('/lib32/libc.so.6') ?? root?.stat('/usr/lib32/libc.so.6');
    base = lib32
      ? { ...multiarch('i386-linux-gnu', '/lib/ld-linux.so.2', 'i686'), lib: 'lib32', systemDirs: ['/lib32', '/usr/lib32', '/lib', '/usr/lib'] }
      : multiarch('i386-linux-gnu', '/lib/ld-linux.so.2', 'i686');
    base.legacyHwcapDirs = legacyHwcapSubdirs(['tls', 'i686', 'sse2']);
  } else if (machine === EM_AARCH64) {
    base = multiarch('aarch64-linux-gnu', '/lib/ld-linux-aarch64.so.1', 'aarch64');
  } else if (machine === EM_ARM) {
    base = multiarch('arm-linux-gnueabihf', '/lib/ld-linux-armhf.so.3', 'v7l');
  } else if (machine === EM_PPC64 && byteOrder === 'little') {
    base = multiarch('powerpc64le-linux-gnu', '/lib64/ld64.so.2', 'power8');
  } else if (machine === EM_S390 && elfClass === 64) {
    base = multiarch('s390x-linux-gnu', '/lib/ld64.so.1', 'z900');
  } else if (machine === EM_RISCV && elfClass === 64) {
    base = multiarch('riscv64-linux-gnu', '/lib/ld-linux-riscv64-lp64d.so.1', 'riscv64');
  } else {
    base = {
      interpreter: elfClass === 64 ? '/lib64/ld.so' : '/lib/ld.so',
      lib: elfClass === 64 ? 'lib64' : 'lib',
      platform: '',
      systemDirs: elfClass === 64 ? ['/lib64', '/usr/lib64', '/lib', '/usr/lib'] : ['/lib', '/usr/lib'],
      hwcaps: [],
      allHwcaps: [],
      legacyHwcapDirs: [],
    };
  }
  return { elfClass, machine, byteOrder, ...base, ...stripUndefined(overrides) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
