/**
 * The resolver's search rules, one fixture each, built here with gcc and patchelf. Wherever the fixture
 * can run, the resolver's answer is compared with the real loader's (the fixture run with
 * LD_TRACE_LOADED_OBJECTS=1: rtld maps the closure, prints it and exits before main). System libraries
 * may come from ld.so.cache or the system directories; everything else is asserted exactly.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EM_AARCH64,
  SysRoot,
  resolveClosure,
  whyChains,
  type ClosureGraph,
  type ClosureNode,
  type ResolveOptions,
} from '../src/internal.js';
import { buildChrootTracer, buildExe, buildLib, copyWithMachine, loaderTrace, resolvedSet, type LoaderRun } from './helpers/build-fixtures.js';
import { makeTempDir } from './helpers/fixtures.js';
import { loaderRunner, parseDiagnostics, parseLdSoHelp } from './helpers/loader-report.js';

const tmp = fs.realpathSync(makeTempDir('resolve-fixtures'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const INTERP_64 = '/lib64/ld-linux-x86-64.so.2';
const INTERP_32 = '/lib/ld-linux.so.2';
const SYSTEM_VIA = ['ld.so.cache', 'system-dir'];
const isRoot = process.getuid?.() === 0;

function dir(...parts: string[]): string {
  const d = path.join(tmp, ...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function nodeAt(g: ClosureGraph, p: string): ClosureNode {
  const n = g.nodes.get(p);
  if (!n) throw new Error(`${p} is not in the closure: ${[...g.nodes.keys()].join(', ')}`);
  return n;
}

/** The first input's missing names as [name, reason, neededBy]. */
function missingOf(g: ClosureGraph): [string, string, string[]][] {
  return (g.roots[0]?.missing ?? []).map((m) => [m.name, m.reason, m.neededBy]);
}

/** Resolves `file` and checks the answer against the real loader run with the same LD_LIBRARY_PATH and cwd. */
function agree(file: string, options: ResolveOptions = {}): ClosureGraph {
  const g = resolveClosure([file], options);
  const env: Record<string, string> = options.ldLibraryPath !== undefined ? { LD_LIBRARY_PATH: options.ldLibraryPath } : {};
  const real = loaderTrace(file, g.roots[0]?.interpreter ?? INTERP_64, { env, ...(options.cwd ? { cwd: options.cwd } : {}) });
  expect(real.status, real.stderr).toBe(0);
  compare(g, real);
  return g;
}

function compare(g: ClosureGraph, real: LoaderRun): void {
  const ours = resolvedSet(g);
  expect({ paths: ours.paths, missing: ours.missing }).toEqual({ paths: real.paths, missing: real.missing });
  // rtld leaves its own line out of the trace when a name is missing.
  if (real.interpreter !== undefined) expect(ours.interpreter).toBe(real.interpreter);
}

/** The real loader's verdict on a fixture ld.so must refuse: it exits 127 naming the candidate. */
function loaderRefuses(file: string, candidate: string, message: RegExp): void {
  const real = loaderTrace(file, INTERP_64);
  expect(real.status).toBe(127);
  expect(real.stderr).toContain(candidate);
  expect(real.stderr).toMatch(message);
}

describe('RPATH', () => {
  it("RPATH chain inheritance: the requester's RPATH first, then its loader's, up to the executable's", () => {
    const dA = dir('rpath', 'a');
    const dC = dir('rpath', 'c');
    buildLib(dC, 'libc3.so');
    buildLib(dC, 'liborder.so');
    buildLib(dA, 'liborder.so');
    buildLib(dA, 'libb.so', { needed: ['libc3.so', 'liborder.so'] });
    buildLib(dA, 'liba.so', { rpath: dC, needed: ['libb.so'] });
    const exe = buildExe(dir('rpath'), 'prog', { rpath: dA, needed: ['liba.so'] });
    const g = agree(exe);
    const liba = path.join(dA, 'liba.so');
    expect(nodeAt(g, liba).foundVia).toEqual({ kind: 'rpath', owner: exe });
    // libb, needed by liba: liba's own RPATH (dC) is searched first, then the executable's (dA).
    const libb = nodeAt(g, path.join(dA, 'libb.so'));
    expect(libb.foundVia).toEqual({ kind: 'rpath', owner: exe });
    expect(libb.tried).toEqual([
      { dir: dC, source: { kind: 'rpath', owner: liba } },
      { dir: dA, source: { kind: 'rpath', owner: exe } },
    ]);
    // The grandchildren of liba (libb has no RPATH): liba's RPATH serves them, before the executable's.
    expect(nodeAt(g, path.join(dC, 'libc3.so')).foundVia).toEqual({ kind: 'rpath', owner: liba });
    expect(nodeAt(g, path.join(dC, 'liborder.so')).foundVia).toEqual({ kind: 'rpath', owner: liba });
    expect(g.nodes.has(path.join(dA, 'liborder.so'))).toBe(false);
  });

  it('an empty DT_RPATH string is ignored, not the working directory (decompose_rpath)', () => {
    const d = dir('rpath-empty');
    const cwd = dir('rpath-empty', 'cwd');
    buildLib(cwd, 'libe.so');
    const exe = buildExe(d, 'prog', { needed: ['libe.so'] });
    execFileSync('patchelf', ['--force-rpath', '--set-rpath', '', exe]);
    const g = agree(exe, { cwd });
    expect(missingOf(g)).toEqual([['libe.so', 'not-found', [exe]]]);
  });
});

describe('RUNPATH', () => {
  it("RUNPATH serves direct dependencies only: a grandchild only in the executable's RUNPATH directory is not found", () => {
    const dA = dir('runpath-direct', 'a');
    buildLib(dA, 'libb.so');
    const liba = buildLib(dA, 'liba.so', { needed: ['libb.so'] });
    const exe = buildExe(dir('runpath-direct'), 'prog', { runpath: dA, needed: ['liba.so'] });
    const g = agree(exe);
    expect(nodeAt(g, liba).foundVia).toEqual({ kind: 'runpath', owner: exe });
    expect(missingOf(g)).toEqual([['libb.so', 'not-found', [liba]]]);
  });

  it("RUNPATH on the requester cuts the RPATH chain: the executable's RPATH is not searched for its needs", () => {
    const dA = dir('runpath-cut', 'a');
    const empty = dir('runpath-cut', 'empty');
    buildLib(dA, 'libb.so');
    const liba = buildLib(dA, 'liba.so', { runpath: empty, needed: ['libb.so'] });
    const exe = buildExe(dir('runpath-cut'), 'prog', { rpath: dA, needed: ['liba.so'] });
    const g = agree(exe);
    expect(nodeAt(g, liba).foundVia).toEqual({ kind: 'rpath', owner: exe });
    expect(missingOf(g)).toEqual([['libb.so', 'not-found', [liba]]]);
    const tried = g.roots[0]?.missing[0]?.tried ?? [];
    expect(tried[0]).toEqual({ dir: empty, source: { kind: 'runpath', owner: liba } });
    expect(tried.some((t) => t.dir === dA)).toBe(false);
  });

  it('an object with both DT_RPATH and DT_RUNPATH ignores its RPATH, as requester and as ancestor', () => {
    const dB = dir('both', 'b');
    const dR = dir('both', 'r');
    const dY = dir('both', 'y');
    buildLib(dR, 'libq.so');
    buildLib(dR, 'libgrand.so');
    buildLib(dB, 'libgrand2.so');
    const child = buildLib(dY, 'libchild.so', { needed: ['libgrand.so', 'libgrand2.so'] });
    const both = buildLib(dB, 'libboth.so', { rpath: dR, runpath: dY, needed: ['libchild.so', 'libq.so'] });
    const exe = buildExe(dir('both'), 'prog', { rpath: dB, needed: ['libboth.so'] });
    const g = agree(exe);
    expect(nodeAt(g, both).info.dynamic).toMatchObject({ rpath: dR, runpath: dY });
    expect(nodeAt(g, child).foundVia).toEqual({ kind: 'runpath', owner: both });
    // libchild has neither tag: its RPATH chain runs libchild → libboth (RPATH ignored) → the executable.
    expect(nodeAt(g, path.join(dB, 'libgrand2.so')).foundVia).toEqual({ kind: 'rpath', owner: exe });
    expect(missingOf(g)).toEqual([
      ['libq.so', 'not-found', [both]],
      ['libgrand.so', 'not-found', [child]],
    ]);
  });
});

describe('LD_LIBRARY_PATH', () => {
  const dR = dir('llp', 'r');
  const dL = dir('llp', 'l');
  const dU = dir('llp', 'u');
  const dCwd = dir('llp', 'cwd');
  for (const d of [dR, dL, dU, dCwd]) buildLib(d, 'libx.so');
  const withRpath = buildExe(dir('llp'), 'prog-rpath', { rpath: dR, needed: ['libx.so'] });
  const withRunpath = buildExe(dir('llp'), 'prog-runpath', { runpath: dU, needed: ['libx.so'] });

  it('LD_LIBRARY_PATH comes after RPATH', () => {
    const g = agree(withRpath, { ldLibraryPath: dL });
    expect(nodeAt(g, path.join(dR, 'libx.so')).foundVia).toEqual({ kind: 'rpath', owner: withRpath });
  });

  it("LD_LIBRARY_PATH comes before RUNPATH; ';' separates like ':'", () => {
    const g = agree(withRunpath, { ldLibraryPath: `/nonexistent;${dL}` });
    const node = nodeAt(g, path.join(dL, 'libx.so'));
    expect(node.foundVia).toEqual({ kind: 'ld_library_path' });
    expect(node.tried.map((t) => t.dir)).toEqual(['/nonexistent', dL]);
  });

  it("an empty LD_LIBRARY_PATH element is the cwd option (':' separator)", () => {
    const g = agree(withRunpath, { ldLibraryPath: '/nonexistent:', cwd: dCwd });
    expect(nodeAt(g, path.join(dCwd, 'libx.so')).foundVia).toEqual({ kind: 'ld_library_path' });
  });

  it('an empty LD_LIBRARY_PATH is no search path at all, not the working directory (_dl_init_paths)', () => {
    const g = agree(withRunpath, { ldLibraryPath: '', cwd: dCwd });
    expect(nodeAt(g, path.join(dU, 'libx.so')).foundVia).toEqual({ kind: 'runpath', owner: withRunpath });
  });
});

describe('dynamic string tokens', () => {
  it('$ORIGIN and ${ORIGIN} of a symlinked executable: the directory of its real path', () => {
    const bin = dir('origin-exe', 'real', 'bin');
    const lib1 = dir('origin-exe', 'real', 'lib1');
    const lib2 = dir('origin-exe', 'real', 'lib2');
    buildLib(lib1, 'libo1.so');
    buildLib(lib2, 'libo2.so');
    // Decoys where the symlink's own directory would lead.
    buildLib(dir('origin-exe', 'lib1'), 'libo1.so');
    buildLib(dir('origin-exe', 'lib2'), 'libo2.so');
    const viaRpath = buildExe(bin, 'prog-rpath', { rpath: '$ORIGIN/../lib1', needed: ['libo1.so'] });
    const viaRunpath = buildExe(bin, 'prog-runpath', { runpath: '${ORIGIN}/../lib2', needed: ['libo2.so'] });
    const links = dir('origin-exe', 'links');
    for (const [exe, libDir, file, kind] of [
      [viaRpath, lib1, 'libo1.so', 'rpath'],
      [viaRunpath, lib2, 'libo2.so', 'runpath'],
    ] as const) {
      const link = path.join(links, path.basename(exe));
      fs.symlinkSync(exe, link);
      const g = agree(link);
      // As ld.so names it: the element expanded, not normalised.
      const node = nodeAt(g, `${bin}/../${path.basename(libDir)}/${file}`);
      expect(node.realPath).toBe(path.join(libDir, file));
      expect(node.foundVia).toEqual({ kind, owner: link });
    }
  });

  it("a library's $ORIGIN is the directory of the path it was found under, not resolved", () => {
    const dA = dir('origin-lib', 'a');
    const store = dir('origin-lib', 'store');
    buildLib(store, 'libo.so', { runpath: '$ORIGIN/dep', needed: ['libdep.so'] });
    fs.symlinkSync('../store/libo.so', path.join(dA, 'libo.so'));
    buildLib(dir('origin-lib', 'a', 'dep'), 'libdep.so');
    buildLib(dir('origin-lib', 'store', 'dep'), 'libdep.so');
    const exe = buildExe(dir('origin-lib'), 'prog', { rpath: dA, needed: ['libo.so'] });
    const g = agree(exe);
    const libo = nodeAt(g, path.join(dA, 'libo.so'));
    expect(libo.realPath).toBe(path.join(store, 'libo.so'));
    expect(nodeAt(g, path.join(dA, 'dep', 'libdep.so')).foundVia).toEqual({ kind: 'runpath', owner: libo.path });
  });

  it('$LIB is lib/x86_64-linux-gnu and $PLATFORM the platform rtld reports', () => {
    // Both from the loader itself (--list-diagnostics: dl_dst_lib, dl_platform), never from targetFor:
    // every CPU (haswell on Intel, x86_64 on AMD, …) exercises its own platform directory.
    const diag = parseDiagnostics(loaderRunner(INTERP_64).run(['--list-diagnostics']).stdout);
    const lib = diag.get('dl_dst_lib') ?? '';
    const platform = diag.get('dl_platform') ?? '';
    expect(lib).toBe('lib/x86_64-linux-gnu');
    expect(platform).not.toBe('');
    const d = dir('lib-platform');
    buildLib(dir('lib-platform', ...lib.split('/')), 'libl.so');
    buildLib(dir('lib-platform', platform), 'libp.so');
    const exe = buildExe(d, 'prog', { runpath: `${d}/$LIB:${d}/\${PLATFORM}`, needed: ['libl.so', 'libp.so'] });
    const g = agree(exe);
    expect(g.nodes.has(`${d}/${lib}/libl.so`)).toBe(true);
    expect(g.nodes.has(`${d}/${platform}/libp.so`)).toBe(true);
  });

  it("a DST in a DT_NEEDED name is expanded with the requester's origin (dl-deps.c expand_dst), then taken as a path", () => {
    const d = dir('needed-dst');
    const lib = buildLib(dir('needed-dst', 'sub'), 'libn.so');
    const exe = buildExe(d, 'prog', { needed: ['$ORIGIN/sub/libn.so'] });
    const g = agree(exe);
    expect(nodeAt(g, lib).foundVia).toEqual({ kind: 'path' });
  });
});

describe('hwcaps subdirectories', () => {
  // The levels this CPU's loader searches, from its own --help (never from the CPU model).
  const levels = parseLdSoHelp(loaderRunner(INTERP_64).run(['--help']).stdout)
    .hwcaps.filter((h) => h.searched)
    .map((h) => h.name);

  it.skipIf(levels.length === 0)('a glibc-hwcaps variant beside the baseline: the best active level wins, every variant is reported', () => {
    const base = dir('hwcaps', 'lib');
    const copies = [path.join(base, 'libh.so')];
    buildLib(base, 'libh.so');
    for (const level of levels) copies.push(buildLib(dir('hwcaps', 'lib', 'glibc-hwcaps', level), 'libh.so'));
    const exe = buildExe(dir('hwcaps'), 'prog', { rpath: base, needed: ['libh.so'] });
    const best = `glibc-hwcaps/${levels[0]}`;
    const g = agree(exe);
    const node = nodeAt(g, path.join(base, best, 'libh.so'));
    expect(node.hwcapsSubdir).toBe(best);
    expect([...node.variants].sort()).toEqual(copies.filter((c) => c !== node.path).sort());
    // With no active level the baseline is taken, and every hwcaps copy is a variant of it.
    const off = resolveClosure([exe], { target: { hwcaps: [] } });
    const baseline = nodeAt(off, path.join(base, 'libh.so'));
    expect(baseline.hwcapsSubdir).toBeUndefined();
    expect([...baseline.variants].sort()).toEqual(copies.slice(1).sort());
  });

  it('legacy hwcap subdirectories (glibc 2.36): tls before x86_64, both before the directory itself', () => {
    const base = dir('legacy', 'lib');
    buildLib(base, 'libt.so');
    buildLib(dir('legacy', 'lib', 'x86_64'), 'libt.so');
    buildLib(dir('legacy', 'lib', 'tls'), 'libt.so');
    const exe = buildExe(dir('legacy'), 'prog', { runpath: base, needed: ['libt.so'] });
    const g = agree(exe);
    expect(nodeAt(g, path.join(base, 'tls', 'libt.so')).hwcapsSubdir).toBe('tls');
  });
});

describe('candidates open_verify refuses', () => {
  it('a wrong-class and a wrong-machine candidate earlier on the path are skipped, the search goes on', () => {
    const good = dir('verify', 'good');
    const w32 = dir('verify', 'w32');
    const wm = dir('verify', 'wm');
    const lib = buildLib(good, 'libv.so');
    buildLib(w32, 'libv.so', { m32: true });
    copyWithMachine(lib, path.join(wm, 'libv.so'), EM_AARCH64);
    const exe = buildExe(dir('verify'), 'prog', { rpath: `${w32}:${wm}:${good}`, needed: ['libv.so'] });
    const g = agree(exe);
    const node = nodeAt(g, lib);
    expect(node.foundVia).toEqual({ kind: 'rpath', owner: exe });
    expect(node.rejected.map((r) => [r.path, r.reason])).toEqual([
      [path.join(w32, 'libv.so'), 'wrong-class'],
      [path.join(wm, 'libv.so'), 'wrong-machine'],
    ]);
  });

  it('a non-ELF candidate earlier on the path is fatal for the name: missing, reason invalid', () => {
    const good = dir('not-elf', 'good');
    const bad = dir('not-elf', 'bad');
    buildLib(good, 'libx.so.1');
    // A linker script, as /usr/lib/x86_64-linux-gnu/libc.so is: longer than an ELF header, not ELF.
    fs.writeFileSync(path.join(bad, 'libx.so.1'), '/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( libx.so.2 AS_NEEDED ( libx-extra.so.2 ) )\n');
    const exe = buildExe(dir('not-elf'), 'prog', { rpath: `${bad}:${good}`, needed: ['libx.so.1'] });
    const g = resolveClosure([exe]);
    expect(missingOf(g)).toEqual([['libx.so.1', 'invalid', [exe]]]);
    expect(g.nodes.has(path.join(good, 'libx.so.1'))).toBe(false);
    loaderRefuses(exe, path.join(bad, 'libx.so.1'), /invalid ELF header/);
  });

  it('a truncated ELF candidate earlier on the path is fatal too', () => {
    const good = dir('truncated', 'good');
    const lib = buildLib(good, 'libt.so');
    const bytes = fs.readFileSync(lib);
    for (const [size, message] of [
      [40, /file too short/],
      [300, /cannot read file data/],
    ] as const) {
      const bad = dir('truncated', `bad${size}`);
      fs.writeFileSync(path.join(bad, 'libt.so'), bytes.subarray(0, size));
      const exe = buildExe(dir('truncated'), `prog${size}`, { rpath: `${bad}:${good}`, needed: ['libt.so'] });
      expect(missingOf(resolveClosure([exe]))).toEqual([['libt.so', 'invalid', [exe]]]);
      loaderRefuses(exe, path.join(bad, 'libt.so'), message);
    }
  });

  it('a directory named like the library earlier on the path is fatal (read fails with EISDIR)', () => {
    const good = dir('dir-candidate', 'good');
    const bad = dir('dir-candidate', 'bad');
    buildLib(good, 'libd.so');
    fs.mkdirSync(path.join(bad, 'libd.so'));
    const exe = buildExe(dir('dir-candidate'), 'prog', { rpath: `${bad}:${good}`, needed: ['libd.so'] });
    expect(missingOf(resolveClosure([exe]))).toEqual([['libd.so', 'invalid', [exe]]]);
    loaderRefuses(exe, path.join(bad, 'libd.so'), /cannot read file data/);
  });

  it('a symlink loop named like the library ends that search path (open_path: errno ELOOP), not the search', () => {
    const loop = dir('eloop', 'loop');
    const after = dir('eloop', 'after');
    const llp = dir('eloop', 'llp');
    fs.symlinkSync('libl.so', path.join(loop, 'libl.so'));
    buildLib(after, 'libl.so');
    const lib = buildLib(llp, 'libl.so');
    const exe = buildExe(dir('eloop'), 'prog', { rpath: `${loop}:${after}`, needed: ['libl.so'] });
    // The rest of the RPATH list is skipped: not found …
    expect(missingOf(agree(exe))).toEqual([['libl.so', 'not-found', [exe]]]);
    // … but LD_LIBRARY_PATH, the next search path, is still searched.
    expect(nodeAt(agree(exe, { ldLibraryPath: llp }), lib).foundVia).toEqual({ kind: 'ld_library_path' });
  });
});

describe('DF_1_NODEFLIB', () => {
  it('DF_1_NODEFLIB on the requester: a library only in the system directories is not found for it', () => {
    const d = dir('nodeflib');
    const libn = buildLib(d, 'libn.so', { needed: ['libz.so.1'] });
    const exe = buildExe(d, 'prog', { rpath: d, needed: ['libn.so'], flags: ['-Wl,-z,nodefaultlib'] });
    const g = agree(exe);
    expect(nodeAt(g, exe).info.dynamic?.nodeflib).toBe(true);
    expect(nodeAt(g, libn).foundVia).toEqual({ kind: 'rpath', owner: exe });
    // libc.so.6 is needed by the program (NODEFLIB): not found; libz, needed by libn, is found as usual.
    expect(missingOf(g)).toEqual([['libc.so.6', 'not-found', [exe]]]);
    const libz = [...g.nodes.values()].find((n) => n.soname === 'libz.so.1');
    expect(SYSTEM_VIA).toContain(libz?.foundVia.kind);
  });

  it.skipIf(!isRoot)('DF_1_NODEFLIB drops only the cache entries inside the system directories (_dl_map_object)', () => {
    const root = dir('nodeflib-cache', 'root');
    populateRoot(root);
    buildLib(path.join(root, 'opt/cachelib'), 'libcached.so.1');
    fs.writeFileSync(path.join(root, 'etc/ld.so.conf'), '/opt/cachelib\n');
    execFileSync('ldconfig', ['-r', root]);
    // Needs libcached.so.1, then libc.so.6 (linked in).
    buildExe(path.join(root, 'bin'), 'prog', { needed: ['libcached.so.1'], flags: ['-Wl,-z,nodefaultlib'] });
    const g = resolveClosure(['/bin/prog'], { root });
    expect(g.index).toBe('ld.so.cache');
    expect(nodeAt(g, '/opt/cachelib/libcached.so.1').foundVia).toEqual({ kind: 'ld.so.cache' });
    expect(missingOf(g)).toEqual([['libc.so.6', 'not-found', ['/bin/prog']]]);
    compare(g, chrootTrace(root, '/bin/prog'));
  });
});

describe('loaded objects are reused', () => {
  const d = dir('reuse', 'lib');
  const real = buildLib(d, 'libfoo.so.1');
  fs.symlinkSync('libfoo.so.1', path.join(d, 'libfoo.so'));

  it('soname reuse: libfoo.so (a symlink name) then libfoo.so.1, the SONAME of what it found, is loaded once', () => {
    const exe = buildExe(dir('reuse'), 'prog-soname', { rpath: d, needed: ['libfoo.so', 'libfoo.so.1'] });
    const g = agree(exe);
    const rc = g.roots[0];
    const node = nodeAt(g, path.join(d, 'libfoo.so'));
    expect(node.realPath).toBe(real);
    expect(node.soname).toBe('libfoo.so.1');
    expect(rc?.objects.filter((p) => p.includes('libfoo'))).toEqual([path.join(d, 'libfoo.so')]);
    expect(rc?.edges.find((e) => e.name === 'libfoo.so.1')?.via).toEqual({ kind: 'reused' });
  });

  it('the same file by another path (device and inode) is loaded once', () => {
    const other = dir('reuse', 'hardlink');
    fs.linkSync(real, path.join(other, 'libbar.so'));
    // libfoo.so.1 first; then libfoo.so is searched (not its SONAME) and found to be the same file;
    // then a slash name naming a hard link of it.
    const exe = buildExe(dir('reuse'), 'prog-inode', { rpath: d, needed: ['libfoo.so.1', 'libfoo.so', path.join(other, 'libbar.so')] });
    const g = agree(exe);
    const rc = g.roots[0];
    expect(rc?.objects.filter((p) => p !== exe && !p.includes('ld-linux') && !p.includes('libc.so'))).toEqual([real]);
    expect(rc?.edges.filter((e) => e.to === real).map((e) => [e.name, e.via.kind])).toEqual([
      ['libfoo.so.1', 'rpath'],
      ['libfoo.so', 'reused'],
      [path.join(other, 'libbar.so'), 'reused'],
    ]);
  });

  it('cycles terminate: liba ↔ libb, each loaded once', () => {
    const c = dir('cycle');
    const liba = buildLib(c, 'liba.so', { needed: ['libb.so'], rpath: c });
    const libb = buildLib(c, 'libb.so', { needed: ['liba.so'], rpath: c });
    const exe = buildExe(c, 'prog', { rpath: c, needed: ['liba.so'] });
    const g = agree(exe);
    expect(g.roots[0]?.objects.filter((p) => p === liba || p === libb)).toEqual([liba, libb]);
    expect(nodeAt(g, liba).neededBy.sort()).toEqual([exe, libb].sort());
    expect(nodeAt(g, libb).dependencies).toEqual([{ name: 'liba.so', path: liba }]);
  });
});

describe('names with a slash', () => {
  it('an absolute DT_NEEDED name is opened as is, no search', () => {
    const d = dir('slash-abs');
    const lib = buildLib(dir('slash-abs', 'elsewhere'), 'libs.so');
    buildLib(dir('slash-abs', 'rp'), 'libs.so');
    const exe = buildExe(d, 'prog', { rpath: path.join(d, 'rp'), needed: [lib] });
    const g = agree(exe);
    const node = nodeAt(g, lib);
    expect(node.foundVia).toEqual({ kind: 'path' });
    expect(node.tried).toEqual([]);
  });

  it('a relative DT_NEEDED name with a slash is taken against the cwd option', () => {
    const d = dir('slash-rel');
    const cwd = dir('slash-rel', 'cwd');
    const lib = buildLib(dir('slash-rel', 'cwd', 'sub'), 'librel.so');
    const exe = buildExe(d, 'prog', { needed: ['sub/librel.so'] });
    const g = agree(exe, { cwd });
    expect(nodeAt(g, lib).foundVia).toEqual({ kind: 'path' });
    expect(missingOf(resolveClosure([exe], { cwd: d }))).toEqual([['sub/librel.so', 'not-found', [exe]]]);
  });
});

describe('other kinds of program', () => {
  it('a 32-bit program resolves to /lib32 or /usr/lib32 and the interpreter /lib/ld-linux.so.2; $LIB is lib32', () => {
    const d = dir('m32');
    const lib = buildLib(dir('m32', 'lib32'), 'libm32.so', { m32: true });
    buildLib(dir('m32', 'lib64'), 'libm32.so');
    const exe = buildExe(d, 'prog', { m32: true, rpath: `${d}/lib64:${d}/$LIB`, needed: ['libm32.so'] });
    const g = agree(exe);
    const rc = g.roots[0];
    expect(rc?.interpreter).toBe(INTERP_32);
    const node = nodeAt(g, lib);
    expect(node.rejected.map((r) => r.reason)).toEqual(['wrong-class']);
    const libc = [...g.nodes.values()].find((n) => n.soname === 'libc.so.6');
    expect(libc?.path).toMatch(/^\/(usr\/)?lib32\/libc\.so\.6$/);
    expect(SYSTEM_VIA).toContain(libc?.foundVia.kind);
    expect([...g.nodes.values()].every((n) => n.info.elfClass === 32)).toBe(true);
  });

  it('static and static-pie programs: the closure is the file itself, no interpreter, nothing missing', () => {
    const d = dir('static');
    const st = buildExe(d, 'static', { flags: ['-static'] });
    const sp = buildExe(d, 'static-pie', { flags: ['-static-pie'] });
    const g = resolveClosure([st, sp]);
    expect(g.roots.map((r) => [r.path, r.kind, r.objects, r.interpreter, r.missing])).toEqual([
      [st, 'static-executable', [st], undefined, []],
      [sp, 'static-pie', [sp], undefined, []],
    ]);
    expect(g.missing).toEqual([]);
  });
});

describe('whyChains', () => {
  it('gives the loader chain: the first object to need it, back to the input', () => {
    const d = dir('why');
    const libd = buildLib(d, 'libd.so');
    const liba = buildLib(d, 'liba.so', { needed: ['libd.so'] });
    const libb = buildLib(d, 'libb.so', { needed: ['libd.so'] });
    const exe = buildExe(d, 'prog', { rpath: d, needed: ['liba.so', 'libb.so'] });
    const g = agree(exe);
    const expected = [{ root: exe, chain: [exe, liba, libd] }];
    expect(whyChains(g, 'libd.so')).toEqual(expected);
    expect(whyChains(g, libd)).toEqual(expected);
    expect(nodeAt(g, libd).neededBy).toEqual([liba, libb]);
    expect(whyChains(g, 'libnothere.so')).toEqual([]);
  });
});

describe('a sysroot', () => {
  it('absolute symlinks resolve inside the root; nothing outside it is read', () => {
    const root = dir('sysroot', 'root');
    populateRoot(root);
    // Outside the root, at the very path an in-root link names: a decoy that must not be read.
    const elsewhere = dir('sysroot', 'elsewhere');
    buildLib(elsewhere, 'libs.so');
    const inside = buildLib(path.join(root, elsewhere), 'libs.so');
    fs.mkdirSync(path.join(root, 'opt/app'), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(root, 'opt/app/lib'));
    buildExe(path.join(root, 'opt/app/bin'), 'prog', { rpath: '/opt/app/lib', needed: ['libs.so'] });
    const g = resolveClosure(['/opt/app/bin/prog'], { root });
    const rc = g.roots[0];
    expect(rc?.interpreter).toBe(INTERP_64);
    expect(nodeAt(g, INTERP_64).realPath).toBe('/usr/lib64/ld-linux-x86-64.so.2');
    const libs = nodeAt(g, '/opt/app/lib/libs.so');
    expect(libs.realPath).toBe(path.join(elsewhere, 'libs.so'));
    const st = fs.statSync(inside);
    expect([libs.info.dev, libs.info.ino]).toEqual([st.dev, st.ino]);
    // No cache in the root: ld.so goes straight to the system directories.
    expect(g.index).toBe('none');
    const libc = nodeAt(g, '/lib/x86_64-linux-gnu/libc.so.6');
    expect(libc.foundVia).toEqual({ kind: 'system-dir' });
    expect(libc.realPath).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6');
    expect(rc?.missing).toEqual([]);
    for (const n of g.nodes.values()) expect(fs.existsSync(path.join(root, n.realPath))).toBe(true);
    if (isRoot) compare(g, chrootTrace(root, '/opt/app/bin/prog'));
  });
});

/**
 * A minimal root the fixtures can run in: the host's loader and libc, /lib → usr/lib (relative) and
 * /lib64 → /usr/lib64 (absolute, resolved inside the root).
 */
function populateRoot(root: string): void {
  const multiarch = path.join(root, 'usr/lib/x86_64-linux-gnu');
  fs.mkdirSync(multiarch, { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib64'), { recursive: true });
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.copyFileSync(fs.realpathSync(INTERP_64), path.join(root, 'usr/lib64/ld-linux-x86-64.so.2'));
  fs.copyFileSync(fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6'), path.join(multiarch, 'libc.so.6'));
  fs.symlinkSync('usr/lib', path.join(root, 'lib'));
  fs.symlinkSync('/usr/lib64', path.join(root, 'lib64'));
}

let tracer: string | undefined;

/** The loader's trace of `file` run in a chroot, its paths resolved inside the root. */
function chrootTrace(root: string, file: string): LoaderRun {
  const sys = new SysRoot(root);
  tracer ??= buildChrootTracer(dir('chroot-tracer'));
  const run = loaderTrace(tracer, INTERP_64, { args: [root, file], realpath: (p) => sys.realpath(p) ?? p });
  expect(run.status, run.stderr).toBe(0);
  return run;
}

/**
 * Under --list (detail 'objects') an input whose namespace another input of the batch already had is
 * replayed, not walked (resolver.ts, templateKeyOf). The full graph is always walked: it is the
 * reference, checked against the real loader throughout this file.
 */
describe('a batch under --list', () => {
  /**
   * What --list keeps of each input and of the graph, in order. A node's neededBy is an edge, which
   * detail 'objects' drops: it is left out here, and the listed graph must have none (listedGraph).
   */
  function listView(g: ClosureGraph): unknown {
    return {
      roots: g.roots.map((rc) => ({ path: rc.path, objects: rc.objects, missing: rc.missing.map((m) => [m.name, m.reason, m.neededBy, m.detail, m.tried, m.rejected]) })),
      nodes: [...g.nodes.values()].map((n) => [n.path, n.dependencies]),
      missing: g.missing.map((m) => [m.name, m.reason, m.neededBy]),
      errors: g.inputErrors.map((e) => e.message),
    };
  }

  /** resolveClosure under --list's detail: its nodes carry no neededBy (the walked graph's do). */
  function listedGraph(inputs: string[], options: Parameters<typeof resolveClosure>[1] = {}): ClosureGraph {
    const g = resolveClosure(inputs, { ...options, detail: 'objects' });
    expect([...g.nodes.values()].filter((n) => n.neededBy.length > 0).map((n) => n.path)).toEqual([]);
    return g;
  }

  it('programs with the same DT_NEEDED names get what walking each gives: objects, missing names, needed-by of missing names', () => {
    const root = dir('batch', 'root');
    populateRoot(root);
    const lib = path.join(root, 'usr/lib/x86_64-linux-gnu');
    buildLib(lib, 'libb.so');
    buildLib(lib, 'liba.so', { needed: ['libb.so'] });
    const bin = path.join(root, 'usr/bin');
    for (const p of ['p1', 'p2', 'p3']) buildExe(bin, p, { needed: ['liba.so', 'libgone.so'] });
    // p4's libself.so is p4 itself (a hard link): walking p4 reuses the program for it, so a namespace
    // made for p5 (the same names) must not be replayed for p4, nor p4's for p5.
    const p4 = buildExe(bin, 'p4', { needed: ['liba.so', 'libself.so'] });
    buildExe(bin, 'p5', { needed: ['liba.so', 'libself.so'] });
    fs.linkSync(p4, path.join(lib, 'libself.so'));
    for (const order of [
      ['p1', 'p2', 'p3', 'p5', 'p4'],
      ['p4', 'p5', 'p3', 'p2', 'p1'],
    ]) {
      const inputs = order.map((p) => `/usr/bin/${p}`);
      const listed = listedGraph(inputs, { root });
      const walked = resolveClosure(inputs, { root });
      // The walked graph has the links the listed one leaves out: p1–p5, and libself.so (p4 as a library).
      expect(walked.nodes.get('/lib/x86_64-linux-gnu/liba.so')?.neededBy).toHaveLength(6);
      expect(listView(listed)).toEqual(listView(walked));
      const byPath = new Map(listed.roots.map((rc) => [rc.path, rc]));
      expect(byPath.get('/usr/bin/p4')?.objects).not.toContain('/lib/x86_64-linux-gnu/libself.so');
      expect(byPath.get('/usr/bin/p5')?.objects).toContain('/lib/x86_64-linux-gnu/libself.so');
      expect(byPath.get('/usr/bin/p2')?.missing.map((m) => [m.name, m.neededBy])).toEqual([['libgone.so', ['/usr/bin/p2']]]);
    }
  });

  it('programs with the same expanded RPATH or RUNPATH share a namespace; the same tags elsewhere do not', () => {
    const root = dir('batch-paths', 'root');
    populateRoot(root);
    for (const app of ['a', 'b']) {
      const lib = path.join(root, 'opt', app, 'lib');
      buildLib(lib, 'libdep.so');
      buildLib(lib, 'libapp.so', { needed: ['libdep.so'] });
      const bin = path.join(root, 'opt', app, 'bin');
      for (const p of ['r1', 'r2']) buildExe(bin, p, { runpath: '$ORIGIN/../lib', needed: ['libapp.so', 'libgone.so'] });
      for (const p of ['o1', 'o2']) buildExe(bin, p, { rpath: '$ORIGIN/../lib', needed: ['libapp.so', 'libgone.so'] });
    }
    const inputs = ['a/bin/r1', 'b/bin/r1', 'a/bin/r2', 'b/bin/r2', 'a/bin/o1', 'a/bin/o2', 'b/bin/o2', 'b/bin/o1'].map((p) => `/opt/${p}`);
    const listed = listedGraph(inputs, { root });
    const walked = resolveClosure(inputs, { root });
    expect(listView(listed)).toEqual(listView(walked));
    const byPath = new Map(listed.roots.map((rc) => [rc.path, rc]));
    expect(byPath.get('/opt/b/bin/r2')?.objects).toContain('/opt/b/bin/../lib/libapp.so');
    expect(byPath.get('/opt/b/bin/r2')?.missing[0]?.tried.filter((t) => t.source.kind === 'runpath')).toEqual([{ dir: '/opt/b/bin/../lib', source: { kind: 'runpath', owner: '/opt/b/bin/r2' } }]);
    expect(byPath.get('/opt/a/bin/o2')?.missing[0]?.tried.filter((t) => t.source.kind === 'rpath')).toEqual([{ dir: '/opt/a/bin/../lib', source: { kind: 'rpath', owner: '/opt/a/bin/o2' } }]);
  });

  it("this host's programs: the same objects, missing names and dependencies as walking each", () => {
    const programs = fs
      .readdirSync('/usr/bin')
      .sort()
      .map((n) => `/usr/bin/${n}`)
      .filter((p) => {
        const st = fs.statSync(p, { throwIfNoEntry: false });
        return st?.isFile() === true && st.size > 64;
      })
      .slice(0, 400);
    const walked = resolveClosure(programs, {});
    expect(walked.roots.length).toBeGreaterThan(100);
    expect(listView(listedGraph(programs))).toEqual(listView(walked));
  });
});
