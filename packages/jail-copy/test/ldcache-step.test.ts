/**
 * Everything that writes is a plan step (issue 15): --ldcache's /etc/ld.so.cache is the plan's
 * `ldcache` step — a dry run prints it and writes nothing, the run records it in the manifest as a
 * file elfcopy made (no host source), and verify --against-host knows that from the manifest.
 * The cache's content is checked against ldconfig in jail-tools.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MANIFEST_PATH, parseManifest, planCopy } from '../src/index.js';
import { gcc, requireRoot, tempDir } from './helpers/jail.js';
import { cli } from './helpers/jail-tools.js';

const tmp = tempDir('ldcache-step');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--ldcache as a plan step', () => {
  it('a dry run prints the ldcache step (JSON too) and writes nothing', async () => {
    const j = path.join(tmp, 'dry');
    const text = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--dry-run']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^ldcache \/etc\/ld\.so\.cache \(\d+ libraries\)\s+# the jail's own ld\.so\.cache/m);
    const json = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--dry-run', '--json']);
    const plan = JSON.parse(json.stdout) as { steps: { op: string; path: string; libraries?: string[] }[] };
    const step = plan.steps.find((s) => s.op === 'ldcache');
    expect(step?.path).toBe('/etc/ld.so.cache');
    expect(step?.libraries).toContain(plan.steps.find((s) => s.op === 'copy' && /\/libc\.so\.6$/.test(s.path))?.path);
    // The last step: it reads the jail once every library is in place.
    expect(plan.steps.at(-1)?.op).toBe('ldcache');
    expect(fs.existsSync(j)).toBe(false);
  });

  it('the run writes it, the manifest records it with its hash and no source, and verify --against-host does not call it stale', async () => {
    const j = path.join(tmp, 'run');
    const r = await cli(['/usr/bin/true', '--into', j, '--with', 'none', '--ldcache', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { written: string[] }).written).toContain('/etc/ld.so.cache');
    const bytes = fs.readFileSync(path.join(j, 'etc/ld.so.cache'));
    const entry = parseManifest(fs.readFileSync(path.join(j, MANIFEST_PATH), 'utf8'))?.entries.find((e) => e.path === '/etc/ld.so.cache');
    expect(entry).toMatchObject({ kind: 'file', size: bytes.length });
    expect(entry?.source).toBeUndefined();
    const sha = spawnSync('sha256sum', [path.join(j, 'etc/ld.so.cache')], { encoding: 'utf8' }).stdout.split(' ')[0];
    expect(entry?.sha256).toBe(sha);
    const v = await cli(['verify', j, '--against-host', '--json']);
    const findings = (JSON.parse(v.stdout) as { findings: { rule: string; path: string }[] }).findings;
    expect(findings.filter((f) => f.path === '/etc/ld.so.cache')).toEqual([]);
  });
});

describe('the warning for libraries only ld.so.cache finds', () => {
  it('names each directory outside the loader\'s system directories that the cache found a library in, once, and no other — per target (x86-64 and i386)', async () => {
    requireRoot();
    // A root with its own ld.so.cache: libraries in /usr/local/lib and /opt/jq/lib (only the cache
    // points there) and one in a system directory (the cache finds it too).
    const src = path.join(tmp, 'cache-only-src');
    expect((await cli(['/usr/bin/true', '--into', src, '--no-nss', '-q'])).status).toBe(0);
    const multiarch = fs.existsSync(path.join(src, 'usr/lib/x86_64-linux-gnu')) ? 'usr/lib/x86_64-linux-gnu' : 'usr/lib';
    const libs = [
      { name: 'libjt', dir: 'usr/local/lib' },
      { name: 'libjq', dir: 'opt/jq/lib' },
      { name: 'libjr', dir: 'opt/jq/lib' },
      { name: 'libjs', dir: multiarch },
    ];
    const built = libs.map(({ name, dir }) => {
      fs.mkdirSync(path.join(src, dir), { recursive: true });
      const lib = gcc(path.join(tmp, `${name}.so.1`), `int ${name}(void) { return 1; }\n`, ['-shared', '-fPIC', `-Wl,-soname,${name}.so.1`]);
      fs.copyFileSync(lib, path.join(src, dir, `${name}.so.1`));
      return lib;
    });
    fs.mkdirSync(path.join(src, 'usr/local/bin'), { recursive: true });
    const prog = gcc(path.join(tmp, 'cacheprog'), `${libs.map((l) => `int ${l.name}(void);`).join(' ')}\nint main(void) { return ${libs.map((l) => `${l.name}()`).join(' + ')} - ${libs.length}; }\n`, built);
    fs.copyFileSync(prog, path.join(src, 'usr/local/bin/cacheprog'));
    fs.chmodSync(path.join(src, 'usr/local/bin/cacheprog'), 0o755);
    // An i386 program beside it, with its own loader and libc, and a library in the x86-64 multiarch
    // directory: a system directory of the x86-64 loader, not of the i386 one. One target used for
    // both (a memo of targets keyed too loosely) would warn for libjs, or not for libj32.
    const prog32 = gcc(path.join(tmp, 'cacheprog32'), 'int libj32(void);\nint main(void) { return libj32() - 1; }\n', [
      '-m32',
      gcc(path.join(tmp, 'libj32.so.1'), 'int libj32(void) { return 1; }\n', ['-m32', '-shared', '-fPIC', '-Wl,-soname,libj32.so.1']),
    ]);
    // Its loader and libc: what elfcopy copies for a plain i386 program.
    const plain32 = gcc(path.join(tmp, 'plain32'), 'int main(void) { return 0; }\n', ['-m32']);
    const seeded = await cli([plain32, '--into', src, '--no-nss', '-q']);
    expect(seeded.status, seeded.stderr).toBe(0);
    fs.copyFileSync(path.join(tmp, 'libj32.so.1'), path.join(src, multiarch, 'libj32.so.1'));
    fs.copyFileSync(prog32, path.join(src, 'usr/local/bin/cacheprog32'));
    fs.chmodSync(path.join(src, 'usr/local/bin/cacheprog32'), 0o755);
    fs.writeFileSync(path.join(src, 'etc/ld.so.conf'), '/usr/local/lib\n/opt/jq/lib\n');
    expect(spawnSync('ldconfig', ['-r', src]).status).toBe(0);

    // The oracles, from the loaders themselves: which files each found through the cache (LD_DEBUG=libs:
    // a 'trying file=' right after 'search cache='), and each one's system directories (--list-diagnostics).
    const expectedFor = (prog: string, loader: string, libNames: string[]): string[] => {
      // (chroot's own libraries show too: all in system directories, which the filter below drops.)
      const debug = spawnSync('chroot', [src, prog], { encoding: 'utf8', env: { ...process.env, LD_DEBUG: 'libs' } });
      expect(debug.status, debug.stderr).toBe(0);
      const lines = debug.stderr.split('\n').map((l) => l.replace(/^\s*\d+:\s*/, '').trim());
      const viaCache = lines.flatMap((l, i) => (l.startsWith('search cache=') ? (/^trying file=(.+)$/.exec(lines[i + 1] ?? '')?.[1] ?? []) : []));
      const systemDirs = [...spawnSync(path.join(src, loader), ['--list-diagnostics'], { encoding: 'utf8' }).stdout.matchAll(/^path\.system_dirs\[0x[0-9a-f]+\]="(.*)"$/gm)].map((m) => (m[1] ?? '').replace(/\/$/, ''));
      expect(systemDirs.length, loader).toBeGreaterThan(0);
      expect(viaCache.map((f) => path.posix.basename(f))).toEqual(expect.arrayContaining(libNames));
      return viaCache.map((f) => path.posix.dirname(f)).filter((d) => !systemDirs.includes(d));
    };
    const expected = [
      ...new Set([...expectedFor('/usr/local/bin/cacheprog', 'lib64/ld-linux-x86-64.so.2', libs.map((l) => `${l.name}.so.1`)), ...expectedFor('/usr/local/bin/cacheprog32', 'lib/ld-linux.so.2', ['libj32.so.1'])]),
    ].sort();
    // The i386 loader names libj32 by the path its cache gives (/lib/… or /usr/lib/…, merged /usr).
    expect(expected.filter((d) => !d.endsWith(`/${path.posix.basename(multiarch)}`))).toEqual(['/opt/jq/lib', '/usr/local/lib']);
    expect(expected.length).toBe(3);

    const plan = planCopy(['/usr/local/bin/cacheprog', '/usr/local/bin/cacheprog32'], path.join(tmp, 'cache-only-jail'), { root: src, nss: false });
    const warned = plan.warnings.flatMap((w) => /^libraries in (.+) were found through ld\.so\.cache, which the jail lacks/.exec(w)?.[1] ?? []);
    expect(warned.sort()).toEqual(expected);
  });
});
