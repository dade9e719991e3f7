/**
 * The jail around the programs, through the built CLI: `init` lays out a skeleton nginx runs in,
 * `verify` proves statically that every program there will load and names file and rule when one would
 * not, `audit` finds each planted weakness, `--ldcache` writes the cache ldconfig would write, and
 * `unit` prints services that stop a daemon by its pid file. Oracles: chroot, ldconfig, sh -n.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SysRoot, formatCacheEntry, lookupLdCache, readElf, readLdCache, targetFor } from '@elfcopy/elf-deps';
import { errorLines, gcc, requireRoot, snapshot, tempDir } from './helpers/jail.js';
import { atLeastMedium, buildSlowDaemon, buildVersionFixture, check, cli, cloneJail, type Checked } from './helpers/jail-tools.js';

const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const WRITABLE = 'www-data:/var/lib/nginx,/var/log/nginx';
const MERGED_USR = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

let tmp = '';
let nginxJail = '';
let nginxTest: { status: number | null; stderr: string } = { status: null, stderr: '' };
let cloned = 0;
/** A fresh copy of the nginx jail, to break. */
const breakable = (): string => cloneJail(nginxJail, path.join(tmp, `broken-${++cloned}`));
const chroot = (jail: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync('chroot', [jail, ...args], { encoding: 'utf8', timeout: 20_000 });
const ruleAndPath = (f: { rule: string; path: string }): string => `${f.rule} ${f.path}`;

/** The finding is in the JSON (rule + path) and its plain-text line names the same rule and file. */
function expectFinding(c: Checked, rule: string, p: string): void {
  expect(c.findings.map(ruleAndPath)).toContain(`${rule} ${p}`);
  expect(c.text).toContain(`${rule}: ${p}: `);
}

beforeAll(async () => {
  requireRoot();
  tmp = tempDir('jail-tools');
  nginxJail = path.join(tmp, 'nginx');
  const init = await cli(['init', nginxJail, '--user', 'www-data', '--writable', 'www-data:/var/log/nginx']);
  expect(init.status, init.stderr).toBe(0);
  const copy = await cli(['/usr/sbin/nginx', '--into', nginxJail, '--with', 'nginx']);
  expect(copy.status, copy.stderr).toBe(0);
  // nginx -t creates /var/lib/nginx/{body,proxy,…} owned by www-data: run it before anything audits.
  nginxTest = chroot(nginxJail, '/usr/sbin/nginx', '-t');
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('init', () => {
  it('lays out the skeleton: four device nodes, /etc essentials, a minimal nsswitch.conf, /tmp 1777, /var/run -> /run, the host merged-/usr links', () => {
    const at = (p: string): string => path.join(nginxJail, p);
    for (const [name, minor] of [['null', 3], ['zero', 5], ['random', 8], ['urandom', 9]] as const) {
      const st = fs.lstatSync(at(`dev/${name}`));
      expect(st.isCharacterDevice(), name).toBe(true);
      expect([Math.floor(st.rdev / 256), st.rdev % 256], name).toEqual([1, minor]);
      expect(st.mode & 0o7777, name).toBe(0o666);
    }
    expect(fs.readdirSync(at('dev')).sort()).toEqual(['null', 'random', 'urandom', 'zero']);
    expect(fs.statSync(at('tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.readlinkSync(at('var/run'))).toBe('/run');
    for (const name of MERGED_USR) {
      const host = fs.lstatSync(`/${name}`, { throwIfNoEntry: false });
      if (host?.isSymbolicLink()) expect(fs.readlinkSync(at(name)), name).toBe(fs.readlinkSync(`/${name}`));
    }
    if (fs.lstatSync('/etc/localtime', { throwIfNoEntry: false })?.isSymbolicLink()) expect(fs.readlinkSync(at('etc/localtime'))).toBe(fs.readlinkSync('/etc/localtime'));
    for (const f of ['hosts', 'host.conf', 'resolv.conf', 'services', 'protocols']) {
      if (fs.existsSync(`/etc/${f}`)) expect(fs.readFileSync(at(`etc/${f}`), 'utf8'), f).toBe(fs.readFileSync(`/etc/${f}`, 'utf8'));
    }
    const nss = fs.readFileSync(at('etc/nsswitch.conf'), 'utf8');
    expect(nss).toMatch(/^passwd:\s+files$/m);
    expect(nss).toMatch(/^hosts:\s+files dns$/m);
    expect(nss).not.toMatch(/systemd|ldap|nis|sss/);
  });

  it('writes accounts for the named users only, none with uid or gid 0, and locked shadow entries', () => {
    const read = (f: string): string[] => fs.readFileSync(path.join(nginxJail, 'etc', f), 'utf8').trim().split('\n');
    const hostRow = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('www-data:'))?.split(':') ?? [];
    expect(read('passwd')).toEqual([`www-data:x:${hostRow[2]}:${hostRow[3]}:www-data:${hostRow[5]}:/usr/sbin/nologin`]);
    expect(read('group')).toEqual([`www-data:x:${hostRow[3]}:`]);
    expect(read('shadow')).toEqual([expect.stringMatching(/^www-data:!:/)]);
    expect(read('gshadow')).toEqual(['www-data:!::']);
    expect(fs.statSync(path.join(nginxJail, 'etc/shadow')).mode & 0o777).toBe(0o640);
    const wl = fs.statSync(path.join(nginxJail, 'var/log/nginx'));
    expect([wl.uid, wl.gid, wl.mode & 0o7777]).toEqual([Number(hostRow[2]), Number(hostRow[3]), 0o750]);
  });

  it('is idempotent: a second run creates nothing and leaves every file as it was', async () => {
    const fresh = path.join(tmp, 'init-twice');
    const args = ['--user', 'www-data', '--writable', 'www-data:/var/log/nginx'];
    expect((await cli(['init', fresh, ...args])).status).toBe(0);
    const before = snapshot(fresh);
    const again = await cli(['init', fresh, ...args]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/init: 0 directories, 0 device nodes, 0 files, 0 links, \d+ unchanged/);
    expect(snapshot(fresh)).toEqual(before);

    // Over a jail nginx has been copied into (and nginx -t has run in): nothing created, nothing rewritten.
    // (elfcopy's own manifest under /.elfcopy records the run and may change.)
    const outsideManifest = (jail: string): string[] => snapshot(jail).filter((l) => !l.startsWith('/.elfcopy'));
    const populated = outsideManifest(nginxJail);
    const overCopy = await cli(['init', nginxJail, ...args]);
    expect(overCopy.status, overCopy.stderr).toBe(0);
    expect(overCopy.stderr).toMatch(/init: 0 directories, 0 device nodes, 0 files, 0 links/);
    expect(outsideManifest(nginxJail)).toEqual(populated);
  });

  it.each([['root'], ['toor:0:0'], ['www-data:33:0']])('refuses the account %s (uid or gid 0): exit 2, one line, no account written', async (user) => {
    const jail = path.join(tmp, `rooty-${user.replace(/:/g, '-')}`);
    const r = await cli(['init', jail, '--user', user]);
    expect(r.status).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/uid 0 or gid 0/)]);
    expect(fs.existsSync(path.join(jail, 'etc/passwd'))).toBe(false);
  });
});

describe('nginx in a jail made by init and copy', () => {
  it('nginx -t passes inside the jail (chroot oracle)', () => {
    expect(nginxTest.status, nginxTest.stderr).toBe(0);
    expect(nginxTest.stderr).toMatch(/test is successful/);
  });

  it('verify passes: exit 0, no finding, and --json carries the schema', async () => {
    const v = await check('verify', nginxJail);
    expect(v.schema).toBe('elfcopy.verify/1');
    expect(v.findings).toEqual([]);
    expect(v.status).toBe(0);
  });

  it('audit with the writable list reports nothing at or above medium; the list is what clears the dirs nginx -t made', async () => {
    const a = await check('audit', nginxJail, ['--writable', WRITABLE]);
    expect(a.schema).toBe('elfcopy.audit/1');
    expect(atLeastMedium(a.findings)).toEqual([]);
    expect(a.status).toBe(0);
    const madeByNginx = fs.readdirSync(path.join(nginxJail, 'var/lib/nginx'));
    expect(madeByNginx.length).toBeGreaterThan(0);
    const without = await check('audit', nginxJail, ['--writable', 'www-data:/var/log/nginx']);
    expect(without.status).toBe(1);
    for (const d of madeByNginx) expect(without.findings.map(ruleAndPath)).toContain(`writable-dir /var/lib/nginx/${d}`);
  });

  it('verify --against-host: the files init wrote are not stale copies; a copy that changed is named', async () => {
    expect((await check('verify', nginxJail, ['--against-host'])).findings).toEqual([]);
    const j = breakable();
    fs.appendFileSync(path.join(j, 'etc/nginx/mime.types'), '# edited in the jail\n');
    const v = await check('verify', j, ['--against-host']);
    expect(v.status).toBe(1);
    expect(v.findings.map(ruleAndPath)).toEqual(['differs-from-host /etc/nginx/mime.types']);
  });
});

describe('verify fails (exit 1), naming the file and the rule, on a jail broken on purpose', () => {
  it('missing-library: a library the program needs is removed; the program is named', async () => {
    const j = breakable();
    const soname = readElf(path.join(j, 'usr/sbin/nginx')).dynamic?.needed.find((n) => n !== 'libc.so.6');
    expect(soname).toBeDefined();
    const real = new SysRoot(j).realpath(`${LIBDIR}/${soname}`);
    expect(real, `${soname} in the jail`).toBeDefined();
    fs.rmSync(path.join(j, real ?? ''));
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'missing-library', '/usr/sbin/nginx');
    expect(v.findings.find((f) => f.rule === 'missing-library')?.message).toContain(String(soname));
    expect(chroot(j, '/usr/sbin/nginx', '-t').stderr).toContain(`${soname}: cannot open shared object file`);
  });

  it('version-missing: the library in the jail is older than the one the program was linked against', async () => {
    const j = breakable();
    const fx = buildVersionFixture(path.join(tmp, 'version-fixture'));
    fs.mkdirSync(path.join(j, 'usr/local/bin'), { recursive: true });
    fs.copyFileSync(fx.program, path.join(j, 'usr/local/bin/fixprog'));
    fs.chmodSync(path.join(j, 'usr/local/bin/fixprog'), 0o755);
    // The library it was built against: the jail is whole.
    fs.copyFileSync(fx.newLib, path.join(j, LIBDIR, 'libfix.so.1'));
    expect((await check('verify', j)).findings).toEqual([]);
    expect(chroot(j, '/usr/local/bin/fixprog').status).toBe(0);
    // An older build of it, which defines FIX_1.0 only.
    fs.copyFileSync(fx.oldLib, path.join(j, LIBDIR, 'libfix.so.1'));
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'version-missing', '/usr/local/bin/fixprog');
    expect(v.findings.find((f) => f.rule === 'version-missing')?.message).toMatch(/FIX_2\.0 of libfix\.so\.1/);
    expect(v.text).toContain('FIX_2.0');
    expect(chroot(j, '/usr/local/bin/fixprog').stderr).toContain("version `FIX_2.0' not found");
  });

  it('symlink-dangling: a link to nothing', async () => {
    const j = breakable();
    fs.symlinkSync('nothing-here.so.1', path.join(j, LIBDIR, 'libgone.so.1'));
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'symlink-dangling', `${LIBDIR}/libgone.so.1`);
  });

  it('symlink-leaves-jail: a relative link that climbs above the root; an absolute one resolves inside', async () => {
    const j = breakable();
    fs.mkdirSync(path.join(j, 'srv'));
    fs.symlinkSync('../../../../etc/passwd', path.join(j, 'srv/out'));
    fs.symlinkSync('/etc/passwd', path.join(j, 'srv/in'));
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'symlink-leaves-jail', '/srv/out');
    expect(v.findings.map(ruleAndPath)).toEqual(['symlink-leaves-jail /srv/out']);
  });

  it("nss-module-missing: nsswitch.conf names 'ldap' and libnss_ldap.so.2 is not in the jail", async () => {
    const j = breakable();
    fs.writeFileSync(path.join(j, 'etc/nsswitch.conf'), 'passwd: files ldap\ngroup: files\nhosts: files dns\n');
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'nss-module-missing', '/etc/nsswitch.conf');
    expect(v.findings.find((f) => f.rule === 'nss-module-missing')?.message).toContain('libnss_ldap.so.2');
  });

  it('origin-without-proc: an executable with RUNPATH $ORIGIN/../lib and no /proc in the jail', async () => {
    const j = breakable();
    fs.mkdirSync(path.join(j, 'opt/app/bin'), { recursive: true });
    fs.mkdirSync(path.join(j, 'opt/app/lib'));
    fs.copyFileSync(gcc(path.join(tmp, 'origin-app'), 'int main(void) { return 0; }\n', ['-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']), path.join(j, 'opt/app/bin/app'));
    fs.chmodSync(path.join(j, 'opt/app/bin/app'), 0o755);
    expect(readElf(path.join(j, 'opt/app/bin/app')).dynamic?.runpath).toBe('$ORIGIN/../lib');
    const v = await check('verify', j);
    expect(v.status).toBe(1);
    expectFinding(v, 'origin-without-proc', '/opt/app/bin/app');
    // A /proc mount point is what it asks for.
    fs.mkdirSync(path.join(j, 'proc'));
    expect((await check('verify', j)).findings).toEqual([]);
  });
});

describe('audit finds each planted weakness, with the right rule and nothing else at or above medium', () => {
  const plants: [rule: string, inJail: string, severity: string, plant: (j: string) => void][] = [
    ['setuid', '/usr/bin/suid', 'high', (j) => {
      fs.copyFileSync('/usr/bin/true', path.join(j, 'usr/bin/suid'));
      fs.chmodSync(path.join(j, 'usr/bin/suid'), 0o4755);
    }],
    ['root-account', '/etc/passwd', 'high', (j) => fs.appendFileSync(path.join(j, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n')],
    // /bin is the merged-/usr link: /bin/sh is /usr/bin/sh, which is where the walk (following no link) meets it.
    ['shell', '/usr/bin/sh', 'medium', (j) => fs.copyFileSync('/usr/bin/dash', path.join(j, 'bin/sh'))],
    ['world-writable-dir', '/srv/drop', 'high', (j) => {
      fs.mkdirSync(path.join(j, 'srv/drop'), { recursive: true });
      fs.chmodSync(path.join(j, 'srv/drop'), 0o777);
    }],
    ['writable-dir', '/srv/www', 'medium', (j) => {
      fs.mkdirSync(path.join(j, 'srv/www'), { recursive: true, mode: 0o755 });
      fs.chownSync(path.join(j, 'srv/www'), 33, 33);
    }],
    ['device', '/dev/sda', 'high', (j) => expect(spawnSync('mknod', [path.join(j, 'dev/sda'), 'b', '8', '0']).status).toBe(0)],
    ['symlink-out', '/srv/out', 'high', (j) => {
      fs.mkdirSync(path.join(j, 'srv'), { recursive: true });
      fs.symlinkSync('../../../../etc/passwd', path.join(j, 'srv/out'));
    }],
    ['hard-link-out', '/srv/hard', 'medium', (j) => {
      const outside = path.join(tmp, `outside-${path.basename(j)}`);
      fs.writeFileSync(outside, 'a file outside the jail\n');
      fs.mkdirSync(path.join(j, 'srv'), { recursive: true });
      expect(fs.statSync(path.dirname(outside)).dev).toBe(fs.statSync(j).dev);
      fs.linkSync(outside, path.join(j, 'srv/hard'));
    }],
  ];

  it.each(plants)('%s: %s', async (rule, inJail, severity, plant) => {
    const j = breakable();
    plant(j);
    const a = await check('audit', j, ['--writable', WRITABLE]);
    expect(atLeastMedium(a.findings).map((f) => `${ruleAndPath(f)} ${f.severity}`)).toEqual([`${rule} ${inJail} ${severity}`]);
    expectFinding(a, rule, inJail);
    expect(a.status).toBe(1);
  });

  it('--fail-on decides the exit code: a medium finding fails at medium and low, not at high', async () => {
    const j = breakable();
    fs.copyFileSync('/usr/bin/dash', path.join(j, 'usr/bin/sh'));
    const exit = async (...extra: string[]): Promise<number | undefined> => (await cli(['audit', j, '--writable', WRITABLE, ...extra])).status;
    expect(await exit('--fail-on', 'high')).toBe(0);
    expect(await exit('--fail-on', 'medium')).toBe(1);
    expect(await exit()).toBe(1);
    expect(await exit('--fail-on', 'low')).toBe(1);
    fs.chmodSync(path.join(j, 'usr/bin/sh'), 0o4755);
    expect(await exit('--fail-on', 'high')).toBe(1);
  });

  it('--fail-on low: a low finding alone (a file not owned by root) fails only there', async () => {
    const j = breakable();
    fs.writeFileSync(path.join(j, 'usr/bin/owned'), '');
    fs.chownSync(path.join(j, 'usr/bin/owned'), 33, 33);
    const a = await check('audit', j, ['--writable', WRITABLE]);
    expect(a.findings.map(ruleAndPath)).toEqual(['not-root-owned /usr/bin/owned']);
    expect(a.status).toBe(0);
    expect((await cli(['audit', j, '--writable', WRITABLE, '--fail-on', 'low'])).status).toBe(1);
    const bad = await cli(['audit', j, '--fail-on', 'severe']);
    expect(bad.status).toBe(2);
    expect(errorLines(bad.stderr)).toHaveLength(1);
  });
});

describe('--ldcache: the jail cache agrees with ldconfig', () => {
  const ldconfigLines = (cache: string): string[] =>
    spawnSync('ldconfig', ['-p', '-C', cache], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('\t')).map((l) => l.slice(1));

  it('ldconfig -p reads back every soname -> path that readLdCache and lookupLdCache report', async () => {
    const j = breakable();
    const c = await cli(['/usr/sbin/nginx', '--into', j, '--with', 'nginx', '--ldcache']);
    expect(c.status, c.stderr).toBe(0);
    const printed = ldconfigLines(path.join(j, 'etc/ld.so.cache'));
    const root = new SysRoot(j);
    const ours = readLdCache(root);
    expect(ours).toBeDefined();
    const entries = ours?.entries ?? [];
    expect(entries.length).toBeGreaterThan(0);
    expect(printed).toEqual(entries.map(formatCacheEntry));
    const target = targetFor(readElf(path.join(j, 'usr/sbin/nginx')), root);
    for (const name of new Set(entries.map((e) => e.name))) {
      const first = printed.find((l) => l.startsWith(`${name} (libc6,x86-64) => `));
      const found = ours ? lookupLdCache(ours, name, target).path : undefined;
      expect(found, name).toBe(first?.split(' => ')[1]);
      expect(root.realpath(found ?? ''), `${name} resolves inside the jail`).toBeDefined();
    }
    expect(chroot(j, '/usr/sbin/nginx', '-t').status).toBe(0);
    expect((await check('verify', j, ['--against-host'])).findings).toEqual([]);
  });

  it('is the cache ldconfig -r builds from the same directories (each directory once, however many names lead to it)', async () => {
    const j = breakable();
    const c = await cli(['/usr/sbin/nginx', '--into', j, '--with', 'nginx', '--ldcache', '-v']);
    expect(c.status, c.stderr).toBe(0);
    const dirs = /ld\.so\.cache: \d+ entries from (.+)/.exec(c.stderr)?.[1]?.split(', ') ?? [];
    expect(dirs.length).toBeGreaterThan(0);
    const twin = cloneJail(j, path.join(tmp, 'ldcache-twin'));
    fs.rmSync(path.join(twin, 'etc/ld.so.cache'));
    fs.writeFileSync(path.join(twin, 'etc/ld.so.conf'), dirs.join('\n') + '\n');
    const ldc = spawnSync('ldconfig', ['-X', '-r', twin], { encoding: 'utf8' });
    expect(ldc.status, ldc.stderr).toBe(0);
    expect(ldconfigLines(path.join(j, 'etc/ld.so.cache'))).toEqual(ldconfigLines(path.join(twin, 'etc/ld.so.cache')));
  });

  it('a library in /usr/local/lib loads in the jail only with --ldcache, and deps --root agrees both ways', async () => {
    // The source system: libc and the loader, a program and its library in /usr/local/lib, which only
    // its own ld.so.cache (from ld.so.conf) points ld.so at.
    const src = path.join(tmp, 'local-src');
    expect((await cli(['/usr/bin/true', '--into', src, '--no-nss', '-q'])).status).toBe(0);
    for (const d of ['usr/local/lib', 'usr/local/bin', 'etc']) fs.mkdirSync(path.join(src, d), { recursive: true });
    const lib = gcc(path.join(tmp, 'libjt.so.1'), 'int jt(void) { return 7; }\n', ['-shared', '-fPIC', '-Wl,-soname,libjt.so.1']);
    const prog = gcc(path.join(tmp, 'jtprog'), '#include <stdio.h>\nint jt(void);\nint main(void) { printf("jt=%d\\n", jt()); return 0; }\n', [lib]);
    fs.copyFileSync(lib, path.join(src, 'usr/local/lib/libjt.so.1'));
    fs.copyFileSync(prog, path.join(src, 'usr/local/bin/jtprog'));
    fs.chmodSync(path.join(src, 'usr/local/bin/jtprog'), 0o755);
    fs.writeFileSync(path.join(src, 'etc/ld.so.conf'), '/usr/local/lib\n');
    expect(spawnSync('ldconfig', ['-r', src]).status).toBe(0);

    const j = path.join(tmp, 'local-jail');
    const copy = await cli(['/usr/local/bin/jtprog', '--root', src, '--into', j, '--no-nss']);
    expect(copy.status, copy.stderr).toBe(0);
    expect(fs.statSync(path.join(j, 'usr/local/lib/libjt.so.1')).isFile()).toBe(true);
    expect(fs.existsSync(path.join(j, 'etc/ld.so.cache'))).toBe(false);
    const without = chroot(j, '/usr/local/bin/jtprog');
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain('libjt.so.1: cannot open shared object file');
    const depsWithout = await cli(['deps', '--root', j, '/usr/local/bin/jtprog']);
    expect(depsWithout.status).toBe(1);
    expect(depsWithout.stdout).toMatch(/libjt\.so\.1 => not found/);
    expectFinding(await check('verify', j), 'missing-library', '/usr/local/bin/jtprog');

    const withCache = await cli(['/usr/local/bin/jtprog', '--root', src, '--into', j, '--no-nss', '--ldcache']);
    expect(withCache.status, withCache.stderr).toBe(0);
    const run = chroot(j, '/usr/local/bin/jtprog');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('jt=7\n');
    const depsWith = await cli(['deps', '--root', j, '/usr/local/bin/jtprog']);
    expect(depsWith.status).toBe(0);
    expect(depsWith.stdout).toMatch(/libjt\.so\.1 => \/usr\/local\/lib\/libjt\.so\.1 \[ld\.so\.cache\]/);
    expect((await check('verify', j)).findings).toEqual([]);
  });
});

describe('unit', () => {
  it('a systemd service: RootDirectory, PIDFile inside the jail, ExecStart, NoNewPrivileges', async () => {
    const u = await cli(['unit', '/usr/sbin/nginx', '--jail', nginxJail, '--pid-file', '/run/nginx.pid', '--test', '-t']);
    expect(u.status, u.stderr).toBe(0);
    const lines = u.stdout.split('\n');
    expect(lines).toContain(`RootDirectory=${nginxJail}`);
    expect(lines).toContain(`PIDFile=${nginxJail}/run/nginx.pid`);
    expect(lines).toContain('ExecStart=/usr/sbin/nginx');
    expect(lines).toContain('ExecStartPre=/usr/sbin/nginx -t');
    expect(lines).toContain('NoNewPrivileges=yes');
    expect(lines).toContain('Type=forking');
  });

  it('a SysV script: valid sh, no pkill/killall/pgrep, stopped by its pid file', async () => {
    const s = await cli(['unit', '/usr/sbin/nginx', '--jail', nginxJail, '--pid-file', '/run/nginx.pid', '--sysv']);
    expect(s.status, s.stderr).toBe(0);
    const file = path.join(tmp, 'nginx-jail.sh');
    fs.writeFileSync(file, s.stdout);
    const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);
    expect(s.stdout).not.toMatch(/pkill|killall|pgrep/);
    expect(s.stdout).toContain(`PIDFILE='${nginxJail}/run/nginx.pid'`);
  });

  it('the SysV script runs a daemon in the jail, stops it by pid file and waits until it has exited; a failed start fails', async () => {
    const j = breakable();
    fs.mkdirSync(path.join(j, 'usr/local/bin'), { recursive: true });
    buildSlowDaemon(path.join(tmp, 'slowd'), '/run/slowd.pid');
    fs.copyFileSync(path.join(tmp, 'slowd'), path.join(j, 'usr/local/bin/slowd'));
    fs.chmodSync(path.join(j, 'usr/local/bin/slowd'), 0o755);
    const script = path.join(tmp, 'slowd.sh');
    const s = await cli(['unit', '/usr/local/bin/slowd', '--jail', j, '--pid-file', '/run/slowd.pid', '--sysv']);
    expect(s.status, s.stderr).toBe(0);
    fs.writeFileSync(script, s.stdout);
    const run = (action: string): { status: number | null; stdout: string; stderr: string } =>
      spawnSync('sh', [script, action], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const pidFile = path.join(j, 'run/slowd.pid');
    /** The daemon is alive and in this jail (a zombie or a reused pid is not). */
    const inJail = (pid: number): boolean => {
      try {
        return fs.readlinkSync(`/proc/${pid}/root`) === j;
      } catch {
        return false;
      }
    };

    const start = run('start');
    expect(start.status, start.stderr).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    try {
      expect(inJail(pid)).toBe(true);
      expect(run('status').stdout).toContain(`running (${pid})`);
      const stop = run('stop');
      expect(stop.status, stop.stderr).toBe(0);
      // The daemon removed its pid file at once but lingered a second: stop waited for the process.
      expect(inJail(pid)).toBe(false);
      expect(run('status').status).toBe(3);
    } finally {
      if (inJail(pid)) process.kill(pid, 'SIGKILL');
    }

    const failing = await cli(['unit', '/usr/local/bin/slowd', 'fail', '--jail', j, '--pid-file', '/run/slowd.pid', '--sysv']);
    fs.writeFileSync(script, failing.stdout);
    const failed = run('start');
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain('slowd: failed to start');
  });
});
