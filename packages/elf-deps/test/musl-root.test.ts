/**
 * A musl root the test builds: Debian's musl loader (which is musl's libc) at /lib, a path file naming
 * in-root directories, libraries built with musl-gcc. The oracle is the root's own loader run inside it:
 * `chroot ROOT /lib/ld-musl-x86_64.so.1 --list PROG`. Path files that the real loader would block on or
 * read for minutes (a FIFO, a huge file) are checked for a warning and a bounded time only.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FLAG_ELF_LIBC6, FLAG_X8664_LIB64 } from '../src/ldcache/flags.js';
import { resolveClosure, ldCacheBytes, type ClosureGraph } from '../src/index.js';
import { MUSL_LOADER, muslExe, muslLib, muslList, muslMissing, ourSet } from './helpers/musl.js';
import { useTempDirs } from './helpers/temp-dirs.js';

const tempDir = useTempDirs();
const isRoot = process.getuid?.() === 0;
const PATH_FILE = '/etc/ld-musl-x86_64.path';

/** A root holding the musl loader at `loader` (default /lib/ld-musl-x86_64.so.1) and nothing else. */
function muslRoot(name: string, loader = MUSL_LOADER): string {
  const root = fs.realpathSync(tempDir(`elfcopy-muslroot-${name}-`));
  const at = path.join(root, loader);
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.copyFileSync(fs.realpathSync(MUSL_LOADER), at);
  fs.chmodSync(at, 0o755);
  return root;
}

function put(root: string, p: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
  fs.writeFileSync(path.join(root, p), content);
}

function lib(root: string, dir: string, file: string): void {
  muslLib(path.join(root, dir), file);
}

/** A program /bin/prog in the root needing `needed`, with PT_INTERP `interp`. */
function prog(root: string, needed: string[], interp?: string): string {
  const p = muslExe(path.join(root, 'bin'), 'prog', { needed });
  if (interp !== undefined) spawnSync('patchelf', ['--set-interpreter', interp, p]);
  return '/bin/prog';
}

/** Ours against `chroot ROOT LOADER --list PROG`. */
function agree(root: string, p: string, loader = MUSL_LOADER): ClosureGraph {
  const g = resolveClosure([p], { root });
  expect(g.inputErrors).toEqual([]);
  const ours = ourSet(g);
  if (isRoot) {
    const real = muslList(p, { root, loader, cwd: '/' });
    expect(ours.paths, real.stdout + real.stderr).toEqual(real.paths);
    expect(ours.missing, real.stderr).toEqual(real.missing);
    expect(real.status, real.stderr).toBe(ours.missing.length > 0 ? 127 : 0);
  }
  return g;
}

function viaOf(g: ClosureGraph, p: string): unknown {
  return g.nodes.get(p)?.foundVia;
}

describe.skipIf(muslMissing !== undefined)(`a musl root, checked with chroot ROOT ${MUSL_LOADER} --list${muslMissing ? ` (skipped: ${muslMissing})` : isRoot ? '' : ' (not root: the chroot oracle is skipped)'}`, () => {
  it("the path file's entries, ':' or newline separated, in order, are the system path; nothing else is", () => {
    const root = muslRoot('pathfile');
    put(root, PATH_FILE, '/opt/a:/opt/b\n/opt/c\n');
    lib(root, 'opt/b', 'libx.so');
    lib(root, 'opt/c', 'libx.so');
    lib(root, 'opt/c', 'liby.so');
    // /lib is not on this system path.
    lib(root, 'lib', 'libz.so');
    const g = agree(root, prog(root, ['libx.so', 'liby.so', 'libz.so']));
    expect(ourSet(g)).toEqual({ paths: ['/opt/b/libx.so', '/opt/c/liby.so'], missing: ['libz.so'] });
    expect(viaOf(g, '/opt/b/libx.so')).toEqual({ kind: 'path-file', file: PATH_FILE });
    expect(g.roots[0]?.loaderFiles.map((f) => f.path)).toEqual([PATH_FILE]);
  });

  it('an ld.so.cache in the root means nothing to musl, nor does DF_1_NODEFLIB', () => {
    const root = muslRoot('cache');
    put(root, PATH_FILE, '/opt/a\n');
    lib(root, 'opt/c', 'libx.so');
    lib(root, 'opt/a', 'liby.so');
    put(root, '/etc/ld.so.cache', ldCacheBytes([{ name: 'libx.so', path: '/opt/c/libx.so', flags: FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 }]));
    const p = muslExe(path.join(root, 'bin'), 'prog', { needed: ['libx.so', 'liby.so'], flags: ['-Wl,-z,nodeflib'] });
    expect(p).toBe(path.join(root, 'bin/prog'));
    const g = agree(root, '/bin/prog');
    expect(ourSet(g)).toEqual({ paths: ['/opt/a/liby.so'], missing: ['libx.so'] });
  });

  it('the path file is two directories above the loader: /usr/lib/ld-musl-… reads /usr/etc/ld-musl-….path', () => {
    const loader = '/usr/lib/ld-musl-x86_64.so.1';
    const root = muslRoot('prefix', loader);
    put(root, '/usr/etc/ld-musl-x86_64.path', '/opt/u\n');
    put(root, PATH_FILE, '/opt/e\n');
    lib(root, 'opt/u', 'libx.so');
    lib(root, 'opt/e', 'libx.so');
    const g = agree(root, prog(root, ['libx.so'], loader), loader);
    expect(ourSet(g).paths).toEqual(['/opt/u/libx.so']);
  });

  it('with no path file the system path is /lib:/usr/local/lib:/usr/lib ([default path]); a dangling link is no file', () => {
    const root = muslRoot('default');
    fs.mkdirSync(path.join(root, 'etc'));
    fs.symlinkSync('nowhere', path.join(root, PATH_FILE));
    lib(root, 'usr/local/lib', 'libx.so');
    lib(root, 'usr/lib', 'libx.so');
    lib(root, 'usr/lib', 'liby.so');
    const g = agree(root, prog(root, ['libx.so', 'liby.so']));
    expect(ourSet(g).paths).toEqual(['/usr/local/lib/libx.so', '/usr/lib/liby.so']);
    expect(viaOf(g, '/usr/lib/liby.so')).toEqual({ kind: 'system-dir' });
    expect(g.warnings).toEqual([]);
    expect(g.roots[0]?.loaderFiles).toEqual([]);
  });

  const noSystemPath: [string, (root: string) => void][] = [
    ['empty', (root) => put(root, PATH_FILE, '')],
    ['only separators', (root) => put(root, PATH_FILE, '\n::\n')],
    ['a directory', (root) => fs.mkdirSync(path.join(root, PATH_FILE), { recursive: true })],
    ['under a file /etc (ENOTDIR)', (root) => put(root, '/etc', 'not a directory\n')],
    ['a symlink loop', (root) => {
      fs.mkdirSync(path.join(root, 'etc'));
      fs.symlinkSync('ld-musl-x86_64.path', path.join(root, PATH_FILE));
    }],
  ];
  for (const [what, make] of noSystemPath) {
    it(`a path file that is ${what} leaves no system path at all, and a warning naming it`, () => {
      const root = muslRoot(what.replace(/\W+/g, '-'));
      make(root);
      lib(root, 'lib', 'libx.so');
      const g = agree(root, prog(root, ['libx.so']));
      expect(ourSet(g).missing).toEqual(['libx.so']);
      expect(g.warnings.some((w) => w.startsWith(`${PATH_FILE}: `) && w.includes('no system path'))).toBe(true);
      expect(g.roots[0]?.loaderFiles).toEqual([]);
    });
  }

  it('binary junk without a NUL: each junk entry is searched (relative to the working directory), then the rest', () => {
    const root = muslRoot('junk');
    put(root, PATH_FILE, Buffer.concat([Buffer.from([0x01, 0xfe, 0x80, 0x7f]), Buffer.from('junk\n/opt/a\n')]));
    lib(root, 'opt/a', 'libx.so');
    const g = agree(root, prog(root, ['libx.so']));
    expect(ourSet(g).paths).toEqual(['/opt/a/libx.so']);
    expect(g.warnings.some((w) => w.startsWith(`${PATH_FILE}: entry '\\x01\\ufffd\\ufffd\\x7fjunk' is not an absolute path`))).toBe(true);
  });

  it('a megabyte of binary junk (no NUL): one warning line, the same answer as the loader, bounded time', () => {
    const root = muslRoot('junk-mb');
    const junk = Buffer.alloc(1 << 20);
    let x = 12345;
    for (let i = 0; i < junk.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      junk[i] = 1 + ((x >>> 16) % 255);
    }
    put(root, PATH_FILE, Buffer.concat([junk, Buffer.from('\n/opt/a\n')]));
    lib(root, 'opt/a', 'libx.so');
    const t0 = Date.now();
    const g = agree(root, prog(root, ['libx.so']));
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(ourSet(g).paths).toEqual(['/opt/a/libx.so']);
    expect(g.warnings.filter((w) => w.startsWith(`${PATH_FILE}: `))).toHaveLength(1);
  });

  it('a UTF-8 directory name in the path file is searched as written', () => {
    const root = muslRoot('utf8');
    put(root, PATH_FILE, '/opt/ünï\n');
    lib(root, 'opt/ünï', 'libx.so');
    const g = agree(root, prog(root, ['libx.so']));
    expect(ourSet(g).paths).toEqual(['/opt/ünï/libx.so']);
    expect(g.warnings).toEqual([]);
  });

  it('a NUL byte ends the path (the loader keeps the file as a C string)', () => {
    const root = muslRoot('nul');
    put(root, PATH_FILE, Buffer.from('/opt/a\0/opt/b\n'));
    lib(root, 'opt/b', 'libx.so');
    const g = agree(root, prog(root, ['libx.so']));
    expect(ourSet(g).missing).toEqual(['libx.so']);
    expect(g.warnings.some((w) => w.includes('NUL byte at offset 6'))).toBe(true);
  });

  it('a FIFO path file is never opened (musl would block): no system path, a warning, no hang', () => {
    const root = muslRoot('fifo');
    fs.mkdirSync(path.join(root, 'etc'));
    expect(spawnSync('mkfifo', [path.join(root, PATH_FILE)]).status).toBe(0);
    lib(root, 'lib', 'libx.so');
    prog(root, ['libx.so']);
    const t0 = Date.now();
    const g = resolveClosure(['/bin/prog'], { root });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(ourSet(g).missing).toEqual(['libx.so']);
    expect(g.warnings.some((w) => w.startsWith(`${PATH_FILE}: is a FIFO`))).toBe(true);
  });

  it('a huge (sparse) path file is read only as far as the limit: a warning, no hang', () => {
    const root = muslRoot('huge');
    put(root, PATH_FILE, '/opt/a\n');
    fs.truncateSync(path.join(root, PATH_FILE), 6 * 1024 ** 3);
    lib(root, 'opt/a', 'libx.so');
    prog(root, ['libx.so']);
    const t0 = Date.now();
    const g = resolveClosure(['/bin/prog'], { root });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(ourSet(g).paths).toEqual(['/opt/a/libx.so']);
    expect(g.warnings.some((w) => w.startsWith(`${PATH_FILE}: is ${6 * 1024 ** 3} bytes`))).toBe(true);
  });
});
