/**
 * `--with`: auto is the default profile set, `none` the bare closure, `+NAME`/`-NAME` adjust auto, and
 * profile parameters share one syntax (profile-spec.ts). Issue 11 item 15: the design's own command,
 * `elfcopy /usr/sbin/php-fpm8.2 --into J` after init, gives a php-fpm whose `-t` passes in the jail with
 * every module the host has. A re-run with unchanged arguments reuses its plan.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SysRoot } from '@elfcopy/elf-deps';
import { localeArchiveNames, localeFiles, normalizeLocaleName } from '../../jail-copy/src/profiles/locale-files.js';
import { parseProfileSpec } from '../../jail-copy/src/profiles/profile-spec.js';
import { elfcopy } from './helpers.js';

let tmp: string;
beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests build and chroot into jails: run them as root (CI does)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-with-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
function newJail(): string {
  const j = path.join(tmp, `j${++n}`);
  fs.mkdirSync(j);
  return j;
}

/** The paths a dry run would copy or link. */
async function planned(args: string[]): Promise<Set<string>> {
  const r = await elfcopy([...args, '--into', newJail(), '--dry-run', '--json', '--quiet']);
  expect(r.exitCode, r.stderr).toBe(0);
  return new Set((JSON.parse(r.stdout) as { steps: { path: string }[] }).steps.map((s) => s.path));
}

describe('the --with syntax', () => {
  it('parses auto, none, +NAME, -NAME and parameters (KEY=V+V, positional)', () => {
    expect(parseProfileSpec(undefined)).toEqual({ names: ['auto'], without: [], params: {} });
    expect(parseProfileSpec('none')).toEqual({ names: [], without: [], params: {} });
    expect(parseProfileSpec('+gconv')).toEqual({ names: ['auto', 'gconv'], without: [], params: {} });
    expect(parseProfileSpec('auto,gconv')).toEqual({ names: ['auto', 'gconv'], without: [], params: {} });
    expect(parseProfileSpec('gconv')).toEqual({ names: ['gconv'], without: [], params: {} });
    expect(parseProfileSpec('-zoneinfo')).toEqual({ names: ['auto'], without: ['zoneinfo'], params: {} });
    expect(parseProfileSpec('+python:packages=requests+idna,+locale:de_DE.UTF-8+fr_FR.UTF-8')).toEqual({
      names: ['auto', 'python', 'locale'],
      without: [],
      params: { python: { packages: ['requests', 'idna'] }, locale: { '': ['de_DE.UTF-8', 'fr_FR.UTF-8'] } },
    });
    expect(parseProfileSpec('shell:term=xterm:programs=ls+cat').params).toEqual({ shell: { term: ['xterm'], programs: ['ls', 'cat'] } });
  });

  it('refuses values that are not plain names (they become path components)', () => {
    for (const bad of ['shell:term=../../etc', 'shell:term=a/b', 'locale:.hidden', 'shell:term=', 'Bad', '-shell:term=x', 'shell:=x']) {
      expect(() => parseProfileSpec(bad), bad).toThrow();
    }
  });

  it('a bad spec, an unknown profile or an unknown parameter is one line and exit 2', async () => {
    for (const spec of ['shell:term=../../etc/shadow', 'nosuch', '+shell:nosuchkey=x', 'resolver:x', 'perl:trees=nosuch']) {
      const r = await elfcopy(['/usr/bin/ls', '--into', newJail(), '--with', spec]);
      expect(r.exitCode, `${spec}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), spec).toHaveLength(1);
      expect(r.stderr).toMatch(/^elfcopy: /);
    }
  });
});

describe('auto is the default; none is the bare closure', () => {
  it('no --with brings the C.UTF-8 locale and the resolver files; --with none brings neither', async () => {
    const auto = await planned(['/usr/bin/ls']);
    expect(auto.has('/usr/lib/locale/C.utf8/LC_CTYPE')).toBe(true);
    expect(auto.has('/etc/services')).toBe(true);
    const none = await planned(['/usr/bin/ls', '--with', 'none']);
    expect([...none].some((p) => p.startsWith('/usr/lib/locale') || p === '/etc/services')).toBe(false);
    expect(none.has('/usr/bin/ls')).toBe(true);
    // The bare closure is exactly what ldd lists, plus the loader's own dlopen()s (libgcc_s).
    const ldd = execFileSync('ldd', ['/usr/bin/ls'], { encoding: 'utf8' });
    for (const m of ldd.matchAll(/=> (\S+)/g)) expect([...none].some((p) => fs.realpathSync(p) === fs.realpathSync(m[1] ?? '')), m[1]).toBe(true);
  });

  it('+gconv adds gconv to auto, gconv alone replaces it, -locale leaves locale out', async () => {
    const plus = await planned(['/usr/bin/ls', '--with', '+gconv']);
    expect(plus.has('/usr/lib/x86_64-linux-gnu/gconv/gconv-modules')).toBe(true);
    expect(plus.has('/usr/lib/locale/C.utf8/LC_CTYPE')).toBe(true);
    const only = await planned(['/usr/bin/ls', '--with', 'gconv:charsets=ISO-8859-1']);
    expect(only.has('/usr/lib/locale/C.utf8/LC_CTYPE')).toBe(false);
    expect([...only].filter((p) => p.includes('/gconv/') && p.endsWith('.so')).map((p) => path.basename(p))).toEqual(['ISO8859-1.so']);
    const minus = await planned(['/usr/bin/ls', '--with', '-locale']);
    expect(minus.has('/usr/lib/locale/C.utf8/LC_CTYPE')).toBe(false);
    expect(minus.has('/etc/services')).toBe(true);
  });

  it('a re-run with unchanged arguments reuses its plan (the default set included); other --with plans again', async () => {
    const jail = newJail();
    const run = async (extra: string[]): Promise<boolean> => {
      const r = await elfcopy(['/usr/bin/ls', '--into', jail, '--json', '--quiet', ...extra]);
      expect(r.exitCode, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { planReused: boolean }).planReused;
    };
    expect(await run([])).toBe(false);
    expect(await run([])).toBe(true);
    expect(await run(['--with', '+gconv'])).toBe(false);
    expect(await run(['--with', '+gconv'])).toBe(true);
  });

  it('the generic package profile is only for programs no other profile claims (a link and its target are one program)', async () => {
    const profilesOf = async (prog: string): Promise<string> => {
      const r = await elfcopy([prog, '--into', newJail(), '--dry-run', '--verbose']);
      return /^profiles: (.*)$/m.exec(r.stderr)?.[1] ?? '';
    };
    // redis-server is a link to redis-check-rdb; python3 a link to python3.11.
    expect(await profilesOf('/usr/bin/redis-server')).not.toMatch(/package/);
    expect(await profilesOf('/usr/bin/python3')).not.toMatch(/package/);
    expect(await profilesOf('/usr/bin/tclsh')).toMatch(/package/);
    // ls: coreutils is a base package, so the fallback brings nothing and is not reported.
    expect(await profilesOf('/usr/bin/ls')).toBe('locale, resolver');
  });

  it('perl:trees=vendor adds the vendor tree (Debian\'s libfoo-perl packages); without it perl has only its core', async () => {
    const vendor = fs.readdirSync('/usr/share/perl5').filter((n) => n.endsWith('.pm'));
    expect(vendor.length).toBeGreaterThan(0);
    const core = await planned(['/usr/bin/perl']);
    expect(core.has('/usr/lib/x86_64-linux-gnu/perl-base/strict.pm')).toBe(true);
    expect(core.has(`/usr/share/perl5/${vendor[0]}`)).toBe(false);
    const withVendor = await planned(['/usr/bin/perl', '--with', '+perl:trees=vendor']);
    for (const f of vendor) expect(withVendor.has(`/usr/share/perl5/${f}`), f).toBe(true);
  });

  it("a named locale the host lacks is a warning naming it", async () => {
    const r = await elfcopy(['/usr/bin/ls', '--into', newJail(), '--with', '+locale:xx_YY.UTF-8', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/profile locale: locale 'xx_YY\.UTF-8' is neither in \/usr\/lib\/locale\/locale-archive nor a directory/);
  });
});

describe('a hostile sysroot', () => {
  it("a profile's links that loop, climb out or name a FIFO are skipped with a warning; nothing outside the root is copied", async () => {
    const root = path.join(tmp, 'hostile-root');
    for (const d of ['usr/bin', 'usr/lib/python3.11/lib-dynload', 'usr/lib/x86_64-linux-gnu', 'lib64']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(root, 'usr/bin/python3.11'));
    fs.chmodSync(path.join(root, 'usr/bin/python3.11'), 0o755);
    fs.copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', path.join(root, 'usr/lib/x86_64-linux-gnu/libc.so.6'));
    fs.copyFileSync('/lib64/ld-linux-x86-64.so.2', path.join(root, 'lib64/ld-linux-x86-64.so.2'));
    fs.symlinkSync('loop', path.join(root, 'usr/lib/python3.11/lib-dynload/loop'));
    fs.symlinkSync('/etc/shadow', path.join(root, 'usr/lib/python3.11/shadow'));
    fs.symlinkSync('../../../../../../../etc/passwd', path.join(root, 'usr/lib/python3.11/lib-dynload/up.so'));
    execFileSync('mkfifo', [path.join(root, 'usr/lib/python3.11/fifo')]);
    fs.writeFileSync(path.join(root, 'usr/lib/python3.11/os.py'), '# os\n');
    const jail = newJail();
    const r = await elfcopy(['/usr/bin/python3.11', '--root', root, '--into', jail], { timeout: 30_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/profile python: \/usr\/lib\/python3\.11\/lib-dynload\/loop: too many levels of symbolic links/);
    expect(fs.readFileSync(path.join(jail, 'usr/lib/python3.11/os.py'), 'utf8')).toBe('# os\n');
    for (const gone of ['usr/lib/python3.11/shadow', 'usr/lib/python3.11/fifo', 'etc/shadow', 'etc/passwd']) expect(fs.lstatSync(path.join(jail, gone), { throwIfNoEntry: false }), gone).toBeUndefined();
  });
});

describe('named locales: locale-archive and locale directories (glibc loadarchive.c, findlocale.c)', () => {
  it('normalizes the codeset as _nl_normalize_codeset does', () => {
    expect(normalizeLocaleName('de_DE.UTF-8')).toBe('de_DE.utf8');
    expect(normalizeLocaleName('en_US.ISO-8859-1')).toBe('en_US.iso88591');
    expect(normalizeLocaleName('sr_RS.UTF-8@latin')).toBe('sr_RS.utf8@latin');
    expect(normalizeLocaleName('C')).toBe('C');
  });

  it('finds a locale in an archive localedef built, and in a directory localedef built', () => {
    const root = path.join(tmp, 'locale-root');
    fs.mkdirSync(path.join(root, 'usr/lib/locale'), { recursive: true });
    // localedef is the oracle for the archive format: it writes PREFIX/usr/lib/locale/locale-archive.
    execFileSync('localedef', ['--prefix', root, '-i', 'de_DE', '-f', 'UTF-8', 'de_DE.UTF-8'], { stdio: 'ignore' });
    execFileSync('localedef', ['-i', 'fr_FR', '-f', 'UTF-8', path.join(root, 'usr/lib/locale/fr_FR.utf8')], { stdio: 'ignore' });
    const archive = fs.readFileSync(path.join(root, 'usr/lib/locale/locale-archive'));
    const listed = spawnSync('localedef', ['--prefix', root, '--list-archive'], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(localeArchiveNames(archive)?.sort()).toEqual(listed.sort());
    const sys = new SysRoot(root);
    expect(localeFiles(sys, ['de_DE.UTF-8'])).toEqual({ files: ['/usr/lib/locale/locale-archive'], warnings: [] });
    const fr = localeFiles(sys, ['fr_FR.UTF-8']);
    expect(fr.warnings).toEqual([]);
    expect(fr.files).toContain('/usr/lib/locale/fr_FR.utf8/LC_CTYPE');
    expect(localeFiles(sys, ['it_IT.UTF-8']).warnings).toHaveLength(1);
    expect(localeArchiveNames(Buffer.from('not an archive at all'))).toBeUndefined();
    // A truncated archive (hash table and names cut off) is read as far as it goes, never past its end.
    for (const cut of [28, 40, 100, 4096]) expect(() => localeArchiveNames(archive.subarray(0, cut)), String(cut)).not.toThrow();
  });
});

describe('issue 11 item 15: the design command gives a php-fpm that starts', () => {
  it('init + `elfcopy /usr/sbin/php-fpm8.2 --into J` (no --with): php-fpm8.2 -t passes, with every module the host has', async () => {
    const jail = path.join(tmp, 'fpm');
    expect((await elfcopy(['init', jail, '--user', 'www-data'])).exitCode).toBe(0);
    const copy = await elfcopy(['/usr/sbin/php-fpm8.2', '--into', jail], { timeout: 300_000 });
    expect(copy.exitCode, copy.stderr).toBe(0);
    expect(fs.existsSync(path.join(jail, 'etc/php/8.2/fpm/php-fpm.conf'))).toBe(true);
    expect(fs.readdirSync(path.join(jail, 'etc/php/8.2/fpm/pool.d'))).toEqual(fs.readdirSync('/etc/php/8.2/fpm/pool.d'));
    // php-fpm's master runs as root and drops to the pool's user: -t is the master's check.
    const t = spawnSync('chroot', [jail, '/usr/sbin/php-fpm8.2', '-t'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/configuration file \/etc\/php\/8\.2\/fpm\/php-fpm\.conf test is successful/);
    const host = execFileSync('php-fpm8.2', ['-m'], { encoding: 'utf8' });
    const inJail = spawnSync('chroot', ['--userspec=www-data:www-data', jail, '/usr/sbin/php-fpm8.2', '-m'], { encoding: 'utf8' });
    expect(inJail.stderr).toBe('');
    expect(inJail.stdout).toBe(host);
    expect(host.split('\n').filter((l) => l && !l.startsWith('[')).length).toBeGreaterThan(40);
  });
});
