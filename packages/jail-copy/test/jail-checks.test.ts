/**
 * The jail around the programs: init lays it out, verify proves (statically) that every program will
 * load there, audit finds each planted weakness, --ldcache writes a cache ldconfig agrees with, unit
 * prints services that stop by pid.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SysRoot, lookupLdCache, readLdCache, targetFor, readElf } from '@elfcopy/elf-deps';

const ELFCOPY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'bin', 'elfcopy.cjs');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-checks-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [ELFCOPY, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Finding {
  rule: string;
  path: string;
  severity: string;
}
const findings = (args: string[]): { status: number | null; findings: Finding[] } => {
  const r = cli([...args, '--json']);
  return { status: r.status, findings: (JSON.parse(r.stdout) as { findings: Finding[] }).findings };
};

const WRITABLE = 'www-data:/var/lib/nginx,/var/log/nginx';
let nginxJail: string;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('init makes device nodes and the tests chroot: run them as root (CI does)');
  nginxJail = path.join(tmp, 'nginx');
  expect(cli(['init', nginxJail, '--user', 'www-data', '--writable', WRITABLE]).status).toBe(0);
  const c = cli(['/usr/sbin/nginx', '--into', nginxJail, '--with', 'nginx']);
  expect(c.status, c.stderr).toBe(0);
}, 120_000);

describe('init + copy of nginx', () => {
  it('nginx -t passes in the jail; verify passes; audit reports nothing at or above medium', () => {
    const t = spawnSync('chroot', [nginxJail, '/usr/sbin/nginx', '-t'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    const v = findings(['verify', nginxJail]);
    expect(v.findings).toEqual([]);
    expect(v.status).toBe(0);
    const a = findings(['audit', nginxJail, '--writable', WRITABLE]);
    expect(a.findings.filter((f) => f.severity !== 'low')).toEqual([]);
    expect(a.status).toBe(0);
  });

  it('the skeleton: four device nodes, /tmp 1777, /var/run -> /run, no uid 0, locked shadow', () => {
    const dev = (n: string) => fs.statSync(path.join(nginxJail, 'dev', n));
    for (const [n, min] of [['null', 3], ['zero', 5], ['random', 8], ['urandom', 9]] as const) {
      expect(dev(n).isCharacterDevice()).toBe(true);
      expect(dev(n).rdev).toBe(256 + min);
      expect(dev(n).mode & 0o777).toBe(0o666);
    }
    expect(fs.statSync(path.join(nginxJail, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.readlinkSync(path.join(nginxJail, 'var/run'))).toBe('/run');
    const passwd = fs.readFileSync(path.join(nginxJail, 'etc/passwd'), 'utf8');
    expect(passwd).toMatch(/^www-data:x:33:33:/m);
    expect(passwd).not.toMatch(/^[^:]*:x:0:/m);
    expect(fs.readFileSync(path.join(nginxJail, 'etc/shadow'), 'utf8')).toMatch(/^www-data:!:/m);
    expect(fs.readFileSync(path.join(nginxJail, 'etc/nsswitch.conf'), 'utf8')).toMatch(/^passwd:\s+files$/m);
  });

  it('init is idempotent and refuses a root account', () => {
    const before = fs.readFileSync(path.join(nginxJail, 'etc/passwd'), 'utf8');
    const again = cli(['init', nginxJail, '--user', 'www-data', '--writable', WRITABLE]);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/0 directories, 0 device nodes, 0 files, 0 links/);
    expect(fs.readFileSync(path.join(nginxJail, 'etc/passwd'), 'utf8')).toBe(before);
    const root = cli(['init', path.join(tmp, 'rooty'), '--user', 'root']);
    expect(root.status).toBe(2);
    expect(root.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/** A fresh copy of the nginx jail to break. */
function copyJail(name: string): string {
  const j = path.join(tmp, name);
  execFileSync('cp', ['-a', nginxJail, j]);
  return j;
}

describe('verify fails, naming the file and the rule, on broken jails', () => {
  it('a library removed', () => {
    const j = copyJail('v-missing');
    fs.rmSync(path.join(j, 'usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2'));
    const v = findings(['verify', j]);
    expect(v.status).toBe(1);
    expect(v.findings).toContainEqual(expect.objectContaining({ rule: 'missing-library', path: '/usr/sbin/nginx' }));
    expect(v.findings).toContainEqual(expect.objectContaining({ rule: 'symlink-dangling', path: '/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0' }));
  });

  it('a library of an older version that lacks a symbol version', () => {
    const j = copyJail('v-version');
    const d = path.join(tmp, 'ver');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'v1.map'), 'FIX_1.0 { global: f1; local: *; };\n');
    fs.writeFileSync(path.join(d, 'v2.map'), 'FIX_1.0 { global: f1; local: *; };\nFIX_2.0 { global: f2; } FIX_1.0;\n');
    fs.writeFileSync(path.join(d, 'v1.c'), 'int f1(void){return 1;}\n');
    fs.writeFileSync(path.join(d, 'v2.c'), 'int f1(void){return 1;}\nint f2(void){return 2;}\n');
    fs.writeFileSync(path.join(d, 'p.c'), 'int f2(void); int main(void){return f2();}\n');
    fs.mkdirSync(path.join(d, 'new'));
    execFileSync('gcc', ['-shared', '-fPIC', path.join(d, 'v2.c'), '-o', path.join(d, 'new', 'libfix.so.1'), '-Wl,-soname,libfix.so.1', `-Wl,--version-script=${path.join(d, 'v2.map')}`]);
    execFileSync('gcc', ['-shared', '-fPIC', path.join(d, 'v1.c'), '-o', path.join(j, 'usr/lib/x86_64-linux-gnu/libfix.so.1'), '-Wl,-soname,libfix.so.1', `-Wl,--version-script=${path.join(d, 'v1.map')}`]);
    execFileSync('gcc', [path.join(d, 'p.c'), '-o', path.join(j, 'usr/sbin/fixprog'), path.join(d, 'new', 'libfix.so.1')]);
    const v = findings(['verify', j]);
    expect(v.status).toBe(1);
    expect(v.findings).toContainEqual(expect.objectContaining({ rule: 'version-missing', path: '/usr/sbin/fixprog' }));
    expect(JSON.stringify(v.findings)).toMatch(/FIX_2\.0/);
    const run = spawnSync('chroot', [j, '/usr/sbin/fixprog'], { encoding: 'utf8' });
    expect(run.stderr).toMatch(/version `FIX_2.0' not found/);
  });

  it('a dangling link, a link climbing out, a missing NSS module, $ORIGIN without /proc', () => {
    const j = copyJail('v-misc');
    fs.symlinkSync('nothing-here', path.join(j, 'usr/lib/dangling'));
    fs.symlinkSync('../../../../../etc/passwd', path.join(j, 'usr/lib/out'));
    fs.writeFileSync(path.join(j, 'etc/nsswitch.conf'), 'passwd: files ldap\ngroup: files\n');
    const d = path.join(j, 'opt/app/bin');
    fs.mkdirSync(path.join(j, 'opt/app/lib'), { recursive: true });
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'o.c'), 'int main(void){return 0;}\n');
    execFileSync('gcc', [path.join(tmp, 'o.c'), '-o', path.join(d, 'app'), '-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib']);
    const v = findings(['verify', j]);
    expect(v.status).toBe(1);
    const rules = v.findings.map((f) => `${f.rule} ${f.path}`);
    expect(rules).toContain('symlink-dangling /usr/lib/dangling');
    expect(rules).toContain('symlink-leaves-jail /usr/lib/out');
    expect(rules).toContain('nss-module-missing /etc/nsswitch.conf');
    expect(rules).toContain('origin-without-proc /opt/app/bin/app');
  });
});

describe('verify --symbols: plugins whose symbols nothing defines', () => {
  it('pdo_mysql.so without pdo.so (no DT_NEEDED says it needs it)', () => {
    const j = path.join(tmp, 'php-symbols');
    const c = cli(['/usr/bin/php8.2', '--into', j, '--with', 'php', '-q']);
    expect(c.status, c.stderr).toBe(0);
    expect(findings(['verify', j, '--symbols']).findings).toEqual([]);
    const api = fs.readdirSync(path.join(j, 'usr/lib/php')).find((d) => /^\d{8}$/.test(d))!;
    fs.rmSync(path.join(j, 'usr/lib/php', api, 'pdo.so'));
    expect(findings(['verify', j]).status).toBe(0);
    const v = findings(['verify', j, '--symbols']);
    expect(v.status).toBe(1);
    expect(v.findings).toContainEqual(expect.objectContaining({ rule: 'undefined-symbol', path: `/usr/lib/php/${api}/pdo_mysql.so` }));
  });
});

describe('audit finds each planted weakness', () => {
  it('setuid file, root account, shell, world-writable dir, extra device, link out, hard link out', () => {
    const j = copyJail('audit');
    fs.copyFileSync('/usr/bin/true', path.join(j, 'usr/bin/suid'));
    fs.chmodSync(path.join(j, 'usr/bin/suid'), 0o4755);
    fs.appendFileSync(path.join(j, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    fs.copyFileSync('/usr/bin/dash', path.join(j, 'usr/bin/sh'));
    fs.mkdirSync(path.join(j, 'srv/drop'), { recursive: true });
    fs.chmodSync(path.join(j, 'srv/drop'), 0o777);
    execFileSync('mknod', [path.join(j, 'dev/sda'), 'b', '8', '0']);
    fs.symlinkSync('../../../../etc/shadow', path.join(j, 'srv/out'));
    const outsideFile = path.join(tmp, 'outside-hardlink');
    fs.writeFileSync(outsideFile, 'x');
    fs.linkSync(outsideFile, path.join(j, 'srv/hard'));
    const a = findings(['audit', j, '--writable', WRITABLE]);
    expect(a.status).toBe(1);
    const rules = a.findings.map((f) => `${f.rule} ${f.path}`);
    for (const expected of ['setuid /usr/bin/suid', 'root-account /etc/passwd', 'shell /usr/bin/sh', 'world-writable-dir /srv/drop', 'device /dev/sda', 'symlink-out /srv/out', 'hard-link-out /srv/hard']) {
      expect(rules).toContain(expected);
    }
    expect(cli(['audit', j, '--writable', WRITABLE, '--fail-on', 'high']).status).toBe(1);
    const clean = copyJail('audit-clean');
    fs.writeFileSync(path.join(clean, 'usr/bin/low-owned'), '');
    fs.chownSync(path.join(clean, 'usr/bin/low-owned'), 33, 33);
    expect(cli(['audit', clean, '--writable', WRITABLE, '--fail-on', 'medium']).status).toBe(0);
    expect(cli(['audit', clean, '--writable', WRITABLE, '--fail-on', 'low']).status).toBe(1);
  });
});

describe('a jail ld.so.cache', () => {
  it('ldconfig reads it back, and it makes a library outside the system directories load', () => {
    const j = path.join(tmp, 'ldcache');
    const d = path.join(tmp, 'ldc-src');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'l.c'), 'int lc(void){return 0;}\n');
    fs.writeFileSync(path.join(d, 'p.c'), 'int lc(void); int main(void){return lc();}\n');
    fs.mkdirSync(path.join(d, 'usr/local/lib'), { recursive: true });
    execFileSync('gcc', ['-shared', '-fPIC', path.join(d, 'l.c'), '-o', path.join(d, 'usr/local/lib/liblc.so.1'), '-Wl,-soname,liblc.so.1']);
    execFileSync('gcc', [path.join(d, 'p.c'), '-o', path.join(d, 'prog'), path.join(d, 'usr/local/lib/liblc.so.1')]);
    // A root with the program and its library where only a cache can point ld.so.
    const root = path.join(tmp, 'ldc-root');
    fs.mkdirSync(path.join(root, 'usr/local/lib'), { recursive: true });
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.copyFileSync(path.join(d, 'usr/local/lib/liblc.so.1'), path.join(root, 'usr/local/lib/liblc.so.1'));
    fs.copyFileSync(path.join(d, 'prog'), path.join(root, 'usr/bin/prog'));
    fs.chmodSync(path.join(root, 'usr/bin/prog'), 0o755);
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/ld.so.conf'), '/usr/local/lib\n');
    execFileSync('ldconfig', ['-r', root]);
    const noCache = cli(['/usr/bin/prog', '--into', j, '--root', root, '--no-nss']);
    expect(noCache.status, noCache.stderr).toBe(1); // the host's libc is not in the root: missing, but liblc is found via the root's cache
    // Now the host programs: copy the program with the host's libc, no cache in the jail yet.
    fs.rmSync(j, { recursive: true, force: true });
    fs.mkdirSync(path.join(tmp, 'ldc-host/usr/local/lib'), { recursive: true });
    const hostLib = '/usr/local/lib/liblc-elfcopy-test.so.1';
    fs.copyFileSync(path.join(d, 'usr/local/lib/liblc.so.1'), hostLib);
    try {
      execFileSync('patchelf', ['--set-soname', 'liblc-elfcopy-test.so.1', hostLib]);
      execFileSync('patchelf', ['--replace-needed', 'liblc.so.1', 'liblc-elfcopy-test.so.1', path.join(d, 'prog')]);
      execFileSync('ldconfig');
      expect(cli([path.join(d, 'prog'), '--into', j, '--no-nss']).status).toBe(0);
      const without = spawnSync('chroot', [j, path.join(d, 'prog')], { encoding: 'utf8' });
      expect(without.stderr).toMatch(/cannot open shared object file/);
      const deps0 = cli(['deps', '--root', j, path.join(d, 'prog')]);
      expect(deps0.status).toBe(1);
      expect(cli([path.join(d, 'prog'), '--into', j, '--no-nss', '--ldcache']).status).toBe(0);
      expect(spawnSync('chroot', [j, path.join(d, 'prog')]).status).toBe(0);
      expect(cli(['deps', '--root', j, path.join(d, 'prog')]).status).toBe(0);
      // ldconfig -p reads the cache back, entry for entry, as our reader does.
      const printed = execFileSync('ldconfig', ['-p', '-C', path.join(j, 'etc/ld.so.cache')], { encoding: 'utf8' });
      const ours = readLdCache(new SysRoot(j))!;
      const lines = printed.split('\n').filter((l) => l.startsWith('\t'));
      expect(lines.length).toBe(ours.entries.length);
      for (const e of ours.entries) expect(printed).toContain(`${e.name} (`);
      const target = targetFor(readElf(path.join(d, 'prog')), new SysRoot(j));
      expect(lookupLdCache(ours, 'liblc-elfcopy-test.so.1', target).path).toBe(hostLib);
    } finally {
      fs.rmSync(hostLib, { force: true });
      execFileSync('ldconfig');
    }
  });
});

describe('unit', () => {
  it('a systemd service with RootDirectory and PIDFile; a SysV script that stops by pid file', () => {
    const u = cli(['unit', '/usr/sbin/nginx', '--jail', nginxJail, '--pid-file', '/run/nginx.pid', '--test', '-t']);
    expect(u.status).toBe(0);
    expect(u.stdout).toContain(`RootDirectory=${nginxJail}`);
    expect(u.stdout).toContain(`PIDFile=${nginxJail}/run/nginx.pid`);
    expect(u.stdout).toContain('ExecStart=/usr/sbin/nginx');
    expect(u.stdout).toContain('NoNewPrivileges=yes');
    const s = cli(['unit', '/usr/sbin/nginx', '--jail', nginxJail, '--pid-file', '/run/nginx.pid', '--sysv']);
    expect(s.status).toBe(0);
    const file = path.join(tmp, 'nginx-jail.sh');
    fs.writeFileSync(file, s.stdout);
    expect(spawnSync('sh', ['-n', file]).status).toBe(0);
    expect(s.stdout).not.toMatch(/pkill|killall|pgrep/);
    expect(s.stdout).toMatch(/kill -TERM "\$\(cat "\$PIDFILE"\)"/);
  });
});
