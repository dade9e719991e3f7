/**
 * The plan cache (plan-cache.ts): a re-run over an unchanged host into an unchanged jail reuses the last
 * plan and changes nothing; any change to what the plan was computed from, or to what the run left in
 * the jail, makes the run plan and apply again — and a hostile cache file is never followed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAN_CACHE_PATH } from '../src/internal.js';
import { contentTree, elfcopy, gcc, requireRoot, snapshot, tempDir } from './helpers/jail.js';

const tmp = tempDir('plan-cache');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface CopyJson {
  planReused: boolean;
  copied: string[];
  linked: string[];
  dirsCreated: string[];
  unchanged: number;
  missing: { name: string }[];
}

async function copy(args: string[]): Promise<{ code: number | undefined; json: CopyJson; stderr: string }> {
  const r = await elfcopy([...args, '--json', '--quiet']);
  return { code: r.exitCode, json: JSON.parse(r.stdout) as CopyJson, stderr: r.stderr };
}

let jailCount = 0;
function newJail(): string {
  const j = path.join(tmp, `jail-${++jailCount}`);
  fs.mkdirSync(j, { mode: 0o755 });
  return j;
}

describe('host programs: a re-run reuses the plan, and a changed jail is repaired', () => {
  beforeAll(() => requireRoot());

  it('the second run reuses the plan, reports what a full run reports, and changes nothing', async () => {
    const jail = newJail();
    const first = await copy(['/usr/bin/ls', '--into', jail]);
    expect(first.code).toBe(0);
    expect(first.json.planReused).toBe(false);
    expect(first.json.copied.length).toBeGreaterThan(3);
    expect(fs.existsSync(path.join(jail, PLAN_CACHE_PATH))).toBe(true);
    const before = snapshot(jail);
    const cacheBefore = fs.lstatSync(path.join(jail, PLAN_CACHE_PATH));
    const second = await copy(['/usr/bin/ls', '--into', jail]);
    expect(second.code).toBe(0);
    expect(second.json.planReused).toBe(true);
    expect(second.json.copied).toEqual([]);
    // Reusing writes nothing, the cache included.
    const cacheAfter = fs.lstatSync(path.join(jail, PLAN_CACHE_PATH));
    expect([cacheAfter.ino, cacheAfter.mtimeMs]).toEqual([cacheBefore.ino, cacheBefore.mtimeMs]);
    // --checksum never reuses: a full run over the same jail must count the same entries unchanged.
    const full = await copy(['/usr/bin/ls', '--into', jail, '--checksum']);
    expect(full.json.planReused).toBe(false);
    expect(full.json.copied).toEqual([]);
    expect(second.json.unchanged).toBe(full.json.unchanged);
    expect(snapshot(jail)).toEqual(before);
  });

  it('other options are another plan: not reused', async () => {
    const jail = newJail();
    await copy(['/usr/bin/ls', '--into', jail]);
    const other = await copy(['/usr/bin/ls', '--into', jail, '--no-nss']);
    expect(other.json.planReused).toBe(false);
    const again = await copy(['/usr/bin/ls', '--into', jail, '--no-nss']);
    expect(again.json.planReused).toBe(true);
  });

  it('a file removed, a file rewritten or an entry added in the jail: planned again, and the jail made right', async () => {
    const jail = newJail();
    await copy(['/usr/bin/ls', '--into', jail]);
    const clean = contentTree(jail).filter((l) => !l.includes('/.elfcopy'));
    const libc = fs.realpathSync(path.join(jail, 'usr/lib/x86_64-linux-gnu/libc.so.6'));

    fs.rmSync(libc);
    const afterRemove = await copy(['/usr/bin/ls', '--into', jail]);
    expect(afterRemove.json.planReused).toBe(false);
    expect(afterRemove.json.copied).toEqual([libc.slice(jail.length)]);

    fs.appendFileSync(libc, 'tampered');
    const afterWrite = await copy(['/usr/bin/ls', '--into', jail]);
    expect(afterWrite.json.planReused).toBe(false);
    expect(afterWrite.json.copied).toEqual([libc.slice(jail.length)]);

    // An nsswitch.conf placed in the jail governs the NSS modules: the plan must be made again.
    fs.mkdirSync(path.join(jail, 'etc'), { recursive: true });
    fs.writeFileSync(path.join(jail, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\n');
    const afterConf = await copy(['/usr/bin/ls', '--into', jail]);
    expect(afterConf.json.planReused).toBe(false);
    expect((await copy(['/usr/bin/ls', '--into', jail])).json.planReused).toBe(true);
    fs.writeFileSync(path.join(jail, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
    expect((await copy(['/usr/bin/ls', '--into', jail])).json.planReused).toBe(false);

    expect(contentTree(jail).filter((l) => !l.includes('/.elfcopy') && !l.startsWith('/etc'))).toEqual(clean.filter((l) => !l.startsWith('/etc')));
  });

  it('a jail directory swapped for a link out of the jail: not reused, refused as without a cache, nothing outside touched', async () => {
    const jail = newJail();
    await copy(['/usr/bin/ls', '--into', jail]);
    const outside = path.join(tmp, 'outside-1');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'sentinel'), 'keep\n');
    const outsideBefore = snapshot(outside);
    const libdir = path.join(jail, 'usr/lib/x86_64-linux-gnu');
    fs.renameSync(libdir, path.join(tmp, 'moved-libdir'));
    fs.symlinkSync(outside, libdir);
    const r = await elfcopy(['/usr/bin/ls', '--into', jail, '--quiet']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('/usr/lib/x86_64-linux-gnu');
    expect(snapshot(outside)).toEqual(outsideBefore);
  });

  it('a cache file that is a link, not JSON, of the wrong shape or huge is never followed, trusted or read whole: the run plans, and replaces it', async () => {
    const jail = newJail();
    await copy(['/usr/bin/ls', '--into', jail]);
    const cache = path.join(jail, PLAN_CACHE_PATH);
    const outsideFile = path.join(tmp, 'outside-cache');
    fs.writeFileSync(outsideFile, fs.readFileSync(cache));
    const outsideText = fs.readFileSync(outsideFile, 'utf8');
    fs.rmSync(cache);
    fs.symlinkSync(outsideFile, cache);
    const viaLink = await copy(['/usr/bin/ls', '--into', jail]);
    expect(viaLink.json.planReused).toBe(false);
    expect(fs.lstatSync(cache).isFile()).toBe(true);
    expect(fs.readFileSync(outsideFile, 'utf8')).toBe(outsideText);

    fs.writeFileSync(cache, '{ not json');
    const garbled = await copy(['/usr/bin/ls', '--into', jail]);
    expect(garbled.code).toBe(0);
    expect(garbled.json.planReused).toBe(false);
    expect((await copy(['/usr/bin/ls', '--into', jail])).json.planReused).toBe(true);

    // Valid JSON, the right key, fields of the wrong type: not trusted, and no internal error.
    const good = JSON.parse(fs.readFileSync(cache, 'utf8')) as { host: unknown; plan: { missing: unknown[] } };
    for (const broken of [{ ...good, host: [[1, 2]] }, { ...good, plan: { ...good.plan, missing: [{ name: 1 }] } }]) {
      fs.writeFileSync(cache, JSON.stringify(broken));
      const r = await copy(['/usr/bin/ls', '--into', jail]);
      expect(r.code).toBe(0);
      expect(r.json.planReused).toBe(false);
    }

    // A huge (sparse) file is refused by its size, never read whole.
    fs.rmSync(cache);
    fs.writeFileSync(cache, '');
    fs.truncateSync(cache, 300 * 1024 * 1024);
    const huge = await copy(['/usr/bin/ls', '--into', jail]);
    expect(huge.code).toBe(0);
    expect(huge.json.planReused).toBe(false);
    expect(fs.statSync(cache).size).toBeLessThan(1024 * 1024);
  });
});

/**
 * A sysroot with /usr/bin/prog needing libfix.so, and two builds of that library beside it (BUILD/a
 * returns 1, BUILD/b 2); ROOT/usr/lib/x86_64-linux-gnu/libfix.so is a copy of BUILD/a's.
 */
function fixRoot(root: string, build: string): void {
  requireRoot();
  const libA = path.join(build, 'a', 'libfix.so');
  for (const d of ['a', 'b']) fs.mkdirSync(path.join(build, d), { recursive: true });
  gcc(libA, 'int fix(void) { return 1; }\n', ['-shared', '-fPIC', '-Wl,-soname,libfix.so']);
  gcc(path.join(build, 'b', 'libfix.so'), 'int fix(void) { return 2; }\n', ['-shared', '-fPIC', '-Wl,-soname,libfix.so']);
  fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'usr/lib/x86_64-linux-gnu'), { recursive: true });
  gcc(path.join(root, 'usr/bin/prog'), 'int fix(void);\nint main(void) { return fix(); }\n', [`-L${path.dirname(libA)}`, '-lfix']);
  fs.copyFileSync(libA, path.join(root, 'usr/lib/x86_64-linux-gnu/libfix.so'));
}

/**
 * ROOT's libfix.so given a new mtime (its content, size and inode unchanged): a reused plan is planned
 * again, and the library alone copied anew.
 */
async function replannedWhenTouched(root: string, jail: string, run: (jail: string) => ReturnType<typeof copyProg>): Promise<void> {
  await run(jail);
  expect((await run(jail)).json.planReused).toBe(true);
  const src = path.join(root, 'usr/lib/x86_64-linux-gnu/libfix.so');
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(src, t, t);
  const again = await run(jail);
  expect(again.json.planReused).toBe(false);
  expect(again.json.copied).toEqual(['/usr/lib/x86_64-linux-gnu/libfix.so']);
}

/** elfcopy --root ROOT /usr/bin/prog --into JAIL --no-nss. */
function copyProg(root: string, jail: string): Promise<{ code: number | undefined; json: CopyJson; stderr: string }> {
  return copy(['--root', root, '/usr/bin/prog', '--into', jail, '--no-nss']);
}

describe('a sysroot: a change to what the plan was computed from is seen', () => {
  const root = path.join(tmp, 'sysroot');
  const build = path.join(tmp, 'build');
  const libA = path.join(build, 'a', 'libfix.so');
  const libB = path.join(build, 'b', 'libfix.so');

  beforeAll(() => {
    fixRoot(root, build);
    fs.mkdirSync(path.join(root, 'lib/x86_64-linux-gnu'), { recursive: true });
  });

  const run = (jail: string) => copyProg(root, jail);

  it('a library appearing in a directory searched earlier: planned again, and the jail gets that one', async () => {
    const jail = newJail();
    const first = await run(jail);
    // No libc in this sysroot: incomplete (exit 1), still a plan worth keeping.
    expect(first.code).toBe(1);
    expect(first.json.copied).toContain('/usr/lib/x86_64-linux-gnu/libfix.so');
    expect((await run(jail)).json.planReused).toBe(true);

    fs.copyFileSync(libB, path.join(root, 'lib/x86_64-linux-gnu/libfix.so'));
    const second = await run(jail);
    expect(second.json.planReused).toBe(false);
    expect(second.json.copied).toEqual(['/lib/x86_64-linux-gnu/libfix.so']);
    fs.rmSync(path.join(root, 'lib/x86_64-linux-gnu/libfix.so'));
  });

  it('a source file changed in place (same size): planned again, and the copy replaced', async () => {
    await replannedWhenTouched(root, newJail(), run);
  });

  it('a directory input: a new ELF file in it, or a script there overwritten in place by an ELF file, is seen', async () => {
    const mods = path.join(root, 'usr/lib/mods');
    fs.mkdirSync(mods, { recursive: true });
    fs.copyFileSync(libA, path.join(mods, 'one.so'));
    fs.writeFileSync(path.join(mods, 'tool.sh'), '#!/bin/sh\necho not an ELF file, not an input\n'.padEnd(20000, '#'));
    const jail = newJail();
    const args = ['--root', root, '/usr/lib/mods', '--into', jail, '--no-nss'];
    const first = await copy(args);
    expect(first.json.copied).toContain('/usr/lib/mods/one.so');
    expect(first.json.copied).not.toContain('/usr/lib/mods/tool.sh');
    expect((await copy(args)).json.planReused).toBe(true);

    fs.copyFileSync(libB, path.join(mods, 'two.so'));
    const added = await copy(args);
    expect(added.json.planReused).toBe(false);
    expect(added.json.copied).toEqual(['/usr/lib/mods/two.so']);
    expect((await copy(args)).json.planReused).toBe(true);

    // Written over in place (the same inode, the directory's mtime unchanged): only the file's own
    // signature shows it.
    const inode = fs.statSync(path.join(mods, 'tool.sh')).ino;
    fs.writeFileSync(path.join(mods, 'tool.sh'), fs.readFileSync(libA));
    expect(fs.statSync(path.join(mods, 'tool.sh')).ino).toBe(inode);
    const overwritten = await copy(args);
    expect(overwritten.json.planReused).toBe(false);
    expect(overwritten.json.copied).toEqual(['/usr/lib/mods/tool.sh']);
  });

  it('a program replaced by another build: planned again', async () => {
    const jail = newJail();
    await run(jail);
    gcc(path.join(build, 'prog2'), 'int main(void) { return 0; }\n');
    fs.renameSync(path.join(build, 'prog2'), path.join(root, 'usr/bin/prog'));
    const again = await run(jail);
    expect(again.json.planReused).toBe(false);
    expect(again.json.copied).toEqual(['/usr/bin/prog']);
  });
});

/**
 * A merged-/usr sysroot (lib -> usr/lib, as Debian's): the loader's paths name each library through the
 * link as well as by its own path. A change to the library, or to the link itself, must be seen.
 */
describe('a merged-/usr sysroot: a library named through a link', () => {
  const root = path.join(tmp, 'merged');
  const build = path.join(tmp, 'merged-build');
  const libA = path.join(build, 'a', 'libfix.so');
  const libB = path.join(build, 'b', 'libfix.so');

  beforeAll(() => {
    fixRoot(root, build);
    fs.mkdirSync(path.join(root, 'alt/lib/x86_64-linux-gnu'), { recursive: true });
    fs.symlinkSync('usr/lib', path.join(root, 'lib'));
    fs.copyFileSync(libB, path.join(root, 'alt/lib/x86_64-linux-gnu/libfix.so'));
  });

  const run = (jail: string) => copyProg(root, jail);
  const jailLib = (jail: string): Buffer => fs.readFileSync(fs.realpathSync(path.join(jail, 'lib/x86_64-linux-gnu/libfix.so')));

  it('the library reached through the link: reused while nothing changes, both names in the cache', async () => {
    const jail = newJail();
    const first = await run(jail);
    expect(first.json.copied).toContain('/usr/lib/x86_64-linux-gnu/libfix.so');
    expect(Buffer.compare(jailLib(jail), fs.readFileSync(libA))).toBe(0);
    expect((await run(jail)).json.planReused).toBe(true);
    // Both names were consulted, or this tests no second name.
    const host = (JSON.parse(fs.readFileSync(path.join(jail, PLAN_CACHE_PATH), 'utf8')) as { host: [string, string][] }).host.map(([p]) => p);
    expect(host).toContain(path.join(root, 'lib/x86_64-linux-gnu/libfix.so'));
    expect(host).toContain(path.join(root, 'usr/lib/x86_64-linux-gnu/libfix.so'));
  });

  it('the link pointed elsewhere (another libfix.so there): planned again, and the jail gets that one', async () => {
    const jail = newJail();
    await run(jail);
    fs.rmSync(path.join(root, 'lib'));
    fs.symlinkSync('alt/lib', path.join(root, 'lib'));
    try {
      const again = await run(jail);
      expect(again.json.planReused).toBe(false);
      expect(Buffer.compare(jailLib(jail), fs.readFileSync(libB))).toBe(0);
    } finally {
      fs.rmSync(path.join(root, 'lib'));
      fs.symlinkSync('usr/lib', path.join(root, 'lib'));
    }
  });

  it('the library rewritten in place (same inode, same size): planned again through either name', async () => {
    await replannedWhenTouched(root, newJail(), run);
  });
});
