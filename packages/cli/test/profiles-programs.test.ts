/**
 * Any program, not only nginx + php (issue 13): for each, `elfcopy init J --user U` then
 * `elfcopy PROG --into J --with auto` — nothing by hand — and a real smoke test inside the jail as the
 * unprivileged user, through chroot. The oracle is the program itself running in the jail; `verify` must
 * call each jail complete and `audit` must pass at its default level. Fails (never skips) when a program
 * is missing: .ci/run installs them (scripts/test-packages.txt).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy, freePort } from './helpers.js';

let tmp: string;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('these tests build and chroot into jails: run them as root (CI does)');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-programs-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** init (with a writable home, /tmp/home) + one copy with --with auto. */
async function jailFor(name: string, program: string, user: string, extra: string[] = []): Promise<{ jail: string; home: string; stderr: string }> {
  const jail = path.join(tmp, name);
  const init = await elfcopy(['init', jail, '--user', user, '--writable', `${user}:/tmp/home`]);
  expect(init.exitCode, init.stderr).toBe(0);
  const copy = await elfcopy([program, '--into', jail, '--with', 'auto', ...extra], { timeout: 300_000 });
  expect(copy.exitCode, copy.stderr).toBe(0);
  writable.set(jail, `${user}:/tmp/home`);
  return { jail, home: '/tmp/home', stderr: copy.stderr };
}

const writable = new Map<string, string>();

/** Runs `argv` in the jail as `user`, with only the environment given. */
function inJail(jail: string, user: string, argv: string[], env: Record<string, string> = {}, input?: string): SpawnSyncReturns<string> {
  return spawnSync('/usr/sbin/chroot', [`--userspec=${user}:${user === 'nobody' ? 'nogroup' : user}`, jail, ...argv], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: '/usr/bin:/bin', ...env },
    ...(input !== undefined ? { input } : {}),
  });
}

async function checksPass(jail: string, ...more: string[]): Promise<void> {
  const v = await elfcopy(['verify', jail]);
  expect(v.exitCode, v.stdout + v.stderr).toBe(0);
  const a = await elfcopy(['audit', jail, '--writable', [writable.get(jail), ...more].filter(Boolean).join(',')]);
  expect(a.exitCode, a.stdout + a.stderr).toBe(0);
}

/** Sends `request` to 127.0.0.1:port until the answer holds `until` (the daemon may still be starting). */
async function ask(port: number, request: string, until: RegExp, timeoutMs = 20_000): Promise<string> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    last = await new Promise<string>((resolve) => {
      let got = '';
      const s = net.connect(port, '127.0.0.1', () => s.write(request));
      s.setTimeout(2000, () => s.destroy());
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (until.test(got)) s.destroy();
      });
      s.on('error', () => resolve(''));
      s.on('close', () => resolve(got));
    });
    if (until.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

describe('python3 (profiles python, openssl, zoneinfo, locale)', () => {
  it('imports json, ssl with more than 100 CA certificates, sqlite3, hashlib, zoneinfo, decimal and ctypes as nobody', async () => {
    const { jail } = await jailFor('python', '/usr/bin/python3', 'nobody');
    const script = [
      'import json, ssl, sqlite3, hashlib, decimal, ctypes, datetime',
      'from zoneinfo import ZoneInfo',
      'c = ssl.create_default_context()',
      "print(c.cert_store_stats()['x509_ca'])",
      "print(datetime.datetime(2020, 7, 1, 12, tzinfo=ZoneInfo('Europe/Paris')).strftime('%Z %z'))",
      "print(json.dumps({'a': [1]}), sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0], hashlib.sha256(b'abc').hexdigest()[:8])",
      "print(decimal.Decimal('1.1') + decimal.Decimal('2.2'), ctypes.sizeof(ctypes.c_int32))",
    ].join('\n');
    const r = inJail(jail, 'nobody', ['/usr/bin/python3', '-c', script], { LANG: 'C.UTF-8' });
    expect(r.stderr).toBe('');
    const [certs, paris, line3, line4] = r.stdout.split('\n');
    expect(Number(certs)).toBeGreaterThan(100);
    expect(paris).toBe('CEST +0200');
    expect(line3).toBe('{"a": [1]} 42 ba7816bf');
    expect(line4).toBe('3.3 4');
    await checksPass(jail);
  });

  it('a python jail copied with --with none is not complete: verify names the missing standard library', async () => {
    const jail = path.join(tmp, 'python-bare');
    expect((await elfcopy(['init', jail, '--user', 'nobody'])).exitCode).toBe(0);
    const copy = await elfcopy(['/usr/bin/python3', '--into', jail, '--with', 'none']);
    expect(copy.exitCode, copy.stderr).toBe(0);
    expect(fs.existsSync(path.join(jail, 'usr/lib/python3.11/encodings'))).toBe(false);
    expect(inJail(jail, 'nobody', ['/usr/bin/python3', '-c', 'pass']).stderr).toMatch(/No module named 'encodings'/);
    const v = await elfcopy(['verify', jail]);
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toMatch(/profile-incomplete: \/usr\/bin\/python3\.11: needs \/usr\/lib\/python3\.11\/encodings\/__init__\.py/);
  });

  it('python:packages brings a dist-packages package with its metadata, and warns about one that is not there', async () => {
    const { jail, stderr } = await jailFor('python-pkgs', '/usr/bin/python3', 'nobody', ['--with', 'auto,python:packages=elftools+nosuchpkg']);
    expect(stderr).toMatch(/python package 'nosuchpkg' is in none of/);
    // python3-pyelftools: the module is elftools, the distribution pyelftools (found through top_level.txt).
    const r = inJail(jail, 'nobody', ['/usr/bin/python3', '-c', "import elftools, importlib.metadata as m; print(elftools.__name__, m.version('pyelftools') == elftools.__version__)"]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('elftools True');
    expect(fs.existsSync(path.join(jail, 'usr/lib/python3/dist-packages/yaml'))).toBe(false);
  });
});

describe('perl (profiles perl, locale)', () => {
  it('use strict, warnings, POSIX, Digest::SHA, JSON::PP and Encode under LANG=C.UTF-8 with nothing on stderr', async () => {
    const { jail } = await jailFor('perl', '/usr/bin/perl', 'nobody');
    const code = 'use strict; use warnings; use POSIX; use Digest::SHA qw(sha1_hex); use JSON::PP; use Encode; print sha1_hex("abc"), " ", JSON::PP->new->canonical->encode({a=>1}), " ", length(decode("UTF-8", "\\xc3\\xa9")), " ", POSIX::floor(2.5), "\\n";';
    const r = inJail(jail, 'nobody', ['/usr/bin/perl', '-e', code], { LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('a9993e364706816aba3e25717850c26c9cd0d89d {"a":1} 1 2\n');
    await checksPass(jail);
  });
});

describe('git (profiles git, openssl, locale)', () => {
  it('init, commit and a clone over file:// inside the jail, with no warning', async () => {
    const { jail, home } = await jailFor('git', '/usr/bin/git', 'nobody');
    const env = { HOME: home, LANG: 'C.UTF-8', GIT_AUTHOR_NAME: 'n', GIT_AUTHOR_EMAIL: 'n@x', GIT_COMMITTER_NAME: 'n', GIT_COMMITTER_EMAIL: 'n@x' };
    const steps = [
      ['/usr/bin/git', 'init', '-b', 'main', `${home}/a`],
      ['/usr/bin/git', '-C', `${home}/a`, 'commit', '--allow-empty', '-m', 'first'],
      ['/usr/bin/git', 'clone', `file://${home}/a`, `${home}/b`],
      ['/usr/bin/git', '-C', `${home}/b`, 'log', '--format=%s'],
    ];
    const out: string[] = [];
    for (const argv of steps) {
      const r = inJail(jail, 'nobody', argv, env);
      expect(r.status, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/warning|fatal|error|not found/i);
      out.push(r.stdout);
    }
    expect(out[3]).toBe('first\n');
    expect(fs.existsSync(path.join(jail, home, 'b/.git/hooks'))).toBe(true);
    // https: git-remote-https with libcurl (its closure) and the CA bundle curl verifies against.
    expect(fs.existsSync(path.join(jail, 'usr/lib/git-core/git-remote-https'))).toBe(true);
    expect(fs.readdirSync(path.join(jail, 'usr/lib/x86_64-linux-gnu')).some((n) => n.startsWith('libcurl'))).toBe(true);
    expect(fs.statSync(path.join(jail, 'etc/ssl/certs/ca-certificates.crt')).size).toBeGreaterThan(100_000);
    const helper = inJail(jail, 'nobody', ['/usr/lib/git-core/git-remote-https'], env);
    expect(helper.stderr).not.toMatch(/error while loading shared libraries/);
    // git-upload-pack is a link to git in git-core: kept as a link.
    expect(fs.readlinkSync(path.join(jail, 'usr/lib/git-core/git-upload-pack'))).toBe(fs.readlinkSync('/usr/lib/git-core/git-upload-pack'));
    const a = await elfcopy(['audit', jail, '--fail-on', 'low', '--writable', 'nobody:/tmp/home']);
    expect(a.stdout).toMatch(/low +shell: \/usr\/bin\/dash: a shell, installed on purpose \(profile git: .*sh -c/);
    await checksPass(jail);
  });
});

describe('bash as a shell account (profiles shell, locale)', () => {
  it("bash -lc 'id; ls -l /; printf é | wc -m' prints the user's name and 1; tput cols works with TERM=xterm", async () => {
    const { jail } = await jailFor('bash', '/usr/bin/bash', 'nobody');
    const r = inJail(jail, 'nobody', ['/usr/bin/bash', '-lc', 'id; ls -l /; printf é | wc -m'], { LANG: 'C.UTF-8', TERM: 'xterm' });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    expect(lines).toContain('1');
    expect(r.stdout).toMatch(/ usr\n/);
    const t = inJail(jail, 'nobody', ['/usr/bin/tput', 'cols'], { TERM: 'xterm', COLUMNS: '' });
    expect(t.stderr).toBe('');
    expect(t.stdout).toMatch(/^\d+\n$/);
    const a = await elfcopy(['audit', jail, '--fail-on', 'low', '--writable', 'nobody:/tmp/home']);
    expect(a.stdout).toMatch(/low +shell: \/usr\/bin\/bash: a shell, installed on purpose \(profile shell/);
    await checksPass(jail);
  });

  it('shell:term= and shell:programs= choose the terminfo entries and programs; an unknown TERM is a warning', async () => {
    const { jail, stderr } = await jailFor('bash-params', '/usr/bin/bash', 'nobody', ['--with', 'shell:term=vt100+nosuchterm:programs=cat+tput']);
    expect(stderr).toMatch(/profile shell: term 'nosuchterm' matches no file on this machine/);
    expect(fs.existsSync(path.join(jail, 'usr/bin/cat'))).toBe(true);
    expect(fs.existsSync(path.join(jail, 'usr/bin/ls'))).toBe(false);
    expect(inJail(jail, 'nobody', ['/usr/bin/tput', 'cols'], { TERM: 'vt100' }).status).toBe(0);
    expect(inJail(jail, 'nobody', ['/usr/bin/tput', 'cols'], { TERM: 'xterm' }).stderr).toMatch(/unknown terminal/);
  });
});

describe('daemons', () => {
  it('redis-server on 127.0.0.1 answers PING from the host and saves to /var/lib/redis', async () => {
    const { jail } = await jailFor('redis', '/usr/bin/redis-server', 'redis');
    const port = await freePort();
    const child = spawn('/usr/sbin/chroot', ['--userspec=redis:redis', jail, '/usr/bin/redis-server', '/etc/redis/redis.conf', '--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--logfile', ''], { stdio: 'ignore' });
    try {
      expect(await ask(port, 'PING\r\n', /PONG/)).toMatch(/^\+PONG\r\n/);
      expect(await ask(port, 'SET k v\r\nSAVE\r\n', /OK\r\n.*OK\r\n/s)).toMatch(/OK/);
      expect(fs.existsSync(path.join(jail, 'var/lib/redis/dump.rdb'))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    await checksPass(jail, 'redis:/var/lib/redis', 'redis:/var/log/redis');
  });

  it('memcached answers version', async () => {
    const { jail } = await jailFor('memcached', '/usr/bin/memcached', 'memcache');
    const port = await freePort();
    const child = spawn('/usr/sbin/chroot', ['--userspec=memcache:memcache', jail, '/usr/bin/memcached', '-l', '127.0.0.1', '-p', String(port), '-U', '0'], { stdio: 'ignore' });
    try {
      const host = spawnSync('memcached', ['-V'], { encoding: 'utf8' }).stdout.trim().split(' ')[1];
      expect(await ask(port, 'version\r\n', /VERSION/)).toBe(`VERSION ${host}\r\n`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(fs.existsSync(path.join(jail, 'etc/memcached.conf'))).toBe(true);
    await checksPass(jail);
  });

  it('haproxy -c accepts its configuration in the jail', async () => {
    const { jail } = await jailFor('haproxy', '/usr/sbin/haproxy', 'haproxy');
    const r = inJail(jail, 'haproxy', ['/usr/sbin/haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg']);
    expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
    expect(r.status).toBe(0);
    await checksPass(jail);
  });
});

describe('verify knows what a profile needs', () => {
  it('perl and git jails copied with --with none are not complete: verify names what each lacks', async () => {
    for (const [prog, lacks] of [
      ['/usr/bin/perl', /profile-incomplete: \/usr\/bin\/perl: needs \/usr\/lib\/x86_64-linux-gnu\/perl-base\/strict\.pm/],
      ['/usr/bin/git', /profile-incomplete: \/usr\/bin\/git: needs \/usr\/lib\/git-core\/git-upload-pack/],
    ] as const) {
      const jail = path.join(tmp, `bare-${path.basename(prog)}`);
      expect((await elfcopy(['init', jail, '--user', 'nobody'])).exitCode).toBe(0);
      expect((await elfcopy([prog, '--into', jail, '--with', 'none'])).exitCode).toBe(0);
      const v = await elfcopy(['verify', jail]);
      expect(v.exitCode, prog).toBe(1);
      expect(v.stdout).toMatch(lacks);
      // The same jail made complete by a copy with the profiles: verify agrees.
      expect((await elfcopy([prog, '--into', jail])).exitCode).toBe(0);
      expect((await elfcopy(['verify', jail])).exitCode, prog).toBe(0);
    }
  });
});

describe('the generic package profile (tclsh: no dedicated profile)', () => {
  it("tclsh finds init.tcl and its packages as nobody; the files are dpkg's list of libtcl8.6 (dpkg-query -L), never docs or the base system", async () => {
    const { jail, stderr } = await jailFor('tcl', '/usr/bin/tclsh', 'nobody');
    expect(stderr).not.toMatch(/warning/);
    const script = 'package require http; puts [info patchlevel]; puts [clock format 0 -gmt 1 -format %Y-%m-%d]; puts [string length "\u00e9"]; puts [encoding system]';
    fs.writeFileSync(path.join(jail, 'tmp', 't.tcl'), script + '\n');
    const r = inJail(jail, 'nobody', ['/usr/bin/tclsh', '/tmp/t.tcl'], { LANG: 'C.UTF-8' });
    expect(r.stderr).toBe('');
    const host = spawnSync('tclsh', [], { input: 'puts [info patchlevel]', encoding: 'utf8' }).stdout.trim();
    expect(r.stdout).toBe(`${host}\n1970-01-01\n1\nutf-8\n`);
    // The oracle for "the runtime files of the packages": dpkg's own list.
    const listed = spawnSync('dpkg-query', ['-L', 'libtcl8.6'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('/usr/share/tcltk/') && fs.lstatSync(l).isFile());
    expect(listed.length).toBeGreaterThan(100);
    for (const f of listed) expect(fs.existsSync(path.join(jail, f)), f).toBe(true);
    expect(fs.existsSync(path.join(jail, 'usr/share/doc'))).toBe(false);
    expect(fs.existsSync(path.join(jail, 'usr/share/man'))).toBe(false);
    // libc6 is base: its gconv modules are not brought wholesale.
    expect(fs.existsSync(path.join(jail, 'usr/lib/x86_64-linux-gnu/gconv'))).toBe(false);
    await checksPass(jail);
  });

  it('a bare tclsh jail (--with none) fails the way the issue says; a base package named with package:of= is refused with a warning', async () => {
    const jail = path.join(tmp, 'tcl-bare');
    expect((await elfcopy(['init', jail, '--user', 'nobody'])).exitCode).toBe(0);
    expect((await elfcopy(['/usr/bin/tclsh', '--into', jail, '--with', 'none'])).exitCode).toBe(0);
    fs.writeFileSync(path.join(jail, 'tmp', 't.tcl'), 'puts hi\n');
    expect(inJail(jail, 'nobody', ['/usr/bin/tclsh', '/tmp/t.tcl']).stderr).toMatch(/init\.tcl/);
    const r = await elfcopy(['/usr/bin/tclsh', '--into', jail, '--with', '+package:of=coreutils', '--dry-run']);
    expect(r.stderr).toMatch(/profile package: package 'coreutils' is part of the base system/);
  });
});

