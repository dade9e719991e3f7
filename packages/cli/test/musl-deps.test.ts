/**
 * `elfcopy deps` on musl programs: the tree, --list, --why, --json and --dot name the family and how each
 * library was found ([musl path file], [default path], [the loader itself]), for a musl root given with
 * --root (its own loader run under chroot is the oracle for what is found) and beside a glibc program.
 * A path file that is a directory or a FIFO: one warning line naming it, never a hang.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MUSL_LOADER, muslExe, muslLib, muslList, muslMissing } from '../../elf-deps/test/helpers/musl.js';
import { elfcopy } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'elfcopy-musl-deps-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

/** A musl root: the loader at /lib, /bin/prog needing libx.so (and libc.so), libx.so where `pathFile` (or the default path) finds it. */
function muslRoot(name: string, pathFile: string | undefined, libDir: string): string {
  const root = path.join(tmp, name);
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  fs.copyFileSync(fs.realpathSync(MUSL_LOADER), path.join(root, MUSL_LOADER));
  fs.chmodSync(path.join(root, MUSL_LOADER), 0o755);
  if (pathFile !== undefined) {
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/ld-musl-x86_64.path'), pathFile);
  }
  muslLib(path.join(root, libDir), 'libx.so');
  muslExe(path.join(root, 'bin'), 'prog', { needed: ['libx.so'] });
  return root;
}

describe.skipIf(muslMissing !== undefined)(`elfcopy deps on musl programs${muslMissing ? ` (skipped: ${muslMissing})` : ''}`, () => {
  const withFile = muslRoot('with-file', '/opt/a\n', 'opt/a');
  const noFile = muslRoot('no-file', undefined, 'usr/lib');

  it.skipIf(!isRoot)('--list under --root is what the root\'s own loader maps (chroot ROOT ld-musl --list)', async () => {
    for (const root of [withFile, noFile]) {
      const r = await elfcopy(['deps', '--list', '--root', root, '/bin/prog']);
      expect(r.exitCode, r.stderr).toBe(0);
      const real = muslList('/bin/prog', { root, cwd: '/' });
      expect(real.status, real.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['/bin/prog', MUSL_LOADER, ...real.paths].sort());
    }
  });

  it('the tree names the family and how each library was found: [musl path file], [default path], [the loader itself]', async () => {
    const a = await elfcopy(['deps', '--root', withFile, '/bin/prog']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(a.stdout).toBe(
      ['/bin/prog (interpreter /lib/ld-musl-x86_64.so.1, musl loader)', '├── libx.so => /opt/a/libx.so [musl path file]', '└── libc.so => /lib/ld-musl-x86_64.so.1 [the loader itself]'].join('\n'),
    );
    const b = await elfcopy(['deps', '--root', noFile, '/bin/prog']);
    expect(b.stdout).toContain('libx.so => /usr/lib/libx.so [default path]');
  });

  it('--json puts "loader": "musl" on each root and object; --dot labels the edges and the root; --why says the family', async () => {
    const j = JSON.parse((await elfcopy(['deps', '--json', '--root', withFile, '/bin/prog'])).stdout) as {
      roots: { loader: string }[];
      objects: { path: string; loader: string; foundVia: { kind: string; file?: string } }[];
    };
    expect(j.roots.map((r) => r.loader)).toEqual(['musl']);
    expect(j.objects.map((o) => [o.path, o.loader])).toEqual([
      ['/bin/prog', 'musl'],
      [MUSL_LOADER, 'musl'],
      ['/opt/a/libx.so', 'musl'],
    ]);
    expect(j.objects.find((o) => o.path === '/opt/a/libx.so')?.foundVia).toEqual({ kind: 'path-file', file: '/etc/ld-musl-x86_64.path' });
    const dot = (await elfcopy(['deps', '--dot', '--root', withFile, '/bin/prog'])).stdout;
    expect(dot).toContain('"/bin/prog" [style=bold, label="/bin/prog (musl loader)"];');
    expect(dot).toContain('"/bin/prog" -> "/opt/a/libx.so" [label="musl path file"];');
    expect(dot).toContain('"/opt/a/libx.so" -> "/lib/ld-musl-x86_64.so.1" [label="the loader itself"];');
    const why = await elfcopy(['deps', '--why', 'libx.so', '--root', withFile, '/bin/prog']);
    expect(why.stdout).toBe('/bin/prog -> /opt/a/libx.so  [musl loader]');
  });

  it('a glibc program and a musl program in one run: each by its own loader\'s rules', async () => {
    const prog = muslExe(path.join(tmp, 'host'), 'prog', { needed: ['libm.so.6'] });
    const r = await elfcopy(['deps', '--json', '/usr/bin/ls', prog]);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { roots: { path: string; loader: string; objects: string[] }[] };
    expect(j.roots.map((x) => [x.path, x.loader])).toEqual([
      ['/usr/bin/ls', 'glibc'],
      [prog, 'musl'],
    ]);
    // libm.so.6 is musl's own name for itself: nothing but the program and its loader.
    expect(j.roots[1]?.objects).toEqual([prog, MUSL_LOADER]);
    expect(j.roots[0]?.objects.some((o) => o.endsWith('/libc.so.6'))).toBe(true);
  });

  for (const [what, make] of [
    ['a directory', (f: string) => fs.mkdirSync(f)],
    ['a FIFO', (f: string) => expect(spawnSync('mkfifo', [f]).status).toBe(0)],
  ] as const) {
    it(`a path file that is ${what}: one warning naming it, the library missing (exit 1), no hang`, async () => {
      const root = muslRoot(`bad-${what.replace(/\W+/g, '-')}`, undefined, 'opt/a');
      fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
      make(path.join(root, 'etc/ld-musl-x86_64.path'));
      const r = await elfcopy(['deps', '--root', root, '/bin/prog'], { timeout: 20_000 });
      expect(r.exitCode).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines.filter((l) => l.startsWith('elfcopy: warning: /etc/ld-musl-x86_64.path: '))).toHaveLength(1);
      expect(lines.filter((l) => !l.startsWith('elfcopy: warning:'))).toEqual(['elfcopy: libx.so: not found (needed by /bin/prog)']);
    });
  }
});
