/**
 * The resolver's rules on fixtures built here with gcc and patchelf, each checked against the real
 * loader by running the fixture itself with LD_TRACE_LOADED_OBJECTS=1 (our own fixtures: safe to run).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostX86Levels, resolveClosure, whyChains, type ClosureGraph, type ResolveOptions } from '../src/index.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-rules-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function dir(...parts: string[]): string {
  const d = path.join(tmp, ...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** A shared library NAME in DIR whose function calls the functions of `calls` (which it links against). */
function lib(d: string, soname: string, calls: { name: string; dir: string }[] = [], extra: string[] = []): string {
  const fn = soname.replace(/\W/g, '_');
  const src = path.join(d, `${fn}.c`);
  fs.writeFileSync(src, `${calls.map((c) => `int ${c.name.replace(/\W/g, '_')}(void);`).join('\n')}\nint ${fn}(void) { return 1${calls.map((c) => ` + ${c.name.replace(/\W/g, '_')}()`).join('')}; }\n`);
  const out = path.join(d, soname);
  execFileSync('gcc', ['-shared', '-fPIC', src, '-o', out, `-Wl,-soname,${soname}`, ...calls.flatMap((c) => [path.join(c.dir, c.name)]), ...extra]);
  return out;
}

function exe(d: string, name: string, calls: { name: string; dir: string }[], extra: string[] = []): string {
  const src = path.join(d, `${name}.c`);
  fs.writeFileSync(src, `${calls.map((c) => `int ${c.name.replace(/\W/g, '_')}(void);`).join('\n')}\nint main(void) { return 0${calls.map((c) => ` * ${c.name.replace(/\W/g, '_')}()`).join('')}; }\n`);
  const out = path.join(d, name);
  execFileSync('gcc', [src, '-o', out, ...calls.map((c) => path.join(c.dir, c.name)), ...extra]);
  return out;
}

/** Real paths the real loader maps for `file` (run directly: the kernel execs it, origin via /proc/self/exe). */
function loaderSees(file: string, env: Record<string, string> = {}, cwd?: string): { paths: string[]; missing: string[] } {
  const r = spawnSync(file, [], { env: { LD_TRACE_LOADED_OBJECTS: '1', ...env }, encoding: 'utf8', cwd });
  const paths: string[] = [];
  const missing: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // An empty LD_LIBRARY_PATH element is the working directory: ld.so then prints a relative path.
    // ld.so prints `name (addr)` alone when the name it was found under is the name asked for (an
    // empty LD_LIBRARY_PATH element: the working directory, so a relative name).
    const m = /=> (\S+) \(0x/.exec(line) ?? /^\s+((?!linux-vdso|linux-gate)\S+) \(0x/.exec(line);
    if (m) paths.push(fs.realpathSync(path.resolve(cwd ?? process.cwd(), m[1]!)));
    const nf = /^\s+(\S+) => not found/.exec(line);
    if (nf) missing.push(nf[1]!);
  }
  return { paths: paths.sort(), missing: missing.sort() };
}

function ours(g: ClosureGraph): { paths: string[]; missing: string[] } {
  const rc = g.roots[0]!;
  return {
    paths: rc.objects.filter((p) => p !== rc.path).map((p) => g.nodes.get(p)!.realPath).sort(),
    missing: rc.missing.map((m) => m.name).sort(),
  };
}

function agree(file: string, options: ResolveOptions = {}, env: Record<string, string> = {}): ClosureGraph {
  const g = resolveClosure([file], options);
  expect(ours(g)).toEqual(loaderSees(file, env, options.cwd));
  return g;
}

const via = (g: ClosureGraph, suffix: string) => [...g.nodes.values()].find((n) => n.path.endsWith(suffix))?.foundVia;

describe('search rules, checked against the real loader', () => {
  it('RPATH is inherited down the loader chain', () => {
    const d = dir('rpath-chain');
    const c = dir('rpath-chain', 'c');
    lib(c, 'libc3.so');
    const b = dir('rpath-chain', 'b');
    lib(b, 'libb.so', [{ name: 'libc3.so', dir: c }]);
    const e = exe(d, 'prog', [{ name: 'libb.so', dir: b }], [`-Wl,--disable-new-dtags,-rpath,${b}:${c}`]);
    const g = agree(e);
    expect(via(g, '/libc3.so')).toEqual({ kind: 'rpath', owner: e });
  });

  it('RUNPATH serves direct dependencies only, and cuts the RPATH chain; an object with both ignores its RPATH', () => {
    const d = dir('runpath');
    const c = dir('runpath', 'c');
    lib(c, 'libc3.so');
    const b = dir('runpath', 'b');
    lib(b, 'libb.so', [{ name: 'libc3.so', dir: c }]);
    const e1 = exe(d, 'prog1', [{ name: 'libb.so', dir: b }], [`-Wl,--enable-new-dtags,-rpath,${b}:${c}`]);
    const g1 = agree(e1);
    expect(g1.missing.map((m) => m.name)).toEqual(['libc3.so']);
    expect(via(g1, '/libb.so')).toEqual({ kind: 'runpath', owner: e1 });
    // An object with both tags: its RPATH is ignored, also as an ancestor. liba gets DT_RPATH (dir of
    // libc3) and, by turning its DT_SONAME entry into DT_RUNPATH, a RUNPATH naming libb's directory.
    const a = dir('runpath', 'a');
    const src = path.join(a, 'a.c');
    fs.writeFileSync(src, 'int libb_so(void); int liba_so(void) { return libb_so(); }\n');
    const liba = path.join(a, 'liba.so');
    execFileSync('gcc', ['-shared', '-fPIC', src, '-o', liba, `-Wl,-soname,${b}`, path.join(b, 'libb.so'), `-Wl,--disable-new-dtags,-rpath,${c}`]);
    const bytes = fs.readFileSync(liba);
    const phoff = Number(bytes.readBigUInt64LE(32));
    for (let i = 0; i < bytes.readUInt16LE(56); i++) {
      const at = phoff + i * 56;
      if (bytes.readUInt32LE(at) !== 2) continue;
      const off = Number(bytes.readBigUInt64LE(at + 8));
      for (let j = off; bytes.readBigInt64LE(j) !== 0n; j += 16) if (bytes.readBigInt64LE(j) === 14n) bytes.writeBigInt64LE(29n, j);
    }
    fs.writeFileSync(liba, bytes);
    const e2 = exe(d, 'prog2', [{ name: 'liba.so', dir: a }], [`-Wl,--disable-new-dtags,-rpath,${a}`, '-Wl,--allow-shlib-undefined']);
    const g2 = agree(e2);
    expect(g2.missing.map((m) => m.name)).toEqual(['libc3.so']);
    expect(via(g2, '/libb.so')).toEqual({ kind: 'runpath', owner: liba });
  });

  it('LD_LIBRARY_PATH comes after RPATH and before RUNPATH; ":" and ";" separate, empty = working directory', () => {
    const d = dir('llp');
    const a = dir('llp', 'a');
    const b = dir('llp', 'b');
    lib(a, 'libx.so');
    lib(b, 'libx.so');
    const e = exe(d, 'prog', [{ name: 'libx.so', dir: a }], [`-Wl,--enable-new-dtags,-rpath,${a}`]);
    const g = agree(e, { ldLibraryPath: `${b};/nonexistent:` }, { LD_LIBRARY_PATH: `${b};/nonexistent:` });
    expect(via(g, '/libx.so')).toEqual({ kind: 'ld_library_path' });
    expect(g.roots[0]!.objects).toContain(path.join(b, 'libx.so'));
    const cwdRun = agree(e, { ldLibraryPath: ':', cwd: b }, { LD_LIBRARY_PATH: ':' });
    expect(cwdRun.roots[0]!.objects).toContain(path.join(b, 'libx.so'));
  });

  it('$ORIGIN of an executable is the directory of its real path, even through a symlink', () => {
    const d = dir('origin', 'real', 'bin');
    const l = dir('origin', 'real', 'lib');
    lib(l, 'libo.so');
    const e = exe(d, 'prog', [{ name: 'libo.so', dir: l }], ['-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
    const linkDir = dir('origin', 'elsewhere');
    const link = path.join(linkDir, 'prog');
    fs.symlinkSync(e, link);
    const g = agree(link);
    const node = [...g.nodes.values()].find((n) => n.path.endsWith('/libo.so'))!;
    // As ld.so names it: the RUNPATH element expanded, not normalised.
    expect(node.path).toBe(`${d}/../lib/libo.so`);
    expect(node.realPath).toBe(path.join(l, 'libo.so'));
  });

  it('$LIB and ${PLATFORM} expand as the loader would', () => {
    const d = dir('dst');
    const libdir = dir('dst', 'lib', 'x86_64-linux-gnu');
    lib(libdir, 'libd.so');
    const e = exe(d, 'prog', [{ name: 'libd.so', dir: libdir }], [`-Wl,--enable-new-dtags,-rpath,${d}/$LIB:${d}/\${PLATFORM}`]);
    agree(e);
  });

  it('a glibc-hwcaps variant beside the baseline: chosen when the level is active, every variant reported', () => {
    const levels = hostX86Levels();
    expect(levels.length).toBeGreaterThan(0);
    const d = dir('hwcaps');
    const base = dir('hwcaps', 'lib');
    const hw = dir('hwcaps', 'lib', 'glibc-hwcaps', levels[levels.length - 1]!);
    lib(base, 'libh.so');
    lib(hw, 'libh.so');
    const e = exe(d, 'prog', [{ name: 'libh.so', dir: base }], [`-Wl,--enable-new-dtags,-rpath,${base}`]);
    const g = agree(e);
    const node = [...g.nodes.values()].find((n) => n.path.endsWith('/libh.so'))!;
    expect(node.path).toBe(path.join(hw, 'libh.so'));
    expect(node.hwcapsSubdir).toBe(`glibc-hwcaps/${levels[levels.length - 1]}`);
    expect(node.variants).toEqual([path.join(base, 'libh.so')]);
    const off = resolveClosure([e], { target: { hwcaps: [] } });
    expect(off.roots[0]!.objects).toContain(path.join(base, 'libh.so'));
  });

  it('wrong-class and wrong-machine candidates are skipped; a non-ELF candidate is fatal', () => {
    const d = dir('verify');
    const w32 = dir('verify', 'w32');
    const wm = dir('verify', 'wm');
    const good = dir('verify', 'good');
    const bad = dir('verify', 'bad');
    lib(good, 'libv.so');
    execFileSync('gcc', ['-m32', '-shared', '-fPIC', path.join(good, 'libv_so.c'), '-o', path.join(w32, 'libv.so')]);
    const m = fs.readFileSync(path.join(good, 'libv.so'));
    m.writeUInt16LE(183, 18); // e_machine: AArch64
    fs.writeFileSync(path.join(wm, 'libv.so'), m);
    const e = exe(d, 'prog', [{ name: 'libv.so', dir: good }], [`-Wl,--enable-new-dtags,-rpath,${w32}:${wm}:${good}`]);
    const g = agree(e);
    const node = [...g.nodes.values()].find((n) => n.path.endsWith('/libv.so'))!;
    expect(node.path).toBe(path.join(good, 'libv.so'));
    expect(node.rejected.map((r) => r.reason)).toEqual(['wrong-class', 'wrong-machine']);
    fs.writeFileSync(path.join(bad, 'libv.so'), 'this is not an ELF file\n');
    const e2 = exe(d, 'prog2', [{ name: 'libv.so', dir: good }], [`-Wl,--enable-new-dtags,-rpath,${bad}:${good}`]);
    const g2 = resolveClosure([e2]);
    expect(g2.missing.map((x) => [x.name, x.reason])).toEqual([['libv.so', 'invalid']]);
    const real = spawnSync(e2, [], { env: { LD_TRACE_LOADED_OBJECTS: '1' }, encoding: 'utf8' });
    expect(real.status).not.toBe(0);
    expect(real.stderr).toMatch(/invalid ELF header|file too short/);
  });

  it('DF_1_NODEFLIB: the cache and the system directories are not searched for its own needs', () => {
    const d = dir('nodeflib');
    const l = dir('nodeflib', 'l');
    lib(l, 'libn.so', [], ['-Wl,--no-as-needed', '-lz']);
    const e = exe(d, 'prog', [{ name: 'libn.so', dir: l }], [`-Wl,--enable-new-dtags,-rpath,${l}`, '-Wl,-z,nodefaultlib']);
    const g = resolveClosure([e]);
    // libc.so.6 (needed by the program) is only in the cache and system dirs: not found. libz, needed by
    // libn.so (no NODEFLIB), is found there.
    expect(g.missing.map((m) => m.name)).toEqual(['libc.so.6']);
    expect(g.roots[0]!.objects).toContain(path.join(l, 'libn.so'));
    expect([...g.nodes.values()].some((n) => n.soname === 'libz.so.1')).toBe(true);
    // The real loader agrees (its trace omits the loader's own line when a library is missing).
    const real = loaderSees(e);
    expect(real.missing).toEqual(['libc.so.6']);
    const oursNoLoader = ours(g).paths.filter((p) => !p.includes('/ld-linux'));
    expect(oursNoLoader).toEqual(real.paths.filter((p) => !p.includes('/ld-linux')));
  });

  it('reuse by SONAME and by device+inode; cycles end; a slash name is not searched', () => {
    const d = dir('reuse');
    const l = dir('reuse', 'l');
    lib(l, 'libr.so.1');
    fs.symlinkSync('libr.so.1', path.join(l, 'libr.so'));
    lib(l, 'liba.so', [{ name: 'libr.so.1', dir: l }]);
    const e = exe(d, 'prog', [{ name: 'liba.so', dir: l }, { name: 'libr.so.1', dir: l }], [`-Wl,--enable-new-dtags,-rpath,${l}`]);
    // Another name for the same library (its symlink), and the same file by an absolute path (a slash
    // name: no search); ld.so maps libr.so.1 once and answers the other names from it.
    execFileSync('patchelf', ['--add-needed', 'libr.so', e]);
    execFileSync('patchelf', ['--add-needed', path.join(l, 'libr.so.1'), e]);
    const g = agree(e);
    expect(g.roots[0]!.objects.filter((p) => p.includes('libr')).length).toBe(1);
    expect(g.roots[0]!.edges.filter((x) => x.name.includes('libr') && x.via.kind === 'reused').length).toBeGreaterThanOrEqual(2);
    // A cycle: libp needs libq, libq needs libp.
    const cy = dir('reuse', 'cycle');
    lib(cy, 'libq.so');
    lib(cy, 'libp.so', [{ name: 'libq.so', dir: cy }]);
    execFileSync('patchelf', ['--add-needed', 'libp.so', path.join(cy, 'libq.so')]);
    const e2 = exe(d, 'prog2', [{ name: 'libp.so', dir: cy }], [`-Wl,--enable-new-dtags,-rpath,${cy}`]);
    execFileSync('patchelf', ['--set-rpath', cy, path.join(cy, 'libq.so')]);
    execFileSync('patchelf', ['--set-rpath', cy, path.join(cy, 'libp.so')]);
    const g2 = agree(e2);
    expect(g2.roots[0]!.objects.filter((p) => /lib[pq]\.so$/.test(p)).length).toBe(2);
    expect(whyChains(g2, 'libq.so')[0]!.chain).toEqual([e2, path.join(cy, 'libp.so'), path.join(cy, 'libq.so')]);
  });

  it('a 32-bit program resolves to the 32-bit libraries and loader', () => {
    const d = dir('m32');
    const src = path.join(d, 'p.c');
    fs.writeFileSync(src, 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-m32', src, '-o', path.join(d, 'p32')]);
    const g = agree(path.join(d, 'p32'));
    expect(g.roots[0]!.interpreter).toBe('/lib/ld-linux.so.2');
    expect([...g.nodes.values()].every((n) => n.info.elfClass === 32)).toBe(true);
  });

  it('static and static-pie programs: the closure is the file itself', () => {
    const d = dir('static');
    const src = path.join(d, 'p.c');
    fs.writeFileSync(src, 'int main(void){return 0;}\n');
    execFileSync('gcc', ['-static', src, '-o', path.join(d, 's')]);
    execFileSync('gcc', ['-static-pie', src, '-o', path.join(d, 'sp')]);
    const g = resolveClosure([path.join(d, 's'), path.join(d, 'sp')]);
    expect(g.roots.map((r) => [r.kind, r.objects.length, r.interpreter])).toEqual([
      ['static-executable', 1, undefined],
      ['static-pie', 1, undefined],
    ]);
    expect(g.missing).toEqual([]);
  });

  it('a sysroot: absolute links resolve inside it, nothing outside is read', () => {
    const root = dir('sysroot');
    fs.mkdirSync(path.join(root, 'opt/app/lib'), { recursive: true });
    fs.mkdirSync(path.join(root, 'real'), { recursive: true });
    const l = dir('sysroot-src');
    lib(l, 'libs.so');
    fs.copyFileSync(path.join(l, 'libs.so'), path.join(root, 'real', 'libs.so'));
    fs.symlinkSync('/real/libs.so', path.join(root, 'opt/app/lib/libs.so'));
    const e = exe(dir('sysroot-bin'), 'prog', [{ name: 'libs.so', dir: l }], ['-Wl,--enable-new-dtags,-rpath,/opt/app/lib']);
    fs.mkdirSync(path.join(root, 'bin'));
    fs.copyFileSync(e, path.join(root, 'bin', 'prog'));
    // A host file with the same in-root path must not be what is found.
    const g = resolveClosure(['/bin/prog'], { root, target: { hwcaps: [] } });
    const node = [...g.nodes.values()].find((n) => n.path.endsWith('/libs.so'))!;
    expect(node.path).toBe('/opt/app/lib/libs.so');
    expect(node.realPath).toBe('/real/libs.so');
    expect(g.missing.map((m) => m.name)).toContain('libc.so.6');
  });
});
