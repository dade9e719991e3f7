/**
 * musl's search rules (ldso/dynlink.c 1.2.x), one fixture each, built here with musl-gcc and patchelf.
 * The oracle is Debian's musl loader itself: `ld-musl-x86_64.so.1 --list PROG` for what list mode shows,
 * the program run for what it cannot (the main program's origin through a symlink, secure mode).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EM_AARCH64, resolveClosure, type ClosureGraph, type ResolveOptions } from '../src/internal.js';
import { copyWithMachine } from './helpers/build-fixtures.js';
import { MUSL_LOADER, muslExe, muslLib, muslList, muslMissing, muslRun, ourSet, type MuslRun } from './helpers/musl.js';
import { useTempDirs } from './helpers/temp-dirs.js';

const tempDir = useTempDirs();
const isRoot = process.getuid?.() === 0;

/** A fresh fixture directory (real path, readable by everyone: the secure-mode run is not root's). */
function fixture(name: string): string {
  const d = fs.realpathSync(tempDir(`elfcopy-musl-${name}-`));
  fs.chmodSync(d, 0o755);
  return d;
}

function mk(...parts: string[]): string {
  const d = path.join(...parts);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** Resolves `prog` and checks it against musl's loader in list mode, with the same LD_LIBRARY_PATH and cwd. */
function agree(prog: string, options: ResolveOptions & { cwd?: string } = {}): { g: ClosureGraph; real: MuslRun } {
  const g = resolveClosure([prog], options);
  expect(g.inputErrors).toEqual([]);
  expect(g.roots[0]?.family).toBe('musl');
  const env: Record<string, string> = options.ldLibraryPath !== undefined ? { LD_LIBRARY_PATH: options.ldLibraryPath } : {};
  const listOpts: { env: Record<string, string>; cwd?: string } = { env };
  if (options.cwd !== undefined) listOpts.cwd = options.cwd;
  const real = muslList(prog, listOpts);
  const ours = ourSet(g);
  expect(ours.paths, real.stdout + real.stderr).toEqual(real.paths);
  expect(ours.missing, real.stderr).toEqual(real.missing);
  expect(real.status, real.stderr).toBe(ours.missing.length > 0 ? 127 : 0);
  return { g, real };
}

function edge(g: ClosureGraph, name: string): ClosureGraph['roots'][number]['edges'][number] {
  const e = g.roots[0]?.edges.find((x) => x.name === name && x.via.kind !== 'interpreter');
  if (!e) throw new Error(`no edge for ${name}`);
  return e;
}

describe.skipIf(muslMissing !== undefined)(`musl's rules against ${MUSL_LOADER} --list${muslMissing ? ` (skipped: ${muslMissing})` : ''}`, () => {
  it("a library given as input (no PT_INTERP) that needs musl's libc.so follows musl's rules, on a host whose default loader is glibc's", () => {
    const d = fixture('libinput');
    const a = mk(d, 'a');
    const b = mk(d, 'b');
    muslLib(b, 'libb.so');
    // libb.so is only on the input's RUNPATH, searched for liba.so's needs (inherited).
    muslLib(a, 'liba.so', { needed: ['libb.so'] });
    const input = muslLib(d, 'libinput.so', { needed: ['liba.so'], runpath: `${a}:${b}` });
    const { g } = agree(input);
    expect(g.roots[0]?.interpreter).toBe(MUSL_LOADER);
    expect(ourSet(g).paths).toEqual([`${a}/liba.so`, `${b}/libb.so`]);
  });

  it('a name with a slash is opened directly: relative to the working directory, or absolute; no search, no $ORIGIN', () => {
    const d = fixture('slash');
    muslLib(mk(d, 'sub'), 'libp.so', { value: 1 });
    muslLib(mk(d, 'abs'), 'libq.so', { value: 2 });
    // The same names on the RUNPATH must not be the ones taken.
    muslLib(mk(d, 'rp'), 'libp.so');
    // No DSTs in a DT_NEEDED name: '$ORIGIN/libo.so' is a directory named '$ORIGIN' under the working directory.
    muslLib(mk(d, '$ORIGIN'), 'libo.so');
    const prog = muslExe(d, 'prog', { needed: ['./sub/libp.so', `${d}/abs/libq.so`, '$ORIGIN/libo.so'], runpath: `${d}/rp` });
    const { g } = agree(prog, { cwd: d });
    expect(g.roots[0]?.objects).toContain(`${d}/sub/libp.so`);
    expect(g.roots[0]?.objects).toContain(`${d}/$ORIGIN/libo.so`);
    expect(g.nodes.get(`${d}/abs/libq.so`)?.foundVia).toEqual({ kind: 'path' });
  });

  it("a name equal to the loader's own name (PT_INTERP) is the loader: nothing else is mapped", () => {
    const d = fixture('self');
    const prog = muslExe(d, 'prog', { needed: [MUSL_LOADER] });
    const { g, real } = agree(prog);
    expect(edge(g, MUSL_LOADER)).toMatchObject({ to: MUSL_LOADER, via: { kind: 'loader-itself' } });
    expect(real.paths).toEqual([]);
  });

  it('reserved names (libc., libpthread., librt., libm., libdl., libutil., libxnet., glibc-style too) are the loader; libcrypt.so.1 is searched', () => {
    const d = fixture('reserved');
    const rp = mk(d, 'rp');
    muslLib(rp, 'libcrypt.so.1');
    // A file of a reserved name on the path is never opened.
    muslLib(rp, 'libm.so.6');
    const reserved = ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'librt.so.1', 'libdl.so.2', 'libutil.so.1', 'libxnet.so.1'];
    const prog = muslExe(d, 'prog', { needed: [...reserved, 'libcrypt.so.1'], runpath: rp });
    const { g, real } = agree(prog);
    for (const n of reserved) expect(edge(g, n)).toMatchObject({ to: MUSL_LOADER, via: { kind: 'loader-itself' } });
    expect(real.lines.map(([n]) => n)).toContain('libm.so.6');
    expect(ourSet(g).paths).toEqual([`${rp}/libcrypt.so.1`]);
  });

  it('a second C library found by search (one defining __libc_start_main and stdin: musl itself by another name, or glibc) is the loader', () => {
    const d = fixture('second-libc');
    const rp = mk(d, 'rp');
    fs.copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', path.join(rp, 'libglibc.so'));
    const prog = muslExe(d, 'prog', { needed: ['ld-musl-x86_64.so.1', 'libglibc.so'], runpath: `/lib:${rp}` });
    const { g, real } = agree(prog);
    expect(edge(g, 'ld-musl-x86_64.so.1')).toMatchObject({ to: MUSL_LOADER, via: { kind: 'loader-itself' } });
    expect(edge(g, 'libglibc.so')).toMatchObject({ to: MUSL_LOADER, via: { kind: 'loader-itself' } });
    expect(real.paths).toEqual([]);
  });

  it('LD_LIBRARY_PATH comes first, before any RPATH; empty elements are skipped (not the working directory); newline separates', () => {
    const d = fixture('llp');
    const l2 = mk(d, 'l2');
    muslLib(l2, 'libx.so', { value: 2 });
    muslLib(mk(d, 'rp'), 'libx.so', { value: 3 });
    muslLib(d, 'libx.so', { value: 4 });
    const prog = muslExe(d, 'prog', { needed: ['libx.so'], rpath: `${d}/rp` });
    const { g } = agree(prog, { ldLibraryPath: `::${d}/none\n${l2}`, cwd: d });
    expect(g.nodes.get(`${l2}/libx.so`)?.foundVia).toEqual({ kind: 'ld_library_path' });
  });

  it('RPATH and RUNPATH are one value: with both, RUNPATH wins', () => {
    const d = fixture('both');
    muslLib(mk(d, 'r'), 'libx.so');
    muslLib(mk(d, 'u'), 'libx.so');
    const prog = muslExe(d, 'prog', { needed: ['libx.so'], rpath: `${d}/r`, runpath: `${d}/u` });
    const { g } = agree(prog);
    expect(ourSet(g).paths).toEqual([`${d}/u/libx.so`]);
  });

  it("RUNPATH is inherited: a library's dependencies are searched in the RUNPATH of every object up its chain of loaders", () => {
    const d = fixture('inherit');
    const a = mk(d, 'a');
    const b = mk(d, 'b');
    const c = mk(d, 'c');
    muslLib(c, 'libc2.so');
    muslLib(b, 'libb.so', { needed: ['libc2.so'] });
    muslLib(a, 'liba.so', { needed: ['libb.so'], runpath: c });
    const prog = muslExe(d, 'prog', { needed: ['liba.so'], runpath: `${a}:${b}` });
    const { g } = agree(prog);
    expect(g.nodes.get(`${b}/libb.so`)?.foundVia).toEqual({ kind: 'runpath', owner: prog });
    expect(g.nodes.get(`${c}/libc2.so`)?.foundVia).toEqual({ kind: 'runpath', owner: `${a}/liba.so` });
  });

  it('$ORIGIN and ${ORIGIN} are expanded, for the program and for a library (the directory it was found in)', () => {
    const d = fixture('origin');
    mk(d, 'bin');
    muslLib(mk(d, 'deep'), 'libd.so');
    muslLib(mk(d, 'l1'), 'liba.so', { needed: ['libd.so'], runpath: '$ORIGIN/../deep' });
    muslLib(mk(d, 'l2'), 'libb.so');
    const prog = muslExe(path.join(d, 'bin'), 'prog', { needed: ['liba.so', 'libb.so'], runpath: '$ORIGIN/../l1:${ORIGIN}/../l2' });
    const { g } = agree(prog);
    expect(ourSet(g).paths).toEqual([`${d}/l1/liba.so`, `${d}/l2/libb.so`, `${d}/deep/libd.so`]);
  });

  it('a value holding any $TOKEN but $ORIGIN is ignored whole; $ORIGIN is a prefix test ($ORIGINAL = $ORIGIN + AL)', () => {
    const d = fixture('token');
    muslLib(mk(d, 'l1'), 'liba.so');
    const whole = muslExe(d, 'whole', { needed: ['liba.so'], runpath: `$ORIGIN/l1:$LIB/x:${d}/l1` });
    agree(whole);
    expect(ourSet(resolveClosure([whole])).missing).toEqual(['liba.so']);
    const sub = mk(d, 'sub');
    muslLib(mk(`${sub}AL`), 'libo.so');
    const quirk = muslExe(sub, 'prog', { needed: ['libo.so'], runpath: '$ORIGINAL' });
    const { g } = agree(quirk);
    expect(ourSet(g).paths).toEqual([`${sub}AL/libo.so`]);
  });

  it('no hwcaps: glibc-hwcaps/, tls/ and platform subdirectories are never searched', () => {
    const d = fixture('hwcaps');
    const rp = mk(d, 'rp');
    muslLib(mk(rp, 'glibc-hwcaps', 'x86-64-v2'), 'libx.so');
    muslLib(mk(rp, 'tls'), 'libx.so');
    muslLib(mk(rp, 'x86_64'), 'libx.so');
    muslLib(rp, 'libx.so');
    const prog = muslExe(d, 'prog', { needed: ['libx.so'], runpath: rp });
    const { g } = agree(prog);
    expect(ourSet(g).paths).toEqual([`${rp}/libx.so`]);
  });

  it('the first candidate that opens is final: a file of another machine or class fails the load, the next directory is not tried', () => {
    const d = fixture('wrong');
    const good = mk(d, 'good');
    muslLib(good, 'libx.so');
    const machine = mk(d, 'machine');
    copyWithMachine(path.join(good, 'libx.so'), path.join(machine, 'libx.so'), EM_AARCH64);
    // An ELF32 file under the same name (gcc -m32, where the machine has the multilib).
    const cls = mk(d, 'class');
    const src32 = path.join(d, 'x32.c');
    fs.writeFileSync(src32, 'int value(void) { return 1; }\n');
    const m32 = spawnSync('gcc', ['-m32', '-shared', '-fPIC', '-o', path.join(cls, 'libx.so'), src32], { stdio: 'ignore' }).status === 0;
    for (const [bad, built] of [[machine, true], [cls, m32]] as const) {
      if (!built) continue;
      const prog = muslExe(d, `prog-${path.basename(bad)}`, { needed: ['libx.so'], runpath: `${bad}:${good}` });
      const g = resolveClosure([prog]);
      const m = g.roots[0]?.missing[0];
      expect(m).toMatchObject({ name: 'libx.so', reason: 'invalid' });
      expect(m?.detail).toContain(`${bad}/libx.so`);
      const real = muslList(prog);
      // musl maps what opened without checking e_machine (or fails to map an ELF32 file): either way
      // the file of the right machine in the next directory is never taken.
      expect(real.paths).not.toContain(`${good}/libx.so`);
      expect(real.status !== 0 || real.paths.includes(`${bad}/libx.so`), real.stdout + real.stderr).toBe(true);
    }
  });

  it('a directory, a symlink loop or a non-ELF file first on the path fails the load; a dangling symlink is skipped', () => {
    const d = fixture('open');
    const good = mk(d, 'good');
    muslLib(good, 'libx.so');
    const dirCase = mk(d, 'dir');
    mk(dirCase, 'libx.so');
    const loop = mk(d, 'loop');
    fs.symlinkSync('libx.so', path.join(loop, 'libx.so'));
    const text = mk(d, 'text');
    fs.writeFileSync(path.join(text, 'libx.so'), 'INPUT(libx.so.1)\n');
    const dangling = mk(d, 'dangling');
    fs.symlinkSync('nowhere.so', path.join(dangling, 'libx.so'));
    for (const [bad, fails] of [[dirCase, true], [loop, true], [text, true], [dangling, false]] as const) {
      const prog = muslExe(d, `prog-${path.basename(bad)}`, { needed: ['libx.so'], runpath: `${bad}:${good}` });
      const { g } = agree(prog);
      expect(ourSet(g).missing, bad).toEqual(fails ? ['libx.so'] : []);
    }
  });

  it('loaded objects are matched by the basename found, then by device and inode; SONAME is never used for reuse', () => {
    const d = fixture('match');
    const rp = mk(d, 'rp');
    muslLib(rp, 'libfoo.so.1', { soname: 'libbar.so' });
    fs.symlinkSync('libfoo.so.1', path.join(rp, 'libalias.so'));
    muslLib(rp, 'libq.so');
    // libbar.so is nowhere: that libfoo.so.1 carries it as its SONAME does not make it loaded.
    const bySoname = muslExe(d, 'soname', { needed: ['libfoo.so.1', 'libbar.so'], runpath: rp });
    expect(ourSet(agree(bySoname).g).missing).toEqual(['libbar.so']);
    // libalias.so opens the same inode: reused, not mapped twice.
    const byInode = muslExe(d, 'inode', { needed: ['libfoo.so.1', 'libalias.so'], runpath: rp });
    const { g } = agree(byInode);
    expect(edge(g, 'libalias.so')).toMatchObject({ to: `${rp}/libfoo.so.1`, via: { kind: 'reused' } });
    // A library loaded by path, then searched by name: the same inode, reused.
    const pathThenName = muslExe(d, 'path-then-name', { needed: [`${rp}/libq.so`, 'libq.so'], runpath: rp });
    expect(edge(agree(pathThenName).g, 'libq.so').via).toEqual({ kind: 'reused' });
  });

  it("the main program's $ORIGIN is its real directory (/proc/self/exe), through a symlink (the program is run: list mode takes the path as typed)", () => {
    const d = fixture('symlink');
    const realBin = mk(d, 'real', 'bin');
    muslLib(mk(d, 'real', 'lib'), 'libv.so', { value: 1 });
    muslLib(mk(d, 'link', 'lib'), 'libv.so', { value: 2 });
    const prog = muslExe(realBin, 'prog', { runpath: '$ORIGIN/../lib', callsValue: { dir: `${d}/real/lib`, lib: 'libv.so' } });
    const linkBin = mk(d, 'link', 'bin');
    fs.symlinkSync(path.relative(linkBin, prog), path.join(linkBin, 'prog'));
    const run = muslRun(path.join(linkBin, 'prog'));
    expect(run.stdout.trim(), run.stderr).toBe('1');
    const g = resolveClosure([path.join(linkBin, 'prog')]);
    expect(ourSet(g).paths).toEqual([`${d}/real/lib/libv.so`]);
  });

  it.skipIf(!isRoot)("secure mode (setuid, run by another user) drops the main program's $ORIGIN and LD_LIBRARY_PATH", () => {
    const d = fixture('secure');
    muslLib(mk(d, 'lib'), 'libv.so', { value: 7 });
    const prog = muslExe(d, 'prog', { runpath: '$ORIGIN/lib', callsValue: { dir: `${d}/lib`, lib: 'libv.so' } });
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    // Control: not setuid, the same user: $ORIGIN works.
    expect(muslRun(prog, { argv: [...nobody, prog], env: { PATH: '/usr/bin:/bin' } }).stdout.trim()).toBe('7');
    expect(ourSet(resolveClosure([prog])).missing).toEqual([]);
    fs.chmodSync(prog, 0o4755);
    const run = muslRun(prog, { argv: [...nobody, prog], env: { PATH: '/usr/bin:/bin', LD_LIBRARY_PATH: `${d}/lib` } });
    expect(run.status, run.stdout).not.toBe(0);
    expect(run.stderr).toContain('libv.so');
    expect(ourSet(resolveClosure([prog], { ldLibraryPath: `${d}/lib` })).missing).toEqual(['libv.so']);
  });

  it.skipIf(!isRoot)("secure mode drops a library's $ORIGIN when the name it was opened by is relative (a relative RPATH entry)", () => {
    const d = fixture('secure-rel');
    muslLib(mk(d, 'deep'), 'libd.so', { value: 5 });
    // libv.so's value() is libd.so's, found through libv.so's own $ORIGIN.
    fs.writeFileSync(path.join(d, 'v.c'), 'int dvalue(void); int value(void) { return dvalue(); }\n');
    fs.writeFileSync(path.join(d, 'dd.c'), 'int dvalue(void) { return 5; }\n');
    mk(d, 'lib');
    spawnSync('musl-gcc', ['-shared', '-fPIC', '-o', path.join(d, 'deep', 'libd.so'), path.join(d, 'dd.c')]);
    const linked = spawnSync('musl-gcc', ['-shared', '-fPIC', '-o', path.join(d, 'lib', 'libv.so'), path.join(d, 'v.c'), `-L${d}/deep`, '-l:libd.so', '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../deep'], { encoding: 'utf8' });
    expect(linked.status, linked.stderr).toBe(0);
    const prog = muslExe(d, 'prog', { runpath: 'lib', callsValue: { dir: `${d}/lib`, lib: 'libv.so' }, flags: [`-Wl,-rpath-link,${d}/deep`] });
    const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', prog];
    expect(muslRun(prog, { argv: nobody, cwd: d }).stdout.trim()).toBe('5');
    expect(ourSet(resolveClosure([prog], { cwd: d })).missing).toEqual([]);
    fs.chmodSync(prog, 0o4755);
    const run = muslRun(prog, { argv: nobody, cwd: d });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('libd.so');
    expect(ourSet(resolveClosure([prog], { cwd: d })).missing).toEqual(['libd.so']);
  });
});
