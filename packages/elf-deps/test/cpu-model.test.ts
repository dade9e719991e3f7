/**
 * The CPU model (cpu/x86.ts) against glibc 2.36's own loader: on recorded CPU descriptions (a
 * /proc/cpuinfo vendor_id and flags line with the `ld.so --help` sections that CPU gets), on this
 * machine (its /proc/cpuinfo against its ld.so), and on CPUs QEMU emulates (vendor and features as a
 * static CPUID probe reports them, against the real ld.so run under the same emulated CPU). So the
 * Intel-only rules (haswell, xeon_phi, avx512_1) are exercised on every machine, AMD or Intel.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EM_386,
  EM_X86_64,
  SysRoot,
  archFor,
  hostCpu,
  machineKey,
  i386LoaderCpu,
  parseCpuinfo,
  targetFor,
  vendorKind,
  x86LegacyDirs,
  x86_64LoaderCpu,
  type CpuDescription,
  type X86LoaderCpu,
} from '../src/internal.js';
import { subdirsFor } from '../src/search.js';
import { buildCpuinfoProbe } from './helpers/cpuid-cpuinfo.js';
import { compileC, makeTempDir } from './helpers/fixtures.js';
import { CPU_KINDS, hasExecutable, loaderRunner, parseDiagnostics, parseLdSoHelp, probedSubdirs, type LoaderHelp } from './helpers/loader-report.js';

const FIXTURES = new URL('./fixtures/cpus/', import.meta.url);
const LD64 = '/lib64/ld-linux-x86-64.so.2';
const LD32 = '/lib/ld-linux.so.2';
const QEMU64 = '/usr/bin/qemu-x86_64-static';
const QEMU32 = '/usr/bin/qemu-i386-static';
const tmp = fs.realpathSync(makeTempDir('cpu-model'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What `ld.so --help` says the loader searches, in the model's terms. */
function fromHelp(help: LoaderHelp): { hwcaps: string[]; platform: string | undefined; hwcapNames: string[] } {
  return {
    hwcaps: help.hwcaps.filter((h) => h.searched).map((h) => h.name),
    platform: help.platform,
    // The hwcap-name lines (neither the platform nor tls), bit-descending as dl-usage.c prints them.
    hwcapNames: help.legacy
      .filter((l) => !l.atPlatform && l.name !== 'tls' && l.searched)
      .map((l) => l.name)
      .reverse(),
  };
}

function fromModel(m: X86LoaderCpu): { hwcaps: string[]; platform: string; hwcapNames: string[] } {
  return { hwcaps: m.hwcaps, platform: m.platform, hwcapNames: m.hwcapNames };
}

interface Recorded {
  name: string;
  cpu: CpuDescription;
  help: LoaderHelp;
}

function readFixture(file: string): Recorded {
  const text = fs.readFileSync(new URL(file, FIXTURES), 'utf8');
  const [cpuinfo = '', help = ''] = text.split(/^# ld\.so --help.*$/m);
  return { name: file.replace(/\.txt$/, ''), cpu: parseCpuinfo(cpuinfo), help: parseLdSoHelp(help) };
}

const recorded = fs
  .readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.txt'))
  .sort()
  .map(readFixture);
const agreement: string[] = [];
afterAll(() => {
  if (agreement.length) console.log(`CPU model agreement with glibc 2.36's ld.so:\n  ${agreement.join('\n  ')}`);
});

describe('recorded CPU descriptions (fixtures/cpus): the platform, legacy hwcaps and glibc-hwcaps levels glibc 2.36 computes', () => {
  it('the fixtures cover Intel Haswell, Skylake-AVX512 and Xeon Phi, AMD Zen 4 and Zen 2, and an x86-64-v2-only CPU', () => {
    const names = recorded.map((r) => r.name);
    for (const want of ['intel-haswell', 'intel-skylake-avx512', 'intel-xeon-phi', 'amd-zen4', 'amd-zen2', 'intel-westmere-v2']) expect(names).toContain(want);
    for (const r of recorded) {
      expect(r.cpu.vendorId, r.name).not.toBe('');
      expect(r.cpu.flags.size, r.name).toBeGreaterThan(5);
      expect(r.help.hwcaps.map((h) => h.name), r.name).toEqual(['x86-64-v4', 'x86-64-v3', 'x86-64-v2']);
      expect(r.help.platform, r.name).toBeDefined();
    }
  });

  it.each(recorded.map((r) => [r.name, r] as const))('%s', (_name, r) => {
    const model = x86_64LoaderCpu(r.cpu);
    expect(fromModel(model)).toEqual(fromHelp(r.help));
    // "supported" and "searched" agree for every built-in level (no mask is set).
    for (const h of r.help.hwcaps) expect(model.hwcaps.includes(h.name), h.name).toBe(h.supported);
    // The resolver's target for an x86-64 file on that machine says the same.
    const t = targetFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }, new SysRoot('/'), {}, { cpu: r.cpu });
    expect([t.platform, t.hwcaps]).toEqual([model.platform, model.hwcaps]);
    expect(t.legacyHwcapDirs).toEqual(x86LegacyDirs(model.platform, model.hwcapNames));
    agreement.push(`${r.name} (${r.cpu.vendorId.trim()}, ${vendorKind(r.cpu.vendorId)}): platform ${model.platform}, hwcaps ${model.hwcaps.join(',') || 'none'}, legacy ${model.hwcapNames.join(',')}: agrees`);
  });

  it('AMD Zen 4 has AVX-512 (x86-64-v4) yet neither the haswell platform nor avx512_1: those are Intel-only', () => {
    const zen4 = recorded.find((r) => r.name === 'amd-zen4');
    expect(zen4).toBeDefined();
    if (!zen4) return;
    const model = x86_64LoaderCpu(zen4.cpu);
    expect(model.hwcaps[0]).toBe('x86-64-v4');
    expect(model.platform).toBe('x86_64');
    expect(model.hwcapNames).not.toContain('avx512_1');
    // The same flags under an Intel vendor string are haswell with avx512_1.
    const asIntel = x86_64LoaderCpu({ ...zen4.cpu, vendorId: 'GenuineIntel' });
    expect([asIntel.platform, asIntel.hwcapNames]).toEqual(['haswell', ['x86_64', 'avx512_1']]);
  });

  it('the vendor kinds of cpu-features.c, exact to the byte ("  Shanghai  " keeps its blanks)', () => {
    expect(['GenuineIntel', 'AuthenticAMD', 'HygonGenuine', 'CentaurHauls', '  Shanghai  ', 'Shanghai', 'GenuineIotel', ''].map(vendorKind)).toEqual([
      'intel',
      'amd',
      'amd',
      'zhaoxin',
      'zhaoxin',
      'other',
      'other',
      'other',
    ]);
    expect(parseCpuinfo('processor\t: 0\nvendor_id\t:   Shanghai  \nflags\t\t: fpu sse2\n').vendorId).toBe('  Shanghai  ');
  });
});

describe('this machine: the model of /proc/cpuinfo against its own ld.so', () => {
  const cpu = hostCpu();
  const runner = loaderRunner(LD64);

  it.skipIf(process.arch !== 'x64' || !cpu)('ld.so --help and --list-diagnostics report what the model computes', () => {
    if (!cpu) return;
    const model = x86_64LoaderCpu(cpu);
    const help = parseLdSoHelp(runner.run(['--help']).stdout);
    expect(fromModel(model)).toEqual(fromHelp(help));
    const diag = parseDiagnostics(runner.run(['--list-diagnostics']).stdout);
    expect(CPU_KINDS.get(diag.get('x86.cpu_features.basic.kind') ?? '')).toBe(model.kind);
    expect(diag.get('dl_platform')).toBe(model.platform);
    // dl_hwcap: HWCAP_X86_64 (bit 1) and HWCAP_X86_AVX512_1 (bit 2).
    const hwcap = Number(diag.get('dl_hwcap'));
    expect(['x86_64', 'avx512_1'].filter((_, i) => hwcap & (2 << i))).toEqual(model.hwcapNames);
    agreement.push(`this machine (${cpu.vendorId}): platform ${model.platform}, hwcaps ${model.hwcaps.join(',') || 'none'}: agrees`);
  });

  it.skipIf(process.arch !== 'x64' || !cpu)("the kernel's AT_PLATFORM (LD_SHOW_AUXV) is the one the model falls back to off Intel", () => {
    const auxv = execFileSync('/bin/true', [], { encoding: 'utf8', env: { LD_SHOW_AUXV: '1' } });
    const atPlatform = /^AT_PLATFORM:\s+(\S+)$/m.exec(auxv)?.[1];
    expect(atPlatform).toBe(archFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }).platform);
    if (!cpu) return;
    expect(x86_64LoaderCpu({ ...cpu, vendorId: 'AuthenticAMD' }).platform).toBe(atPlatform);
  });

  it.skipIf(process.arch !== 'x64' || !cpu)('the subdirectories ld.so probes in a search directory, in order (LD_DEBUG=libs), are the resolver\'s', () => {
    const t = targetFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }, new SysRoot('/'));
    expect(subdirsFor(t)).toEqual(probedSubdirs(runner, '/bin/true'));
  });
});

const qemuCpus = [
  'Haswell',
  'Broadwell',
  'Skylake-Client',
  'Icelake-Server',
  'SandyBridge',
  'Nehalem',
  'Westmere',
  'core2duo',
  'Haswell,-movbe',
  'Haswell,-bmi2',
  'EPYC',
  'EPYC-Rome',
  'EPYC-Milan',
  'Dhyana',
  'qemu64',
  'Haswell,vendor=AuthenticAMD',
  'Haswell,vendor=HygonGenuine',
  'Haswell,vendor=CentaurHauls',
  'Haswell,vendor=  Shanghai  ',
  'Haswell,vendor=GenuineIotel',
];

describe.skipIf(!hasExecutable(QEMU64))('emulated CPUs (qemu-x86_64-static -cpu MODEL): the real ld.so under each CPU is the oracle', () => {
  let probe = '';
  const probeOf = (): string => (probe ||= buildCpuinfoProbe(tmp));

  it.each(qemuCpus)('%s', (model) => {
    const prefix = [QEMU64, '-cpu', model];
    const cpu = parseCpuinfo(execFileSync(prefix[0] ?? QEMU64, [...prefix.slice(1), probeOf()], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const runner = loaderRunner(LD64, prefix);
    const ours = x86_64LoaderCpu(cpu);
    expect(fromModel(ours)).toEqual(fromHelp(parseLdSoHelp(runner.run(['--help']).stdout)));
    const diag = parseDiagnostics(runner.run(['--list-diagnostics']).stdout);
    expect([CPU_KINDS.get(diag.get('x86.cpu_features.basic.kind') ?? ''), diag.get('dl_platform')]).toEqual([ours.kind, ours.platform]);
    const t = targetFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }, new SysRoot('/'), {}, { cpu });
    expect(subdirsFor(t)).toEqual(probedSubdirs(runner, '/bin/true'));
    agreement.push(`qemu ${model} (${cpu.vendorId}, ${ours.kind}): platform ${ours.platform}, hwcaps ${ours.hwcaps.join(',') || 'none'}: agrees`);
  });
});

describe.skipIf(!hasExecutable(QEMU32) || !hasExecutable(LD32))('i386 under emulated CPUs (qemu-i386-static -cpu MODEL): i686 with CMOV, i586 with CX8, SSE2', () => {
  let built: { probe: string; exe: string } | undefined;
  const files = (): { probe: string; exe: string } =>
    (built ??= {
      probe: compileC(tmp, 'cpuid32', fs.readFileSync(buildCpuinfoProbe(tmp) + '.c', 'utf8'), ['-m32', '-static', '-O2']),
      exe: compileC(tmp, 'true32', 'int main(void) { return 0; }\n', ['-m32']),
    });

  // (A CPU without CMOV cannot run Debian's i386 glibc at all: i586 is not testable against it.)
  it.each(['pentium3', 'pentium2', 'qemu32', 'Haswell', 'EPYC', 'Haswell,vendor=GenuineIotel'])('%s', (model) => {
    const prefix = [QEMU32, '-cpu', model];
    const { probe, exe } = files();
    const cpu = parseCpuinfo(execFileSync(QEMU32, ['-cpu', model, probe], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    const runner = loaderRunner(LD32, prefix);
    const ours = i386LoaderCpu(cpu);
    const help = parseLdSoHelp(runner.run(['--help']).stdout);
    expect({ platform: ours.platform, hwcapNames: ours.hwcapNames }).toEqual({ platform: help.platform, hwcapNames: fromHelp(help).hwcapNames });
    const t = targetFor({ elfClass: 32, machine: EM_386, byteOrder: 'little' }, new SysRoot('/'), {}, { cpu });
    expect(subdirsFor(t)).toEqual(probedSubdirs(runner, exe));
    agreement.push(`qemu-i386 ${model}: platform ${ours.platform}, legacy ${ours.hwcapNames.join(',') || 'none'}: agrees`);
  });
});

describe('describing another machine', () => {
  const amd = recorded.find((r) => r.name === 'amd-zen4')?.cpu;
  const root = new SysRoot('/');
  const t64 = { elfClass: 64 as const, machine: EM_X86_64, byteOrder: 'little' as const };

  it.skipIf(!amd)('precedence: the given CPU, then the vendor, then --platform and --hwcaps each replace what the model computed', () => {
    if (!amd) return;
    const base = targetFor(t64, root, {}, { cpu: amd });
    expect([base.platform, base.hwcaps[0], base.cpu?.kind, base.cpu?.source]).toEqual(['x86_64', 'x86-64-v4', 'amd', 'given']);
    const intel = targetFor(t64, root, {}, { cpu: amd, vendor: 'intel' });
    expect([intel.platform, intel.legacyHwcapDirs[0], intel.cpu?.vendorId]).toEqual(['haswell', 'tls/haswell/avx512_1/x86_64', 'GenuineIntel']);
    const pinned = targetFor(t64, root, { platform: 'xeon_phi', hwcaps: ['x86-64-v2'] }, { cpu: amd, vendor: 'intel' });
    expect([pinned.platform, pinned.hwcaps, pinned.legacyHwcapDirs[0]]).toEqual(['xeon_phi', ['x86-64-v2'], 'tls/xeon_phi/avx512_1/x86_64']);
  });

  it('the plan-cache key (machineKey) holds the CPU description the model read, whoever gave it', () => {
    const host = machineKey();
    expect(host).toBe(machineKey({}));
    if (amd) {
      expect(machineKey({ cpu: amd })).not.toBe(host);
      expect(machineKey({ cpu: amd, vendor: 'intel' })).not.toBe(machineKey({ cpu: amd }));
      expect(machineKey({ cpu: amd, vendor: 'intel' })).toBe(machineKey({ cpu: { ...amd, vendorId: 'GenuineIntel' } }));
    }
    const cpu = hostCpu();
    if (cpu) expect(host).toContain([...cpu.flags].sort().join(' '));
  });

  it('a non-x86 target ignores the CPU: its platform is the row\'s unless given', () => {
    const arm = targetFor({ elfClass: 64, machine: 183, byteOrder: 'little' }, root, {}, { vendor: 'intel' });
    expect([arm.platform, arm.hwcaps, arm.cpu]).toEqual(['aarch64', [], undefined]);
    expect(path.posix.basename(arm.interpreter)).toBe('ld-linux-aarch64.so.1');
  });
});
