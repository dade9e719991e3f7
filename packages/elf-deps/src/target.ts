/**
 * What the target's loader is: its default interpreter, `$LIB`, `$PLATFORM`, system directories, and the
 * hwcaps subdirectories it searches. The architecture row (arch/table.ts) and the loader family chosen
 * from the file's PT_INTERP (loader/families.ts) decide it; every field can be overridden for a foreign
 * sysroot.
 */
import { archFor, type ArchRow } from './arch/table.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import { familyFor } from './loader/families.js';
import { describedCpu } from './loader/glibc.js';
import type { LoaderFamily } from './loader/family.js';
import type { SysRoot } from './sysroot.js';
import type { CpuDescription, X86VendorKind } from './cpu/x86.js';
import type { GlibcRules } from './loader/glibc-rules.js';

/**
 * The machine a target runs on, where it is not this one. Precedence, lowest first: this host's
 * /proc/cpuinfo (x86 hosts only) < `cpu` < `vendor`; the CPU model then computes `$PLATFORM`, the
 * legacy hwcap names and the glibc-hwcaps levels; TargetOverrides (`platform`, `hwcaps`,
 * `legacyHwcapDirs`) replace what the model computed, each on its own.
 */
export interface MachineDescription {
  /** The CPU as another machine's /proc/cpuinfo describes it (parseCpuinfo). */
  cpu?: CpuDescription;
  /** Replaces the CPU's vendor_id: a CPUID vendor string, or intel, amd, hygon, centaur, zhaoxin, other. */
  vendor?: string;
}

/** The CPU the model used for a target (x86 targets only): what a cache of its results must key on. */
export interface CpuUsed {
  vendorId: string;
  kind: X86VendorKind;
  /** Feature flags, sorted. */
  flags: string[];
  /** 'host' (/proc/cpuinfo), 'given' (MachineDescription.cpu) or 'baseline' (no CPU known: x86-64 baseline assumed). */
  source: 'host' | 'given' | 'baseline';
}

export interface LoaderTarget {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
  /** The architecture row everything per-architecture comes from. */
  arch: ArchRow;
  /** The loader family whose rules apply (chosen from PT_INTERP). */
  family: LoaderFamily;
  /** The loader a file without PT_INTERP is run with (ldd's RTLD). */
  interpreter: string;
  /** `$LIB` */
  lib: string;
  /** `$PLATFORM` (glibc's GLRO(dl_platform)). */
  platform: string;
  /** The built-in search path after ld.so.cache (rtld_search_dirs). */
  systemDirs: string[];
  /** Active glibc-hwcaps subdirectory names, best first (x86-64-v4, v3, v2 …). */
  hwcaps: string[];
  /** Every glibc-hwcaps name this machine has, active or not: variants in all of them are reported. */
  allHwcaps: string[];
  /** Legacy hwcap subdirectories (tls, platform, hwcap names) in search order, glibc ≤ 2.36. */
  legacyHwcapDirs: string[];
  /** The glibc release's rules (glibc family only). */
  glibc?: GlibcRules;
  /** The CPU the model used (x86 targets only). */
  cpu?: CpuUsed;
  /** What was assumed for lack of information (an unknown machine, an unreadable glibc version). */
  warnings: TargetWarning[];
}

/** Something a target had to assume, as one line for the user. */
export interface TargetWarning {
  kind: 'unknown-machine' | 'glibc-version';
  message: string;
}

export type TargetOverrides = Partial<Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder' | 'arch' | 'family' | 'glibc' | 'cpu' | 'warnings'>>;

/** What picks a target: the file's ELF identity, and its PT_INTERP and e_flags where known. */
export interface TargetKey {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
  flags?: number;
  interpreter?: string;
  /** DT_NEEDED: for a file without PT_INTERP, the libc it names tells the family. */
  needed?: readonly string[];
}

/**
 * The loader target for a file: its architecture row, the loader family its PT_INTERP names (or, for a
 * file without one, the family whose loader the root holds), that family's rules. The host CPU decides
 * the hwcaps defaults only when the target is the host's own architecture.
 */
export function targetFor(file: TargetKey, root?: SysRoot, overrides: TargetOverrides = {}, machine: MachineDescription = {}): LoaderTarget {
  const key: TargetKey = { elfClass: file.elfClass, machine: file.machine, byteOrder: file.byteOrder };
  if (file.flags !== undefined) key.flags = file.flags;
  if (file.interpreter !== undefined) key.interpreter = file.interpreter;
  const arch = archFor(key);
  const family = familyFor(arch, file.interpreter, root, file.needed);
  const ctx: { root?: SysRoot; interpreter?: string; overrides: TargetOverrides; machine: MachineDescription } = { overrides, machine };
  if (root) ctx.root = root;
  if (file.interpreter !== undefined) ctx.interpreter = file.interpreter;
  return family.target(arch, ctx);
}

/**
 * Everything of the CPU the model reads for an x86 target on this machine, as one string: the CPUID
 * vendor and the sorted flags of the description used (this host's /proc/cpuinfo unless `machine`
 * gives another), after any vendor override. A cache of resolver results keys on it — even when hwcaps
 * levels are given, `$PLATFORM` and the legacy subdirectories still come from it.
 */
export function machineKey(machine: MachineDescription = {}): string {
  const { cpu, source } = describedCpu(machine);
  return `${source}:${JSON.stringify(cpu.vendorId)}:${[...cpu.flags].sort().join(' ')}`;
}
