/**
 * The architecture table against the real loaders: for this host's x86-64 and i386 loaders and for
 * each test root's own loader (run in a chroot, under qemu-user when foreign), the row archFor picks
 * for the root's programs must say what the loader says of itself — ELF identity (readelf -h of its libc,
 * readelf -l's interpreter of its shell), `$LIB` and the glibc-hwcaps names (--list-diagnostics), the
 * built-in search path (--help) — and the ldconfig emulation, with the row's port, flags and char
 * signedness, must write the cache the root's own ldconfig wrote. Char signedness is shown on two
 * SONAMEs that sort differently for a signed and an unsigned `char`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ARCH_TABLE,
  SysRoot,
  archFor,
  buildCacheFromLdConf,
  formatCacheEntry,
  readElf,
  readLdCache,
  readLdConf,
  targetFor,
  type ArchRow,
  type LdCache,
} from '../src/internal.js';
import { patchelf } from './helpers/fixtures.js';
import { parseDiagnostics, parseLdSoHelp } from './helpers/loader-report.js';
import { inRoot, runLoader, testRootOrSkip, type TestRoot } from './helpers/test-roots.js';

const checked: string[] = [];
afterAll(() => {
  if (checked.length) console.log(`architecture rows checked against their own loader: ${checked.join(', ')}`);
});

/** readelf -h's Class, Data and Machine of a host file. */
function readelfIdentity(file: string): { elfClass: string; data: string; machine: string } {
  const out = execFileSync('readelf', ['-h', '-W', file], { encoding: 'utf8' });
  const field = (name: string): string => new RegExp(`^\\s*${name}:\\s+(.*)$`, 'm').exec(out)?.[1]?.trim() ?? '';
  return { elfClass: field('Class'), data: field('Data'), machine: field('Machine') };
}

function readelfInterpreter(file: string): string | undefined {
  const out = execFileSync('readelf', ['-l', '-W', file], { encoding: 'utf8' });
  return /\[Requesting program interpreter: (.*)\]/.exec(out)?.[1];
}

const READELF_MACHINE: Record<string, string> = {
  amd64: 'Advanced Micro Devices X86-64',
  i386: 'Intel 80386',
  x32: 'Advanced Micro Devices X86-64',
  arm64: 'AArch64',
  armhf: 'ARM',
  s390x: 'IBM S/390',
  ppc64el: 'PowerPC64',
  riscv64: 'RISC-V',
};

const lines = (cache: LdCache | undefined): string[] => (cache?.entries ?? []).map((e) => `${formatCacheEntry(e)} hwcap=${e.hwcap.toString(16)}`);

/** The host path of an in-root file, every link resolved inside the root. */
function hostFile(root: TestRoot | undefined, p: string): string {
  if (!root) return fs.realpathSync(p);
  const real = new SysRoot(root.dir).realpath(p);
  if (real === undefined) throw new Error(`${root.name}: ${p} does not exist in ${root.dir}`);
  return path.join(root.dir, real);
}

interface Case {
  label: string;
  root?: TestRoot;
  /** A dynamic program of the architecture, in-root. */
  program: string;
  libc: string;
  expectRow: string;
  /** The loader, run: its --help and --list-diagnostics. */
  loader?: (args: string[]) => string;
}

const cases: Case[] = [];
if (process.arch === 'x64') {
  cases.push({ label: 'this host, x86-64', program: '/bin/dash', libc: '/lib/x86_64-linux-gnu/libc.so.6', expectRow: 'amd64', loader: (a) => execFileSync('/lib64/ld-linux-x86-64.so.2', a, { encoding: 'utf8' }) });
  if (fs.existsSync('/lib/ld-linux.so.2') && fs.existsSync('/lib32/libc.so.6')) {
    cases.push({ label: 'this host, i386 (libc6-i386)', program: '', libc: '/lib32/libc.so.6', expectRow: 'i386', loader: (a) => execFileSync('/lib/ld-linux.so.2', a, { encoding: 'utf8' }) });
  }
  if (fs.existsSync('/libx32/libc.so.6')) cases.push({ label: 'this host, x32 (libc6-x32: identity only, the kernel runs no x32)', program: '', libc: '/libx32/libc.so.6', expectRow: 'x32' });
}
for (const [name, row] of [
  ['trixie-amd64', 'amd64'],
  ['bookworm-arm64', 'arm64'],
  ['bookworm-s390x', 's390x'],
  ['bookworm-armhf', 'armhf'],
  ['bookworm-ppc64el', 'ppc64el'],
  ['trixie-riscv64', 'riscv64'],
] as const) {
  const root = testRootOrSkip(name);
  if (!root) continue;
  const triplet = ARCH_TABLE.find((r) => r.name === row)?.triplet ?? '';
  cases.push({ label: name, root, program: '/usr/bin/env', libc: `/lib/${triplet}/libc.so.6`, expectRow: row, loader: (a) => runLoader(root, a).stdout });
}

describe.each(cases.map((c) => [c.label, c] as const))('%s', (_label, c) => {
  const sys = new SysRoot(c.root?.dir ?? '/');
  const libcHost = hostFile(c.root, c.libc);
  const libc = readElf(libcHost);
  const interp = c.program ? readElf(hostFile(c.root, c.program)).interpreter : undefined;
  const row: ArchRow = archFor(interp === undefined ? libc : { ...libc, interpreter: interp });

  it('archFor picks the row, whose ELF identity and interpreter are readelf\'s', () => {
    expect(row.name).toBe(c.expectRow);
    const id = readelfIdentity(libcHost);
    expect(id.elfClass).toBe(`ELF${row.elfClass}`);
    expect(id.data).toBe(`2's complement, ${row.byteOrder} endian`);
    expect(id.machine).toBe(READELF_MACHINE[row.name]);
    if (c.program) expect(readelfInterpreter(hostFile(c.root, c.program))).toBe(row.interpreter);
  });

  // x32: the kernel runs no x32 program (CONFIG_X86_X32 is off on Debian's), so its loader cannot answer.
  it.skipIf(!c.loader)("$LIB, the glibc-hwcaps names and the system directories are the loader's own", () => {
    const target = targetFor(libc, sys);
    const diag = parseDiagnostics(c.loader?.(['--list-diagnostics']) ?? '');
    const help = parseLdSoHelp(c.loader?.(['--help']) ?? '');
    expect(target.lib).toBe(diag.get('dl_dst_lib'));
    expect(row.hwcapsSubdirs.join(':')).toBe(diag.get('dl_hwcaps_subdirs'));
    expect(target.systemDirs).toEqual(help.systemDirs);
    checked.push(`${row.name} (${c.label})`);
  });

  // (This host's own cache against its ldconfig: ldconf.test.ts.)
  if (c.root) it("the ldconfig emulation with the row's port writes the cache the root's own ldconfig wrote", () => {
    const target = targetFor(libc, sys);
    const real = readLdCache(sys);
    const conf = readLdConf(sys, { builtinDirs: target.systemDirs, libTypes: target.glibc?.ldconfigLibTypes ?? true });
    const predicted = buildCacheFromLdConf(sys, conf, target);
    expect(lines(real).length).toBeGreaterThan(10);
    expect(lines(predicted.cache)).toEqual(lines(real));
    for (const e of real?.entries ?? []) expect(row.cacheFlags.accepted, formatCacheEntry(e)).toContain(e.flags);
  });

  if (c.root || c.expectRow === 'amd64') it("C char signedness: two SONAMEs that sort one way for a signed char, the other for an unsigned one, as the root's ldconfig sorts them", () => {
    const root = c.root;
    const rootDir = root?.dir ?? '';
    const scratch = fs.realpathSync(fs.mkdtempSync(path.join(root ? path.join(rootDir, 'tmp') : os.tmpdir(), 'elfcopy-char-')));
    try {
      const inRootDir = scratch.slice(rootDir.length);
      const zlib = [...(sys.listDir(`/lib/${row.triplet}`) ?? []), ...(sys.listDir(`/usr/lib/${row.triplet}`) ?? [])].find((n) => /^libz\.so\.1\.\d/.test(n));
      expect(zlib).toBeDefined();
      const from = hostFile(root, sys.stat(`/lib/${row.triplet}/${zlib}`) ? `/lib/${row.triplet}/${zlib}` : `/usr/lib/${row.triplet}/${zlib}`);
      // é is 0xc3 0xa9 in UTF-8: 0xc3 is negative as a signed char, so "libAé" sorts before "libAz"; after it when unsigned.
      for (const [file, soname] of [
        ['libhigh.so.1', 'libA\u00e9.so.1'],
        ['liblow.so.1', 'libAz.so.1'],
      ] as const) {
        const dest = path.join(scratch, file);
        fs.copyFileSync(from, dest);
        patchelf(dest, ['--set-soname', soname]);
      }
      fs.writeFileSync(path.join(scratch, 'ld.so.conf'), `${inRootDir}\n`);
      const argv = ['/sbin/ldconfig', '-X', '-f', `${inRootDir}/ld.so.conf`, '-C', `${inRootDir}/ld.so.cache`];
      const run = root ? inRoot(root, argv) : spawnSync(argv[0] ?? 'ldconfig', argv.slice(1), { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const real = readLdCache(sys, `${inRootDir}/ld.so.cache`);
      const target = targetFor(libc, sys);
      const predicted = buildCacheFromLdConf(sys, readLdConf(sys, { path: `${inRootDir}/ld.so.conf`, builtinDirs: target.systemDirs, libTypes: target.glibc?.ldconfigLibTypes ?? true }), target);
      const ours = (cache: LdCache | undefined): string[] => (cache?.entries ?? []).filter((e) => e.path.startsWith(inRootDir)).map((e) => e.path);
      expect(ours(predicted.cache)).toEqual(ours(real));
      // The cache is sorted descending: with an unsigned char the high byte comes first.
      // ldconfig records DIR/SONAME.
      const [high, low] = [`${inRootDir}/libA\u00e9.so.1`, `${inRootDir}/libAz.so.1`];
      expect(ours(real)).toEqual(row.unsignedChar ? [high, low] : [low, high]);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('the table itself', () => {
  it('one row per ABI: no two rows with the same class, machine, byte order and ABI variant', () => {
    const keys = ARCH_TABLE.map((r) => `${r.elfClass}/${r.machine}/${r.byteOrder}/${JSON.stringify(r.abi)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the rows the issue names are all there', () => {
    for (const name of ['amd64', 'i386', 'x32', 'arm64', 'armhf', 'riscv64', 'ppc64el', 's390x']) expect(ARCH_TABLE.some((r) => r.name === name), name).toBe(true);
  });

  it('an ELF of a machine with several ABIs gets the row its PT_INTERP names, else its e_flags', () => {
    expect(archFor({ elfClass: 32, machine: 40, byteOrder: 'little', interpreter: '/lib/ld-linux.so.3' }).name).toBe('armel');
    expect(archFor({ elfClass: 32, machine: 40, byteOrder: 'little', flags: 0x05000400 }).name).toBe('armhf');
    expect(archFor({ elfClass: 32, machine: 40, byteOrder: 'little', flags: 0x05000200 }).name).toBe('armel');
    expect(archFor({ elfClass: 64, machine: 21, byteOrder: 'big' }).name).toBe('ppc64');
    expect(archFor({ elfClass: 32, machine: 8, byteOrder: 'little', flags: 0x20 }).name).toBe('mipsn32el');
    expect(archFor({ elfClass: 64, machine: 0x9026, byteOrder: 'little' }).generic).toBe(true);
  });

});
