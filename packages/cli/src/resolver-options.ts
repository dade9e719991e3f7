/**
 * The resolver options every command that computes a closure shares (--root, --ld-library-path,
 * --hwcaps, --platform, --cpu-vendor, --cpuinfo, --ld-so-conf).
 *
 * Describing the machine a jail is for, lowest precedence first: this host's /proc/cpuinfo, then
 * --cpuinfo FILE (another machine's), then --cpu-vendor; the CPU model (glibc's cpu-features.c) turns
 * that into `$PLATFORM`, the legacy hwcap subdirectories and the glibc-hwcaps levels; then --platform
 * and --hwcaps each replace what the model computed, on their own. The target root's glibc release
 * decides which of those subdirectories its loader still searches.
 */
import * as fs from 'node:fs';
import { parseCpuinfo, type DlopenPriority, type MachineDescription, type ResolveOptions } from '@elfcopy/elf-deps';
import { VENDOR_IDS } from '@elfcopy/elf-deps/internal';
import { UsageError } from './usage-error.js';

export interface ResolverCliOptions {
  root?: string;
  ldLibraryPath?: string;
  hwcaps?: string;
  platform?: string;
  cpuVendor?: string;
  cpuinfo?: string;
  ldSoConf?: boolean;
}

const LEVEL_RE = /^[A-Za-z0-9._-]+$/;
/** /proc/cpuinfo of a 512-CPU machine is a few MB; a file larger than this is not one. */
const MAX_CPUINFO_BYTES = 16 * 1024 * 1024;

function readCpuinfo(file: string): NonNullable<MachineDescription['cpu']> {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new UsageError(`--cpuinfo ${file}: not a regular file`);
    if (st.size > MAX_CPUINFO_BYTES) throw new UsageError(`--cpuinfo ${file}: ${st.size} bytes, more than a cpuinfo file holds`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`--cpuinfo ${file}: cannot read it (${code})`);
  }
  const cpu = parseCpuinfo(text);
  if (cpu.vendorId === '' || cpu.flags.size === 0) throw new UsageError(`--cpuinfo ${file}: no 'vendor_id' and 'flags' lines (expected a copy of /proc/cpuinfo from an x86 machine)`);
  return cpu;
}

/** --cpuinfo and --cpu-vendor as the resolver's MachineDescription (undefined when neither is given). */
export function machineFrom(opts: ResolverCliOptions): MachineDescription | undefined {
  const machine: MachineDescription = {};
  if (opts.cpuinfo !== undefined) {
    machine.cpu = readCpuinfo(opts.cpuinfo);
  }
  if (opts.cpuVendor !== undefined) {
    const v = opts.cpuVendor;
    if (!VENDOR_IDS.has(v.toLowerCase()) && v.length !== 12) {
      throw new UsageError(`--cpu-vendor: '${v}' is neither ${[...VENDOR_IDS.keys()].join(', ')} nor a 12-character CPUID vendor string (e.g. GenuineIntel)`);
    }
    machine.vendor = v;
  }
  return machine.cpu !== undefined || machine.vendor !== undefined ? machine : undefined;
}

export function platformFrom(opts: ResolverCliOptions): string | undefined {
  if (opts.platform === undefined) return undefined;
  if (!LEVEL_RE.test(opts.platform)) throw new UsageError(`--platform: '${opts.platform}' is not a platform name (e.g. haswell, x86_64, xeon_phi)`);
  return opts.platform;
}

export function hwcapsFrom(opts: ResolverCliOptions): string[] | undefined {
  if (opts.hwcaps === undefined) return undefined;
  const levels = opts.hwcaps === 'none' || opts.hwcaps === '' ? [] : opts.hwcaps.split(',').map((s) => s.trim());
  for (const l of levels) if (!LEVEL_RE.test(l)) throw new UsageError(`--hwcaps: '${l}' is not a hwcaps level name (e.g. x86-64-v3)`);
  return levels;
}

export function resolveOptionsFrom(opts: ResolverCliOptions): ResolveOptions {
  const out: ResolveOptions = {};
  if (opts.root !== undefined) out.root = opts.root;
  if (opts.ldLibraryPath !== undefined) out.ldLibraryPath = opts.ldLibraryPath;
  if (opts.ldSoConf) out.ldConf = true;
  const hwcaps = hwcapsFrom(opts);
  const platform = platformFrom(opts);
  if (hwcaps !== undefined || platform !== undefined) {
    out.target = {};
    if (hwcaps !== undefined) out.target.hwcaps = hwcaps;
    if (platform !== undefined) out.target.platform = platform;
  }
  const machine = machineFrom(opts);
  if (machine) out.machine = machine;
  return out;
}

/**
 * --dlopen's priority. `none` (off) only where the command follows `.note.dlopen` by default (copy);
 * deps follows none unless asked.
 */
export function dlopenFrom(value: string, options: { allowNone: boolean }): DlopenPriority | false {
  if (value === 'required' || value === 'recommended' || value === 'suggested') return value;
  if (value === 'none' && options.allowNone) return false;
  throw new UsageError(`--dlopen takes required, recommended${options.allowNone ? ', suggested or none' : ' or suggested'}`);
}
