/**
 * The host x86 CPU as glibc's loader sees it: glibc-hwcaps levels, `$PLATFORM` and the legacy hwcap
 * subdirectories, from /proc/cpuinfo.
 */
import * as fs from 'node:fs';

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

/** What the CPU model decides for one loader. */
export interface CpuDecision {
  platform: string;
  hwcaps: string[];
  legacyHwcapDirs: string[];
}

export function x86_64Decision(flags: Set<string>): CpuDecision {
  const levels = hostX86Levels(flags);
  const haswell = ['avx2', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt', 'fma'].every((f) => flags.has(f));
  const xeonPhi = ['avx512er', 'avx512pf'].every((f) => flags.has(f));
  const platform = xeonPhi ? 'xeon_phi' : haswell ? 'haswell' : 'x86_64';
  const legacy = ['tls'];
  if (platform !== 'x86_64') legacy.push(platform);
  if (['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) legacy.push('avx512_1');
  legacy.push('x86_64');
  return { platform, hwcaps: levels, legacyHwcapDirs: legacyHwcapSubdirs(legacy) };
}

export function i386Decision(): CpuDecision {
  return { platform: 'i686', hwcaps: [], legacyHwcapDirs: legacyHwcapSubdirs(['tls', 'i686', 'sse2']) };
}
