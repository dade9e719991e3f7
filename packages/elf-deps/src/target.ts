/**
 * What the target's loader is: its default interpreter, `$LIB`, `$PLATFORM`, system directories, and the
 * hwcaps subdirectories it searches. The architecture row (arch/table.ts) and the loader family chosen
 * from the file's PT_INTERP (loader/families.ts) decide it; every field can be overridden for a foreign
 * sysroot.
 */
import { archFor } from './arch/table.js';
import { familyFor } from './loader/families.js';
import { describedCpu } from './loader/glibc.js';
import type { LoaderTarget, MachineDescription, TargetKey, TargetOverrides } from './loader/family.js';
import type { SysRoot } from './sysroot.js';

// The target's types live with the loader family's (loader/family.ts): each names the other.
export type { CpuUsed, LoaderTarget, MachineDescription, TargetKey, TargetOverrides, TargetWarning } from './loader/family.js';

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
