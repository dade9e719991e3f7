/**
 * glibc's ld.so as a loader family: the target of a file whose PT_INTERP is glibc's loader, built from
 * its architecture row, the root's layout and the CPU model.
 */
import type { ArchRow } from '../arch/table.js';
import { ARCH_TABLE } from '../arch/table.js';
import { hostCpuFlags, i386Decision, x86_64Decision, type CpuDecision } from '../cpu/x86.js';
import type { LoaderTarget } from '../target.js';
import type { FamilyContext, LoaderFamily } from './family.js';

const GLIBC_LOADER_NAMES = new Set(ARCH_TABLE.map((r) => r.interpreter.slice(r.interpreter.lastIndexOf('/') + 1)));

function cpuDecision(arch: ArchRow): CpuDecision {
  if (arch.cpu === 'x86-64') return x86_64Decision(process.arch === 'x64' ? hostCpuFlags() : new Set());
  if (arch.cpu === 'i386') return i386Decision();
  return { platform: arch.platform, hwcaps: [], legacyHwcapDirs: ['tls'] };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export const GLIBC_FAMILY: LoaderFamily = {
  name: 'glibc',
  interpreterFor: (arch) => arch.interpreter,
  ownsInterpreter(interpreter) {
    return GLIBC_LOADER_NAMES.has(interpreter.slice(interpreter.lastIndexOf('/') + 1));
  },
  // shlib-versions: libc.so.6, libc.so.6.1 on alpha and ia64.
  claimsNeeded: (needed) => needed.some((n) => n === 'libc.so.6' || n === 'libc.so.6.1'),
  target(arch, ctx: FamilyContext): LoaderTarget {
    // Debian's biarch packages (libc6-i386 on amd64) put that ABI's world in /lib32; a native root is multiarch.
    const biarch = arch.biarch && ctx.root && arch.biarch.probe.some((p) => ctx.root?.stat(p) !== undefined) ? arch.biarch : undefined;
    const cpu = cpuDecision(arch);
    const base: LoaderTarget = {
      elfClass: arch.elfClass,
      machine: arch.machine,
      byteOrder: arch.byteOrder,
      arch,
      family: GLIBC_FAMILY,
      interpreter: arch.interpreter,
      lib: biarch?.lib ?? arch.lib,
      platform: cpu.platform,
      systemDirs: [...(biarch?.systemDirs ?? arch.systemDirs)],
      hwcaps: cpu.hwcaps,
      allHwcaps: [...arch.hwcapsSubdirs],
      legacyHwcapDirs: cpu.legacyHwcapDirs,
    };
    return { ...base, ...stripUndefined(ctx.overrides) };
  },
};
