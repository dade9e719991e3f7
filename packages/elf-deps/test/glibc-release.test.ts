/**
 * The target's glibc release decides the rules. Each rule that changed after 2.36 is shown on the two
 * real loaders at hand: this host's glibc 2.36 and Debian 13's 2.41 (the trixie test root), the same
 * fixture in front of each, each loader's answer the expectation for its own root. 2.42's change
 * (BZ 25263) has no loader here: its switch is shown on a copy of this host's loader whose version
 * banner says 2.42, against the 2.36 behaviour ldd shows.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EM_X86_64,
  Resolver,
  SysRoot,
  buildCacheFromLdConf,
  formatCacheEntry,
  glibcRules,
  readGlibcRelease,
  readLdCache,
  readLdConf,
  resolveClosure,
  targetFor,
  type LdCache,
} from '../src/internal.js';
import { buildExe, buildLib, copyWithMachine, loaderTrace } from './helpers/build-fixtures.js';
import { makeTempDir } from './helpers/fixtures.js';
import { inRoot, parseTraceList, testRootOrSkip, type TestRoot } from './helpers/test-roots.js';

const LD64 = '/lib64/ld-linux-x86-64.so.2';
const host = fs.realpathSync(makeTempDir('glibc-release'));
const trixie = testRootOrSkip('trixie-amd64');
/** A scratch directory inside the trixie root (its /tmp), removed afterwards: the root itself stays as built. */
const inTrixie = trixie ? fs.mkdtempSync(path.join(trixie.dir, 'tmp', 'elfcopy-release-')) : '';
const inTrixiePath = inTrixie && trixie ? inTrixie.slice(trixie.dir.length) : '';
afterAll(() => {
  fs.rmSync(host, { recursive: true, force: true });
  if (inTrixie) fs.rmSync(inTrixie, { recursive: true, force: true });
});

function mkdir(...parts: string[]): string {
  const d = path.join(...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** The loader's list for a program in a root (ldd there), paths as printed. */
function lddIn(root: TestRoot, prog: string, env: Record<string, string> = {}, cwd?: string): ReturnType<typeof parseTraceList> {
  const r = inRoot(root, ['/usr/bin/ldd', prog], { env, ...(cwd !== undefined ? { cwd } : {}) });
  return parseTraceList(r.stdout + r.stderr);
}

function hostLdd(prog: string, env: Record<string, string> = {}, cwd?: string): ReturnType<typeof parseTraceList> {
  const r = execFileSync('/usr/bin/ldd', [prog], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env }, ...(cwd ? { cwd } : {}) });
  return parseTraceList(r);
}

describe('reading the release', () => {
  it("this host's: the loader's --list-diagnostics version, read from the banner in its file", () => {
    const diag = execFileSync(LD64, ['--list-diagnostics'], { encoding: 'utf8' });
    const m = /^version\.version="(\d+)\.(\d+)"$/m.exec(diag);
    expect(m).not.toBeNull();
    const reading = readGlibcRelease(new SysRoot('/'), [LD64]);
    expect(reading.release).toEqual({ major: Number(m?.[1]), minor: Number(m?.[2]) });
    expect(reading.from).toBe(LD64);
  });

  it('a root with no readable version: one warning for the run, naming what was tried, and 2.36\'s rules', () => {
    const r = mkdir(host, 'nolibc');
    const lib = buildLib(mkdir(r, 'opt'), 'libn.so');
    const a = buildExe(mkdir(r, 'bin'), 'a', { rpath: '/opt', needed: ['libn.so'] });
    const b = buildExe(mkdir(r, 'bin'), 'b', { rpath: '/opt', needed: ['libn.so'] });
    // An unreadable "libc" (not a file) and no loader at all.
    mkdir(r, 'lib/x86_64-linux-gnu/libc.so.6');
    const g = resolveClosure([a.slice(r.length), b.slice(r.length)], { root: r });
    expect(g.warnings).toHaveLength(1);
    expect(g.warnings[0]).toMatch(/no glibc version banner could be read in \/lib64\/ld-linux-x86-64\.so\.2, \/lib\/x86_64-linux-gnu\/libc\.so\.6.*glibc 2\.36's rules assumed/);
    const t = targetFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }, new SysRoot(r));
    expect(t.glibc?.assumed).toBe(true);
    expect(t.legacyHwcapDirs).toContain('tls');
    expect(g.nodes.has(lib.slice(r.length))).toBe(true);
  });

  it('the rules switch at the releases that changed them', () => {
    const at = (minor: number) => glibcRules({ major: 2, minor });
    expect([36, 37, 38, 39, 40, 41, 42].map((m) => at(m).legacyHwcapSubdirs)).toEqual([true, false, false, false, false, false, false]);
    expect([36, 38, 39].map((m) => at(m).nonDirectoryEndsSearchPath)).toEqual([true, true, false]);
    expect([39, 40].map((m) => at(m).cacheLegacyHwcapEntries)).toEqual([true, false]);
    expect([41, 42].map((m) => at(m).explicitLoaderResolvesOrigin)).toEqual([false, true]);
    expect(glibcRules({ major: 3, minor: 0 }).explicitLoaderResolvesOrigin).toBe(true);
  });
});

describe.skipIf(!trixie)('2.36 (this host) against 2.41 (trixie): each loader the oracle for its own root', () => {
  const root = trixie as TestRoot;

  it('2.37 dropped the legacy tls/platform/hwcap subdirectories (6099908fb84d)', () => {
    for (const [base, inRootBase] of [
      [mkdir(host, 'legacy'), path.join(host, 'legacy')],
      [mkdir(inTrixie, 'legacy'), path.join(inTrixiePath, 'legacy')],
    ] as const) {
      buildLib(mkdir(base, 'lib'), 'libt.so');
      buildLib(mkdir(base, 'lib', 'tls'), 'libt.so');
      buildExe(base, 'prog', { rpath: `${inRootBase}/lib`, needed: ['libt.so'] });
    }
    const hostProg = path.join(host, 'legacy', 'prog');
    const rootProg = path.join(inTrixiePath, 'legacy', 'prog');
    const hostReal = hostLdd(hostProg).paths.filter((p) => p.includes('libt.so'));
    const rootReal = lddIn(root, rootProg).paths.filter((p) => p.includes('libt.so'));
    expect(hostReal).toEqual([path.join(host, 'legacy', 'lib', 'tls', 'libt.so')]);
    expect(rootReal).toEqual([path.join(inTrixiePath, 'legacy', 'lib', 'libt.so')]);
    const ours = (r: string | undefined, p: string): string[] => resolveClosure([p], r ? { root: r } : {}).roots[0]?.objects.filter((o) => o.includes('libt.so')) ?? [];
    expect(ours(undefined, hostProg)).toEqual(hostReal);
    expect(ours(root.dir, rootProg)).toEqual(rootReal);
  });

  it('2.39 skips a relative non-directory element of a search path instead of ending it (a8dcffb30680, BZ 31035)', () => {
    for (const base of [mkdir(host, 'nondir'), mkdir(inTrixie, 'nondir')]) {
      buildLib(mkdir(base, 'lib'), 'libq.so');
      buildExe(base, 'prog', { needed: ['libq.so'] });
      fs.writeFileSync(path.join(base, 'notadir'), 'a file, not a directory\n');
    }
    const env = { LD_LIBRARY_PATH: 'notadir:lib' };
    const hostCwd = path.join(host, 'nondir');
    const rootCwd = path.join(inTrixiePath, 'nondir');
    const hostReal = hostLdd('./prog', env, hostCwd);
    const rootReal = lddIn(root, './prog', env, rootCwd);
    expect(hostReal.missing).toEqual(['libq.so']);
    expect(rootReal.paths).toContain('lib/libq.so');
    const hostOurs = resolveClosure([`${hostCwd}/prog`], { cwd: hostCwd, ldLibraryPath: env.LD_LIBRARY_PATH });
    expect(hostOurs.missing.map((m) => m.name)).toEqual(['libq.so']);
    const rootOurs = resolveClosure([`${rootCwd}/prog`], { root: root.dir, cwd: rootCwd, ldLibraryPath: env.LD_LIBRARY_PATH });
    expect(rootOurs.missing).toEqual([]);
    // The loader prints the name it opened, relative as the element was; ours is joined with the cwd.
    expect(rootOurs.roots[0]?.objects).toContain(`${rootCwd}/lib/libq.so`);
  });

  it('2.40 ignores ld.so.cache entries with legacy hwcap bits (c5aa5fd40adc): one cache, two loaders', () => {
    // Two minimal roots, each with its own loader and libc, sharing the cache 2.36's ldconfig writes:
    // a plain entry for /opt/l/libt.so and one for /opt/l/tls/libt.so carrying the TLS hwcap bit.
    const trixieLoader = path.join(root.dir, 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
    const trixieLibc = path.join(root.dir, 'usr/lib/x86_64-linux-gnu/libc.so.6');
    const results: Record<string, { real: string[]; ours: string[] }> = {};
    for (const [name, loader, libc] of [
      ['host', fs.realpathSync(LD64), fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6')],
      ['trixie', fs.realpathSync(trixieLoader), fs.realpathSync(trixieLibc)],
    ] as const) {
      const m = mkdir(host, `mini-${name}`);
      mkdir(m, 'lib64');
      fs.copyFileSync(loader, path.join(m, 'lib64', 'ld-linux-x86-64.so.2'));
      fs.copyFileSync(libc, path.join(mkdir(m, 'lib', 'x86_64-linux-gnu'), 'libc.so.6'));
      buildLib(mkdir(m, 'opt', 'l'), 'libt.so');
      buildLib(mkdir(m, 'opt', 'l', 'tls'), 'libt.so');
      buildExe(m, 'prog', { needed: ['libt.so'] });
      fs.writeFileSync(path.join(mkdir(m, 'etc'), 'ld.so.conf'), '/opt/l\n');
      execFileSync('ldconfig', ['-X', '-r', m]);
      const cache = readLdCache(new SysRoot(m));
      expect(cache?.entries.filter((e) => e.name === 'libt.so').map((e) => [e.path, e.hwcap !== 0n])).toEqual([
        ['/opt/l/tls/libt.so', true],
        ['/opt/l/libt.so', false],
      ]);
      const real = parseTraceList(execFileSync('chroot', [m, '/lib64/ld-linux-x86-64.so.2', '--list', '/prog'], { encoding: 'utf8' })).paths.filter((p) => p.includes('libt'));
      const ours = resolveClosure(['/prog'], { root: m }).roots[0]?.objects.filter((p) => p.includes('libt')) ?? [];
      results[name] = { real, ours };
    }
    expect(results).toEqual({
      host: { real: ['/opt/l/tls/libt.so'], ours: ['/opt/l/tls/libt.so'] },
      trixie: { real: ['/opt/l/libt.so'], ours: ['/opt/l/libt.so'] },
    });
  });

  it("2.37's ldconfig neither scans legacy subdirectories nor records hwcap bits (b78ff5a25dc8): the emulation writes what trixie's ldconfig writes", () => {
    const lines = (cache: LdCache | undefined): string[] => (cache?.entries ?? []).map((e) => `${formatCacheEntry(e)} hwcap=${e.hwcap.toString(16)}`);
    const base = mkdir(inTrixie, 'ldconfig');
    buildLib(mkdir(base, 'l'), 'libc1.so.1');
    buildLib(mkdir(base, 'l', 'tls'), 'libc1.so.1');
    buildLib(mkdir(base, 'l', 'haswell'), 'libc1.so.1');
    buildLib(mkdir(base, 'l', 'glibc-hwcaps', 'x86-64-v2'), 'libc1.so.1');
    const inRootBase = path.join(inTrixiePath, 'ldconfig');
    fs.writeFileSync(path.join(base, 'ld.so.conf'), `${inRootBase}/l\n`);
    const run = inRoot(root, ['/sbin/ldconfig', '-X', '-f', `${inRootBase}/ld.so.conf`, '-C', `${inRootBase}/real.cache`]);
    expect(run.status, run.stderr).toBe(0);
    const sys = new SysRoot(root.dir);
    const real = readLdCache(sys, `${inRootBase}/real.cache`);
    const target = targetFor({ elfClass: 64, machine: EM_X86_64, byteOrder: 'little' }, sys);
    expect(target.glibc?.ldconfigLegacyHwcaps).toBe(false);
    const conf = readLdConf(sys, { path: `${inRootBase}/ld.so.conf`, builtinDirs: target.systemDirs });
    const predicted = buildCacheFromLdConf(sys, conf, target);
    expect(lines(predicted.cache)).toEqual(lines(real));
    expect(lines(real).filter((l) => l.includes('libc1.so.1')).map((l) => l.replace(/ hwcap=.*/, ''))).toEqual([
      `libc1.so.1 (libc6,x86-64, hwcap: "x86-64-v2") => ${inRootBase}/l/glibc-hwcaps/x86-64-v2/libc1.so.1`,
      `libc1.so.1 (libc6,x86-64) => ${inRootBase}/l/libc1.so.1`,
    ]);
  });
});

describe("$ORIGIN of an executable run as `ld.so PROG` (what ldd does): unresolved before 2.42 (9b646f5dc933, BZ 25263)", () => {
  const base = mkdir(host, 'origin');
  buildLib(mkdir(base, 'real', 'lib'), 'libo.so');
  buildLib(mkdir(base, 'link', 'lib'), 'libo.so');
  const prog = buildExe(mkdir(base, 'real'), 'prog', { rpath: '$ORIGIN/lib', needed: ['libo.so'] });
  const link = path.join(base, 'link', 'prog');
  fs.symlinkSync(prog, link);
  const libo = (g: ReturnType<typeof resolveClosure>): string[] => g.roots[0]?.objects.filter((p) => p.endsWith('libo.so')) ?? [];

  it('run directly the origin is the real path\'s directory; through ld.so (2.36) the directory of the link', () => {
    const direct = loaderTrace(link, LD64);
    expect([...direct.paths].filter((p) => p.endsWith('libo.so'))).toEqual([path.join(base, 'real', 'lib', 'libo.so')]);
    const viaLdd = hostLdd(link).paths.filter((p) => p.endsWith('libo.so'));
    expect(viaLdd).toEqual([path.join(base, 'link', 'lib', 'libo.so')]);
    expect(libo(resolveClosure([link]))).toEqual([path.join(base, 'real', 'lib', 'libo.so')]);
    expect(libo(resolveClosure([link], { invocation: 'ld.so' }))).toEqual(viaLdd);
  });

  it('a root whose loader says 2.42 resolves it for `ld.so PROG` too', () => {
    // A copy of this host's loader with its banner's version rewritten: the rules are read, never run.
    const r = mkdir(host, 'glibc242');
    const bytes = fs.readFileSync(fs.realpathSync(LD64));
    const banner = Buffer.from('release version 2.36', 'latin1');
    const at = bytes.indexOf(banner);
    expect(at).toBeGreaterThan(0);
    Buffer.from('release version 2.42', 'latin1').copy(bytes, at);
    fs.writeFileSync(path.join(mkdir(r, 'lib64'), 'ld-linux-x86-64.so.2'), bytes);
    fs.cpSync(path.join(base, 'real'), path.join(r, 'real'), { recursive: true });
    mkdir(r, 'link', 'lib');
    fs.copyFileSync(path.join(base, 'link', 'lib', 'libo.so'), path.join(r, 'link', 'lib', 'libo.so'));
    fs.symlinkSync('/real/prog', path.join(r, 'link', 'prog'));
    const resolver = new Resolver({ root: r, invocation: 'ld.so' });
    const g = resolver.resolve(['/link/prog']);
    expect(libo(g)).toEqual(['/real/lib/libo.so']);
    expect(g.warnings).toEqual([]);
  });
});

describe('an e_machine the architecture table does not know', () => {
  it('class and byte order are still read, the closure uses generic rules, and one warning names them', () => {
    const d = mkdir(host, 'alpha');
    const lib = buildLib(mkdir(d, 'lib'), 'liba.so');
    const exe = buildExe(d, 'prog', { rpath: path.join(d, 'lib'), needed: ['liba.so'] });
    const EM_ALPHA = 0x9026;
    const alphaLib = copyWithMachine(lib, path.join(mkdir(d, 'alib'), 'liba.so'), EM_ALPHA);
    const alphaExe = copyWithMachine(exe, path.join(d, 'aprog'), EM_ALPHA);
    const alphaExe2 = copyWithMachine(exe, path.join(d, 'aprog2'), EM_ALPHA);
    const g = resolveClosure([alphaExe, alphaExe2], { ldLibraryPath: path.dirname(alphaLib) });
    expect(g.inputErrors).toEqual([]);
    expect(g.warnings).toHaveLength(1);
    expect(g.warnings[0]).toMatch(/e_machine 36902.*ELF64 little-endian.*generic glibc rules assumed \(\$LIB=lib64, system directories \/lib64:\/usr\/lib64:\/lib:\/usr\/lib/);
    expect(g.nodes.get(alphaExe)?.info.machine).toBe(EM_ALPHA);
    // The alpha copy of the library is taken from LD_LIBRARY_PATH; the x86-64 one on RPATH is refused.
    expect(g.nodes.has(alphaLib)).toBe(true);
    expect(g.nodes.get(alphaLib)?.rejected.map((r) => [r.path, r.reason])).toEqual([[lib, 'wrong-machine']]);
    // In a root with no glibc at all it is still one warning, naming the release rules assumed too.
    const bare = mkdir(host, 'alpha-root');
    fs.copyFileSync(alphaExe, path.join(bare, 'aprog'));
    const inBare = resolveClosure(['/aprog'], { root: bare });
    expect(inBare.warnings).toHaveLength(1);
    expect(inBare.warnings[0]).toMatch(/generic glibc rules assumed .*; glibc 2\.36's release rules \(no version banner found\)$/);
    // A static executable has no loader: nothing is assumed about one.
    const st = buildExe(d, 'static', { flags: ['-static'] });
    const alphaStatic = copyWithMachine(st, path.join(bare, 'astatic'), EM_ALPHA);
    expect(resolveClosure([alphaStatic.slice(bare.length)], { root: bare }).warnings).toEqual([]);
  });
});
