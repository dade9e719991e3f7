/**
 * What the target's loader is: its default interpreter, `$LIB`, `$PLATFORM`, system directories, and the
 * hwcaps subdirectories it searches. The architecture row (arch/table.ts) and the loader family chosen
 * from the file's PT_INTERP (loader/families.ts) decide it; every field can be overridden for a foreign
 * sysroot.
 */
import { archFor, type ArchRow } from './arch/table.js';
import type { ByteOrder, ElfClass } from './elf/fields.js';
import { familyFor } from './loader/families.js';
import type { LoaderFamily } from './loader/family.js';
import type { SysRoot } from './sysroot.js';

export { hostCpuFlags, hostX86Levels, legacyHwcapSubdirs } from './cpu/x86.js';

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
}

export type TargetOverrides = Partial<Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder' | 'arch' | 'family'>>;

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
export function targetFor(file: TargetKey, root?: SysRoot, overrides: TargetOverrides = {}): LoaderTarget {
  const key: TargetKey = { elfClass: file.elfClass, machine: file.machine, byteOrder: file.byteOrder };
  if (file.flags !== undefined) key.flags = file.flags;
  if (file.interpreter !== undefined) key.interpreter = file.interpreter;
  const arch = archFor(key);
  const family = familyFor(arch, file.interpreter, root, file.needed);
  const ctx: { root?: SysRoot; interpreter?: string; overrides: TargetOverrides } = { overrides };
  if (root) ctx.root = root;
  if (file.interpreter !== undefined) ctx.interpreter = file.interpreter;
  return family.target(arch, ctx);
}
