/**
 * musl programs in jails, run with chroot: a program that calls getpwnam and needs a library found only
 * through inherited RUNPATH (musl searches the program's RUNPATH for its libraries' dependencies); a
 * mixed jail of a glibc program and a musl tool; verify with musl's rules, and its $ORIGIN finding in a
 * jail without /proc against the program actually failing there.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { muslExe, muslLib, muslMissing } from '../../elf-deps/test/helpers/musl.js';
import { elfcopy, requireRoot, tempDir } from './helpers/jail.js';

const tmp = tempDir('musl-jail');
fs.chmodSync(tmp, 0o755);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function chroot(jail: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/usr/sbin/chroot', [jail, ...argv], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/bin:/bin' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function ok(args: string[]): Promise<string> {
  const r = await elfcopy(args);
  expect(r.exitCode, `elfcopy ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** prog → liba.so (in lib/) → libb.so (in lib2/, on the program's RUNPATH only); prog calls getpwnam(argv[1]). */
function buildApp(dir: string): string {
  const lib = path.join(dir, 'lib');
  const lib2 = path.join(dir, 'lib2');
  muslLib(lib2, 'libb.so', { value: 42 });
  fs.mkdirSync(lib, { recursive: true });
  fs.writeFileSync(path.join(dir, 'a.c'), 'int value(void); int a(void) { return value() + 1; }\n');
  const r = spawnSync('musl-gcc', ['-shared', '-fPIC', '-o', path.join(lib, 'liba.so'), path.join(dir, 'a.c'), `-L${lib2}`, '-l:libb.so'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const src = `#include <stdio.h>
#include <pwd.h>
int a(void);
int main(int argc, char **argv) {
  struct passwd *p = getpwnam(argc > 1 ? argv[1] : "root");
  printf("a=%d home=%s\\n", a(), p ? p->pw_dir : "(none)");
  return p ? 0 : 3;
}
`;
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'm.c'), src);
  const prog = path.join(dir, 'bin', 'musl-tool');
  const c = spawnSync('musl-gcc', ['-o', prog, path.join(dir, 'm.c'), `-L${lib}`, '-l:liba.so', `-Wl,-rpath-link,${lib2}`, `-Wl,--enable-new-dtags,-rpath,${lib}:${lib2}`], { encoding: 'utf8' });
  expect(c.status, c.stderr).toBe(0);
  return prog;
}

describe.skipIf(muslMissing !== undefined)(`musl programs in a jail${muslMissing ? ` (skipped: ${muslMissing})` : ''}`, () => {
  it('a musl program calling getpwnam, with a library found only through inherited RUNPATH, runs in the jail; no NSS, no gconv; verify is clean', async () => {
    requireRoot();
    const app = path.join(tmp, 'app');
    const prog = buildApp(app);
    const jail = path.join(tmp, 'jail');
    await ok(['init', jail, '--user', 'nobody']);
    const plan = JSON.parse(await ok([prog, '--into', jail, '--with', 'auto', '--dry-run', '--json'])) as { steps: { op: string; path: string; reasons: string[] }[]; nss: unknown };
    const paths = plan.steps.map((s) => s.path);
    expect(paths).toContain('/etc/ld-musl-x86_64.path');
    expect(paths.some((p) => p.endsWith('/ld-musl-x86_64.so.1'))).toBe(true);
    expect(paths).toContain(`${app}/lib2/libb.so`);
    expect(paths.filter((p) => /libnss_|gconv|libgcc_s/.test(p))).toEqual([]);
    expect(plan.nss).toBeNull();
    // The resolver profile (hosts, resolv.conf, services): musl reads them itself.
    expect(plan.steps.some((s) => s.reasons.includes('profile resolver'))).toBe(true);
    await ok([prog, '--into', jail, '--with', 'auto']);
    // The loader at its PT_INTERP path, through whatever links the host has on the way (merged /usr).
    expect(fs.realpathSync(path.join(jail, 'lib/ld-musl-x86_64.so.1')).startsWith(jail)).toBe(true);
    const home = fs.readFileSync(path.join(jail, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('nobody:'))?.split(':')[5];
    const run = chroot(jail, [prog, 'nobody']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`a=43 home=${home}\n`);
    expect(run.status).toBe(0);
    const v = await elfcopy(['verify', jail, '--json']);
    expect(v.exitCode, v.stdout).toBe(0);
    expect((JSON.parse(v.stdout) as { findings: unknown[] }).findings).toEqual([]);
  });

  it('a mixed jail (a glibc program and a musl tool) runs both; verify is clean', async () => {
    requireRoot();
    const app = path.join(tmp, 'app-mixed');
    const prog = buildApp(app);
    const jail = path.join(tmp, 'mixed');
    await ok(['init', jail, '--user', 'nobody']);
    await ok(['/usr/bin/id', prog, '--into', jail, '--with', 'auto']);
    expect(chroot(jail, [prog, 'nobody']).stdout).toMatch(/^a=43 home=/);
    const id = chroot(jail, ['/usr/bin/id', '-u', 'nobody']);
    expect(id.stdout.trim(), id.stderr).toBe(String(65534));
    const v = await elfcopy(['verify', jail, '--json']);
    expect(v.exitCode, v.stdout).toBe(0);
  });

  it('from a musl root (--root): the root\'s path file goes into the jail, and a change to it is not hidden by the reused plan', async () => {
    requireRoot();
    const root = path.join(tmp, 'root');
    fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
    fs.copyFileSync(fs.realpathSync('/lib/ld-musl-x86_64.so.1'), path.join(root, 'lib/ld-musl-x86_64.so.1'));
    fs.chmodSync(path.join(root, 'lib/ld-musl-x86_64.so.1'), 0o755);
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/ld-musl-x86_64.path'), '/opt/a\n');
    muslLib(path.join(root, 'opt/a'), 'libv.so', { value: 1 });
    muslLib(path.join(root, 'opt/b'), 'libv.so', { value: 2 });
    muslExe(path.join(root, 'bin'), 'prog', { callsValue: { dir: path.join(root, 'opt/a'), lib: 'libv.so' } });
    const jail = path.join(tmp, 'from-root');
    fs.mkdirSync(jail);
    await ok(['--root', root, '/bin/prog', '--into', jail]);
    expect(fs.readFileSync(path.join(jail, 'etc/ld-musl-x86_64.path'), 'utf8')).toBe('/opt/a\n');
    expect(chroot(jail, ['/bin/prog']).stdout).toBe('1\n');
    const again = JSON.parse(await ok(['--root', root, '/bin/prog', '--into', jail, '--json'])) as { planReused: boolean };
    expect(again.planReused).toBe(true);
    fs.writeFileSync(path.join(root, 'etc/ld-musl-x86_64.path'), '/opt/b:/opt/a\n');
    const changed = JSON.parse(await ok(['--root', root, '/bin/prog', '--into', jail, '--json'])) as { planReused: boolean; copied: string[] };
    expect(changed.planReused).toBe(false);
    expect(changed.copied.sort()).toEqual(['/etc/ld-musl-x86_64.path', '/opt/b/libv.so']);
    expect(chroot(jail, ['/bin/prog']).stdout).toBe('2\n');
  });

  it('verify does not hold a musl program to symbol versions (musl reads no DT_VERNEED), and the program runs without them', async () => {
    requireRoot();
    const app = path.join(tmp, 'app-versions');
    const lib = path.join(app, 'lib');
    fs.mkdirSync(lib, { recursive: true });
    fs.writeFileSync(path.join(app, 'v.c'), 'int value(void) { return 9; }\n');
    fs.writeFileSync(path.join(app, 'v.map'), 'VERS_1 { global: value; local: *; };\n');
    const build = (extra: string[]): void => {
      const r = spawnSync('musl-gcc', ['-shared', '-fPIC', '-o', path.join(lib, 'libver.so'), path.join(app, 'v.c'), '-Wl,-soname,libver.so', ...extra], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    };
    build([`-Wl,--version-script,${path.join(app, 'v.map')}`]);
    const prog = muslExe(path.join(app, 'bin'), 'prog', { runpath: lib, callsValue: { dir: lib, lib: 'libver.so' } });
    expect(spawnSync('readelf', ['-V', prog], { encoding: 'utf8' }).stdout).toContain('VERS_1');
    const jail = path.join(tmp, 'versions');
    fs.mkdirSync(jail);
    await ok([prog, '--into', jail]);
    // The jail's copy of the library loses its version definitions.
    build([]);
    fs.copyFileSync(path.join(lib, 'libver.so'), path.join(jail, lib, 'libver.so'));
    expect(chroot(jail, [prog]).stdout).toBe('9\n');
    const v = await elfcopy(['verify', jail, '--json']);
    expect((JSON.parse(v.stdout) as { findings: { rule: string }[] }).findings.filter((f) => f.rule.startsWith('version-'))).toEqual([]);
    expect(v.exitCode).toBe(0);
  });

  it("verify flags a musl program whose RUNPATH uses $ORIGIN in a jail without /proc, and the program indeed fails there", async () => {
    requireRoot();
    const app = path.join(tmp, 'app-origin');
    muslLib(path.join(app, 'lib'), 'libv.so');
    const prog = muslExe(path.join(app, 'bin'), 'prog', { needed: ['libv.so'], runpath: '$ORIGIN/../lib' });
    const jail = path.join(tmp, 'origin');
    fs.mkdirSync(jail);
    await ok([prog, '--into', jail]);
    const run = chroot(jail, [prog]);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('libv.so');
    const v = await elfcopy(['verify', jail, '--json']);
    const findings = (JSON.parse(v.stdout) as { findings: { rule: string; path: string; message: string }[] }).findings;
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'origin-without-proc', path: prog }));
    expect(findings.find((f) => f.rule === 'origin-without-proc')?.message).toContain("musl's loader");
    expect(v.exitCode).toBe(1);
  });

  it('verify reads the jail\'s path file: replaced by a directory, a library only on the system path no longer resolves', async () => {
    requireRoot();
    const jail = path.join(tmp, 'pathfile');
    const app = path.join(tmp, 'app-pathfile');
    // A library in a directory the jail's path file names, needed by a program without RUNPATH.
    muslLib(path.join(app, 'opt'), 'libp.so');
    const prog = muslExe(path.join(app, 'bin'), 'prog', { needed: ['libp.so'] });
    fs.mkdirSync(jail);
    await ok([prog, '--into', jail, '--ld-library-path', `${app}/opt`]);
    // The jail's own path file now names that directory: the program loads without LD_LIBRARY_PATH.
    fs.writeFileSync(path.join(jail, 'etc/ld-musl-x86_64.path'), `${app}/opt\n`);
    expect(chroot(jail, [prog]).status).toBe(0);
    expect((await elfcopy(['verify', jail])).exitCode).toBe(0);
    fs.rmSync(path.join(jail, 'etc/ld-musl-x86_64.path'));
    fs.mkdirSync(path.join(jail, 'etc/ld-musl-x86_64.path'));
    expect(chroot(jail, [prog]).status).not.toBe(0);
    const v = await elfcopy(['verify', jail, '--json']);
    const findings = (JSON.parse(v.stdout) as { findings: { rule: string; path: string; message: string }[] }).findings;
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'loader-config', path: '/etc/ld-musl-x86_64.path' }));
    expect(findings).toContainEqual(expect.objectContaining({ rule: 'missing-library', path: prog }));
  });
});
