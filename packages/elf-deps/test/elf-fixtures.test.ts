/**
 * Fixtures the test builds — gcc (64- and 32-bit, static, static-pie, -z nodeflib, a version script),
 * patchelf (RPATH, RUNPATH, SONAME, an added DT_NEEDED, a new interpreter) and the crafted-ELF writer
 * (big-endian, PN_XNUM, a DT_STRTAB only the section headers can locate) — each read by the reader and
 * compared with readelf field by field, then checked against what the build asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf, type ElfInfo } from '../src/index.js';
import { craftElf, type CraftSpec } from './helpers/elf-writer.js';
import { compileC, makeTempDir, patchelf, readElfRaw } from './helpers/fixtures.js';
import { compareWithReadelf, readelfBatch, type ReadelfView } from './helpers/readelf.js';

const DF_ORIGIN = 0x1;
const DF_BIND_NOW = 0x8;
const DF_1_NOW = 0x1;
const DF_1_NODEFLIB = 0x800;
const DF_1_PIE = 0x08000000;
const LD64 = '/lib64/ld-linux-x86-64.so.2';
const LD32 = '/lib/ld-linux.so.2';

const MAIN = 'int main(void) { return 0; }\n';
const USES_LIBM = '#include <math.h>\nint main(int argc, char **argv) { (void)argv; return (int)cos((double)argc); }\n';
const LIB = 'int f1(void) { return 1; }\nint f2(void) { return 2; }\n';
const VERSION_SCRIPT = 'VERS_1 { global: f1; local: *; };\nVERS_2 { global: f2; } VERS_1;\n';
const USES_LIB = 'int f1(void);\nint f2(void);\nint main(void) { return f1() + f2(); }\n';

let dir: string;
beforeAll(() => {
  dir = makeTempDir('fixtures');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Reads `file` with versions and asserts readelf reads it without error and agrees on every field. */
function agreeWithReadelf(file: string, opts: { versions?: boolean } = {}): { info: ElfInfo; view: ReadelfView } {
  const info = readElf(file, { versions: opts.versions ?? true });
  const view = readelfBatch([file]).get(file);
  if (!view) throw new Error(`readelf printed nothing for ${file}`);
  expect(view.errors, `readelf errors on ${file}`).toEqual([]);
  expect(compareWithReadelf(file, info, view)).toEqual([]);
  return { info, view };
}

function writeCrafted(name: string, spec: CraftSpec): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, craftElf(spec).bytes);
  return p;
}

describe('the readelf comparison itself', () => {
  it('notices a wrong field: reordered DT_NEEDED, a lost flag bit, a missing version, a renamed interpreter', () => {
    const exe = compileC(dir, 'oracle-self-check', USES_LIBM, ['-lm']);
    const info = readElf(exe, { versions: true });
    const view = readelfBatch([exe]).get(exe);
    if (!view || !info.dynamic) throw new Error('fixture not read');
    expect(compareWithReadelf(exe, info, view)).toEqual([]);
    const wrong: ElfInfo[] = [
      { ...info, dynamic: { ...info.dynamic, needed: [...info.dynamic.needed].reverse() } },
      { ...info, dynamic: { ...info.dynamic, flags1: info.dynamic.flags1 & ~DF_1_PIE } },
      { ...info, versionNeeds: info.versionNeeds?.slice(1) ?? [] },
      { ...info, interpreter: '/lib/other.so' },
      { ...info, elfClass: 32 },
    ];
    for (const w of wrong) expect(compareWithReadelf(exe, w, view).length).toBeGreaterThan(0);
  });
});

describe('gcc builds', () => {
  it('a 64-bit PIE executable is a pie-executable asking for the x86-64 loader, needing libm then libc', () => {
    const exe = compileC(dir, 'pie64', USES_LIBM, ['-lm']);
    const { info } = agreeWithReadelf(exe);
    expect(info).toMatchObject({ elfClass: 64, byteOrder: 'little', machine: 62, type: 3, kind: 'pie-executable', interpreter: LD64 });
    expect(info.dynamic?.needed).toEqual(['libm.so.6', 'libc.so.6']);
    expect(info.dynamic?.pie).toBe(true);
    expect(info.versionNeeds?.map((n) => n.file).sort()).toEqual(['libc.so.6', 'libm.so.6']);
  });

  it('a -no-pie executable is ET_EXEC, kind executable', () => {
    const exe = compileC(dir, 'nopie64', MAIN, ['-no-pie']);
    const { info } = agreeWithReadelf(exe);
    expect(info).toMatchObject({ type: 2, kind: 'executable', interpreter: LD64 });
    expect(info.dynamic?.pie).toBe(false);
  });

  it('gcc -m32: a 32-bit i386 executable asks for /lib/ld-linux.so.2; a 32-bit shared library has its SONAME', () => {
    const exe = compileC(dir, 'exe32', USES_LIBM, ['-m32', '-lm']);
    const lib = compileC(dir, 'libthirty.so.1', LIB, ['-m32', '-shared', '-fPIC', '-Wl,-soname,libthirty.so.1']);
    const e = agreeWithReadelf(exe).info;
    expect(e).toMatchObject({ elfClass: 32, byteOrder: 'little', machine: 3, kind: 'pie-executable', interpreter: LD32 });
    expect(e.dynamic?.needed).toEqual(['libm.so.6', 'libc.so.6']);
    expect(e.versionNeeds?.find((n) => n.file === 'libc.so.6')?.versions.length).toBeGreaterThan(0);
    const l = agreeWithReadelf(lib).info;
    expect(l).toMatchObject({ elfClass: 32, machine: 3, type: 3, kind: 'shared-library' });
    expect(l.interpreter).toBeUndefined();
    expect(l.dynamic?.soname).toBe('libthirty.so.1');
  });

  it('-static gives a static-executable: no PT_INTERP, no PT_DYNAMIC', () => {
    const exe = compileC(dir, 'static', MAIN, ['-static']);
    const { info } = agreeWithReadelf(exe);
    expect(info).toMatchObject({ type: 2, kind: 'static-executable' });
    expect(info.interpreter).toBeUndefined();
    expect(info.dynamic).toBeUndefined();
  });

  it('-static-pie gives a static-pie: ET_DYN with DF_1_PIE and no PT_INTERP', () => {
    const exe = compileC(dir, 'staticpie', MAIN, ['-static-pie']);
    const { info, view } = agreeWithReadelf(exe);
    expect(info).toMatchObject({ type: 3, kind: 'static-pie' });
    expect(info.interpreter).toBeUndefined();
    expect(info.dynamic?.needed).toEqual([]);
    expect(info.dynamic?.pie).toBe(true);
    expect(view.pieType).toBe(true);
  });

  it('-z nodefaultlib sets DF_1_NODEFLIB; -z origin and -z now set DF_ORIGIN, DF_BIND_NOW and DF_1_NOW', () => {
    // GNU ld spells it `-z nodefaultlib`; `-z nodeflib` (the Solaris / lld spelling) it ignores with a warning.
    const exe = compileC(dir, 'nodeflib', MAIN, ['-Wl,-z,nodefaultlib', '-Wl,-z,origin', '-Wl,-z,now']);
    const { info } = agreeWithReadelf(exe);
    expect(info.dynamic?.nodeflib).toBe(true);
    expect(info.dynamic?.origin).toBe(true);
    expect((info.dynamic?.flags1 ?? 0) & (DF_1_NODEFLIB | DF_1_NOW | DF_1_PIE)).toBe(DF_1_NODEFLIB | DF_1_NOW | DF_1_PIE);
    expect((info.dynamic?.flags ?? 0) & (DF_ORIGIN | DF_BIND_NOW)).toBe(DF_ORIGIN | DF_BIND_NOW);
    const plain = agreeWithReadelf(compileC(dir, 'plain', MAIN)).info;
    expect(plain.dynamic?.nodeflib).toBe(false);
  });

  it('the linker writes DT_RPATH with --disable-new-dtags and DT_RUNPATH with --enable-new-dtags', () => {
    const old = agreeWithReadelf(compileC(dir, 'oldtags', MAIN, ['-Wl,--disable-new-dtags', '-Wl,-rpath,$ORIGIN/../lib:/opt/old'])).info;
    expect(old.dynamic?.rpath).toBe('$ORIGIN/../lib:/opt/old');
    expect(old.dynamic?.rpathList).toEqual(['$ORIGIN/../lib', '/opt/old']);
    expect(old.dynamic?.runpath).toBeUndefined();
    const nu = agreeWithReadelf(compileC(dir, 'newtags', MAIN, ['-Wl,--enable-new-dtags', '-Wl,-rpath,/opt/new'])).info;
    expect(nu.dynamic?.runpath).toBe('/opt/new');
    expect(nu.dynamic?.rpath).toBeUndefined();
  });

  it('ld --auxiliary and --filter write DT_AUXILIARY and DT_FILTER names', () => {
    const lib = compileC(dir, 'libfilter.so', LIB, ['-shared', '-fPIC', '-Wl,--auxiliary=libaux.so.1', '-Wl,--filter=libfilt.so.2']);
    const { info } = agreeWithReadelf(lib);
    expect(info.dynamic?.auxiliary).toEqual(['libaux.so.1']);
    expect(info.dynamic?.filter).toEqual(['libfilt.so.2']);
  });

  it('a version script: the library defines BASE, VERS_1, VERS_2; its user needs VERS_1 and VERS_2 from it', () => {
    const vdir = path.join(dir, 'vers');
    fs.mkdirSync(vdir);
    fs.writeFileSync(path.join(vdir, 'v.map'), VERSION_SCRIPT);
    const lib = compileC(vdir, 'libvers.so.1', LIB, ['-shared', '-fPIC', '-Wl,--version-script=v.map', '-Wl,-soname,libvers.so.1']);
    const defs = agreeWithReadelf(lib).info.versionDefinitions;
    expect(defs).toEqual([
      { name: 'libvers.so.1', base: true, index: 1 },
      { name: 'VERS_1', base: false, index: 2 },
      { name: 'VERS_2', base: false, index: 3 },
    ]);
    const user = compileC(vdir, 'user', USES_LIB, ['./libvers.so.1']);
    const info = agreeWithReadelf(user).info;
    expect(info.dynamic?.needed).toEqual(['libvers.so.1', 'libc.so.6']);
    const fromLib = info.versionNeeds?.find((n) => n.file === 'libvers.so.1');
    expect(fromLib?.versions.map((v) => v.name).sort()).toEqual(['VERS_1', 'VERS_2']);
    expect(fromLib?.versions.every((v) => !v.weak)).toBe(true);
    expect(info.versionNeeds?.find((n) => n.file === 'libc.so.6')?.versions.map((v) => v.name)).toContain('GLIBC_2.34');
  });

  it('without { versions: true } no version tables are read', () => {
    const info = readElf(compileC(dir, 'noversions', MAIN), {});
    expect(info.versionNeeds).toBeUndefined();
    expect(info.versionDefinitions).toBeUndefined();
  });
});

describe('patchelf edits', () => {
  let exe64: string;
  let exe32: string;
  let lib64: string;
  beforeAll(() => {
    exe64 = compileC(dir, 'patch64', USES_LIBM, ['-lm']);
    exe32 = compileC(dir, 'patch32', USES_LIBM, ['-m32', '-lm']);
    lib64 = compileC(dir, 'libpatch.so', LIB, ['-shared', '-fPIC', '-Wl,-soname,libpatch.so.0']);
  });
  const copy = (from: string, name: string): string => {
    const to = path.join(dir, name);
    fs.copyFileSync(from, to);
    return to;
  };

  for (const bits of [64, 32] as const) {
    it(`--force-rpath --set-rpath writes DT_RPATH (${bits}-bit)`, () => {
      const f = copy(bits === 64 ? exe64 : exe32, `rpath${bits}`);
      patchelf(f, ['--force-rpath', '--set-rpath', '$ORIGIN/lib::/opt/a']);
      const { info } = agreeWithReadelf(f);
      expect(info.dynamic?.rpath).toBe('$ORIGIN/lib::/opt/a');
      expect(info.dynamic?.rpathList).toEqual(['$ORIGIN/lib', '', '/opt/a']);
      expect(info.dynamic?.runpath).toBeUndefined();
    });

    it(`--set-rpath writes DT_RUNPATH (${bits}-bit)`, () => {
      const f = copy(bits === 64 ? exe64 : exe32, `runpath${bits}`);
      patchelf(f, ['--set-rpath', '/opt/run:/opt/two']);
      const { info } = agreeWithReadelf(f);
      expect(info.dynamic?.runpath).toBe('/opt/run:/opt/two');
      expect(info.dynamic?.rpath).toBeUndefined();
    });

    it(`--add-needed and --set-interpreter: the new name is read, order as readelf lists it (${bits}-bit)`, () => {
      const f = copy(bits === 64 ? exe64 : exe32, `needed${bits}`);
      patchelf(f, ['--add-needed', 'libextra.so.9']);
      patchelf(f, ['--set-interpreter', '/opt/loader/ld-custom.so.1']);
      const { info, view } = agreeWithReadelf(f);
      expect(info.dynamic?.needed).toEqual(view.needed);
      expect(info.dynamic?.needed).toContain('libextra.so.9');
      expect(info.dynamic?.needed).toContain('libm.so.6');
      expect(info.interpreter).toBe('/opt/loader/ld-custom.so.1');
    });
  }

  it('--set-soname renames a shared library', () => {
    const f = copy(lib64, 'libpatch-renamed.so');
    patchelf(f, ['--set-soname', 'librenamed-with-a-much-longer-name.so.42']);
    const { info } = agreeWithReadelf(f);
    expect(info.dynamic?.soname).toBe('librenamed-with-a-much-longer-name.so.42');
  });
});

describe('crafted files (the byte writer), checked against readelf', () => {
  const full = (elfClass: 32 | 64, byteOrder: 'little' | 'big'): CraftSpec => ({
    elfClass,
    byteOrder,
    type: 3,
    interp: '/lib/ld-crafted.so.1',
    needed: ['libfoo.so.1', 'libbar.so.2'],
    soname: 'libself.so.3',
    rpath: '$ORIGIN/../lib:/opt/x',
    runpath: '/r1::/r2',
    auxiliary: ['libaux.so'],
    filter: ['libfilt.so'],
    flags: DF_ORIGIN | DF_BIND_NOW,
    flags1: DF_1_PIE | DF_1_NODEFLIB | DF_1_NOW,
    verneed: [
      { file: 'libfoo.so.1', versions: [{ name: 'FOO_1.0' }, { name: 'FOO_2.0', weak: true }] },
      { file: 'libbar.so.2', versions: [{ name: 'BAR_1' }] },
    ],
    verdef: [{ name: 'libself.so.3', base: true }, { name: 'SELF_1' }, { name: 'SELF_2', parents: ['SELF_1'] }],
  });

  for (const [cls, order] of [
    [32, 'big'],
    [64, 'big'],
    [32, 'little'],
    [64, 'little'],
  ] as const) {
    it(`ELF${cls} ${order}-endian: every field, version needs (with a weak one) and definitions`, () => {
      const f = writeCrafted(`crafted-${cls}-${order}`, full(cls, order));
      const { info } = agreeWithReadelf(f);
      expect(info).toMatchObject({ elfClass: cls, byteOrder: order, machine: order === 'big' ? (cls === 64 ? 21 : 20) : cls === 64 ? 62 : 3 });
      expect(info.kind).toBe('pie-executable');
      expect(info.interpreter).toBe('/lib/ld-crafted.so.1');
      expect(info.dynamic).toMatchObject({
        needed: ['libfoo.so.1', 'libbar.so.2'],
        soname: 'libself.so.3',
        rpathList: ['$ORIGIN/../lib', '/opt/x'],
        runpathList: ['/r1', '', '/r2'],
        auxiliary: ['libaux.so'],
        filter: ['libfilt.so'],
        nodeflib: true,
        pie: true,
        origin: true,
      });
      expect(info.versionNeeds?.map((n) => [n.file, n.versions.map((v) => `${v.name}${v.weak ? ' (weak)' : ''}`)])).toEqual([
        ['libfoo.so.1', ['FOO_1.0', 'FOO_2.0 (weak)']],
        ['libbar.so.2', ['BAR_1']],
      ]);
      expect(info.versionDefinitions?.map((d) => d.name)).toEqual(['libself.so.3', 'SELF_1', 'SELF_2']);
    });
  }

  it('PN_XNUM: 65,536 program headers, e_phnum 0xffff, the real count in section header 0 sh_info', () => {
    // More than 0xfffe program headers is the only case the gABI gives for PN_XNUM.
    const f = writeCrafted('xnum-real', { ...full(64, 'little'), phnumXnum: true, extraPhdrs: 65536 - 4 });
    const { info, view } = agreeWithReadelf(f);
    expect(view.interpreter).toBe('/lib/ld-crafted.so.1');
    expect(info.dynamic?.needed).toEqual(['libfoo.so.1', 'libbar.so.2']);
  });

  it('PN_XNUM with a small real count, big-endian 32-bit: the count still comes from section header 0', () => {
    const f = writeCrafted('xnum-small', { elfClass: 32, byteOrder: 'big', interp: '/lib/ld.so.1', needed: ['liba.so'], phnumXnum: true });
    const info = readElfRaw(f, { versions: true });
    // readelf 2.40 complains that 0xffff headers cannot fit before it resolves PN_XNUM, then reads all 4.
    const view = readelfBatch([f]).get(f);
    expect(view && compareWithReadelf(f, info, view)).toEqual([]);
    expect(info.raw?.header.phnum).toBe(4);
    expect(info.interpreter).toBe('/lib/ld.so.1');
    expect(info.dynamic?.needed).toEqual(['liba.so']);
  });

  it('a DT_STRTAB no PT_LOAD maps falls back to the section headers (.dynamic sh_link → .dynstr)', () => {
    for (const [cls, order] of [
      [64, 'little'],
      [32, 'big'],
    ] as const) {
      const spec: CraftSpec = { ...full(cls, order), strtabOutsideLoad: true };
      const crafted = craftElf(spec);
      const f = path.join(dir, `strtab-fallback-${cls}`);
      fs.writeFileSync(f, crafted.bytes);
      const { info } = agreeWithReadelf(f);
      const raw = readElfRaw(f).raw;
      expect(raw?.strings?.offset).toBe(crafted.layout.dynstr.offset);
      expect(info.dynamic?.needed).toEqual(['libfoo.so.1', 'libbar.so.2']);
      expect(info.versionNeeds?.[0]?.file).toBe('libfoo.so.1');
    }
  });

  it('DT_FLAGS / DT_FLAGS_1 with bits above 2^32 set (ELF64): the low 32 bits, exactly, as ld.so keeps them', () => {
    // get-dynamic-info.h copies d_val into l_flags / l_flags_1, which are ElfW(Word): 32 bits. Bit 53 set
    // used to push the value past 2^53, where a JS number rounds away DF_1_NOW (bit 0).
    for (const order of ['little', 'big'] as const) {
      const f = writeCrafted(`flags-high-${order}`, {
        elfClass: 64,
        byteOrder: order,
        needed: ['liba.so'],
        flags: (1n << 53n) | BigInt(DF_BIND_NOW | DF_ORIGIN),
        flags1: (1n << 53n) | BigInt(DF_1_NOW | DF_1_NODEFLIB),
      });
      const { info } = agreeWithReadelf(f);
      expect(info.dynamic?.flags).toBe(DF_BIND_NOW | DF_ORIGIN);
      expect(info.dynamic?.flags1).toBe(DF_1_NOW | DF_1_NODEFLIB);
      expect(info.dynamic?.nodeflib).toBe(true);
      expect(info.dynamic?.origin).toBe(true);
    }
  });

  it('DF_1_PIE in bit 27 and bit 31 set: flags stay unsigned 32-bit values', () => {
    const f = writeCrafted('flags-bit31', { elfClass: 32, byteOrder: 'big', interp: '/lib/ld.so.1', needed: ['liba.so'], flags1: DF_1_PIE | 0x80000000 });
    const { info } = agreeWithReadelf(f);
    expect(info.dynamic?.flags1).toBe((DF_1_PIE | 0x80000000) >>> 0);
    expect(info.kind).toBe('pie-executable');
  });

  it('without section headers (sstrip-like) DT_STRTAB alone locates the strings', () => {
    const f = writeCrafted('no-sections', { ...full(64, 'big'), noSections: true });
    // readelf reads version tables only through section headers: compare without them.
    const { info } = agreeWithReadelf(f, { versions: false });
    expect(info.dynamic?.needed).toEqual(['libfoo.so.1', 'libbar.so.2']);
    expect(readElf(f, { versions: true }).versionNeeds?.map((n) => n.file)).toEqual(['libfoo.so.1', 'libbar.so.2']);
  });
});
