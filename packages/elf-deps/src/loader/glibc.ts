/**
 * glibc's ld.so as a loader family: the target of a file whose PT_INTERP is glibc's loader, built from
 * its architecture row, the root's layout, the root's glibc release (its rules) and the CPU model.
 */
import type { ArchRow } from '../arch/table.js';
import { ARCH_TABLE, describeGenericRules } from '../arch/table.js';
import { hostCpu, i386LoaderCpu, VENDOR_IDS, vendorKind, x86_64LoaderCpu, x86LegacyDirs, type CpuDescription } from '../cpu/x86.js';
import type { SysRoot } from '../sysroot.js';
import type { CpuUsed, FamilyContext, LoaderFamily, LoaderTarget, MachineDescription, TargetWarning } from './family.js';
import { readGlibcRelease } from './glibc-release.js';
import { DEFAULT_GLIBC_RELEASE, formatRelease, glibcRules, type GlibcRules } from './glibc-rules.js';

const GLIBC_LOADER_NAMES = new Set(ARCH_TABLE.map((r) => r.interpreter.slice(r.interpreter.lastIndexOf('/') + 1)));

/**
 * What is assumed of an x86 CPU nothing describes (a non-x86 host): x86-64's baseline features
 * (get-isa-level.h) from a vendor whose leaves glibc reads — no glibc-hwcaps level, no Intel-only
 * platform, SSE2 and i686 for i386.
 */
const BASELINE_CPU: CpuDescription = { vendorId: 'AuthenticAMD', flags: new Set(['cmov', 'cx8', 'fpu', 'fxsr', 'mmx', 'sse', 'sse2']) };

/** The CPU description the model reads, with MachineDescription's precedence: host < cpu < vendor. */
export function describedCpu(machine: MachineDescription): { cpu: CpuDescription; source: CpuUsed['source'] } {
  const given = machine.cpu;
  const host = given ? undefined : hostCpu();
  let cpu = given ?? host ?? BASELINE_CPU;
  const source: CpuUsed['source'] = given ? 'given' : host ? 'host' : 'baseline';
  if (machine.vendor !== undefined) cpu = { ...cpu, vendorId: VENDOR_IDS.get(machine.vendor.toLowerCase()) ?? machine.vendor };
  return { cpu, source };
}

/**
 * The root's glibc release: from the loader the file names (or the row's), then libc.so.6 in the
 * system directories. Unreadable: 2.36's rules, and a warning saying so.
 */
function rulesOf(root: SysRoot | undefined, loader: string, systemDirs: readonly string[]): { rules: GlibcRules; warning?: string } {
  if (!root) return { rules: glibcRules(DEFAULT_GLIBC_RELEASE) };
  const reading = readGlibcRelease(root, [loader, ...systemDirs.map((d) => `${d}/libc.so.6`)]);
  if (reading.release) return { rules: glibcRules(reading.release) };
  return {
    rules: glibcRules(DEFAULT_GLIBC_RELEASE, true),
    warning: `no glibc version banner could be read in ${reading.tried.join(', ')}${root.isHost ? '' : ` (root ${root.root})`}: glibc ${formatRelease(DEFAULT_GLIBC_RELEASE)}'s rules assumed`,
  };
}

export const GLIBC_FAMILY: LoaderFamily = {
  name: 'glibc',
  interpreterFor: (arch) => arch.interpreter,
  ownsInterpreter(interpreter) {
    return GLIBC_LOADER_NAMES.has(interpreter.slice(interpreter.lastIndexOf('/') + 1));
  },
  // shlib-versions: libc.so.6, libc.so.6.1 on alpha and ia64.
  claimsNeeded: (needed) => needed.some((n) => n === 'libc.so.6' || n === 'libc.so.6.1'),
  target(arch: ArchRow, ctx: FamilyContext): LoaderTarget {
    const { overrides, root } = ctx;
    const warnings: TargetWarning[] = [];
    // Debian's biarch packages (libc6-i386 on amd64) put that ABI's world in /lib32; a native root is multiarch.
    const biarch = arch.biarch && root && arch.biarch.probe.some((p) => root.stat(p) !== undefined) ? arch.biarch : undefined;
    const systemDirs = [...(biarch?.systemDirs ?? arch.systemDirs)];
    const { rules, warning } = rulesOf(root, ctx.interpreter ?? arch.interpreter, systemDirs);
    // One warning for a machine the table lacks, naming every rule assumed (the release's too).
    if (arch.generic) {
      const release = rules.assumed ? `; glibc ${formatRelease(rules.release)}'s release rules (no version banner found)` : '';
      warnings.push({ kind: 'unknown-machine', message: describeGenericRules(arch) + release });
    } else if (warning) warnings.push({ kind: 'glibc-version', message: warning });

    let platform = arch.platform;
    let hwcaps: string[] = [];
    let legacyComponents: string[] | undefined;
    let cpuUsed: CpuUsed | undefined;
    if (arch.cpu) {
      const { cpu, source } = describedCpu(ctx.machine);
      const model = arch.cpu === 'x86-64' ? x86_64LoaderCpu(cpu, arch.platform) : i386LoaderCpu(cpu, arch.platform);
      cpuUsed = { vendorId: cpu.vendorId, kind: vendorKind(cpu.vendorId), flags: [...cpu.flags].sort(), source };
      platform = overrides.platform ?? model.platform;
      hwcaps = model.hwcaps;
      legacyComponents = model.hwcapNames;
    } else {
      platform = overrides.platform ?? arch.platform;
    }
    // dl-hwcaps.c (≤ 2.36): the power set of tls, the platform and the hwcap names. Outside x86 the
    // foreign CPU's hwcap names are unknown: only tls.
    let legacy: string[] = [];
    if (rules.legacyHwcapSubdirs) legacy = legacyComponents ? x86LegacyDirs(platform, legacyComponents) : ['tls'];

    const target: LoaderTarget = {
      elfClass: arch.elfClass,
      machine: arch.machine,
      byteOrder: arch.byteOrder,
      arch,
      family: GLIBC_FAMILY,
      interpreter: overrides.interpreter ?? arch.interpreter,
      lib: overrides.lib ?? biarch?.lib ?? arch.lib,
      platform,
      systemDirs: overrides.systemDirs ?? systemDirs,
      hwcaps: overrides.hwcaps ?? hwcaps,
      allHwcaps: overrides.allHwcaps ?? [...arch.hwcapsSubdirs],
      legacyHwcapDirs: overrides.legacyHwcapDirs ?? legacy,
      glibc: rules,
      warnings,
    };
    if (cpuUsed) target.cpu = cpuUsed;
    return target;
  },
};
