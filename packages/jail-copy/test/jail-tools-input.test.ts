/**
 * The jail tools in a hurried or hostile hand (issue 11, items 8–11): init never writes a root account
 * and refuses writable directories that would be typos or holes; audit and later copies flag a writable
 * directory that holds programs; verify of a jail with no program fails; unit refuses a program the
 * jail does not hold. Oracles: the host's own account files (read with awk), stat of what the run made,
 * the jail's contents.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, requireRoot, tempDir } from './helpers/jail.js';
import { check, cli } from './helpers/jail-tools.js';

let tmp = '';
let n = 0;
const fresh = (): string => path.join(tmp, `j${++n}`);

beforeAll(() => {
  requireRoot();
  tmp = tempDir('jail-input');
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Line numbers (1-based) awk finds for a condition on a colon-separated host file. */
const awkLines = (file: string, cond: string): string[] =>
  execFileSync('awk', ['-F:', `${cond} { print NR " (" $1 ")" }`, file], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);

describe('init never writes a uid 0 or gid 0 account (refuses the host account files that hold one)', () => {
  it('--etc passwd,shadow: exit 2, one line naming /etc/passwd and its root lines; no jail is made', async () => {
    const j = fresh();
    for (const dry of [[], ['--dry-run']]) {
      const r = await cli(['init', j, '--etc', 'passwd,shadow', ...dry]);
      expect(r.status, r.stderr).toBe(2);
      const lines = errorLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^elfcopy: \/etc\/passwd: /);
      for (const l of awkLines('/etc/passwd', '$3 == "0" || $4 == "0"')) expect(lines[0]).toContain(`line ${l}`);
      expect(fs.existsSync(j)).toBe(false);
    }
  });

  it('--etc shadow and --etc group alone are refused too, naming root', async () => {
    for (const [file, cond] of [['shadow', '$1 == "root"'], ['group', '$3 == "0"']] as const) {
      const r = await cli(['init', fresh(), '--etc', file, '--no-devices']);
      expect(r.status, r.stderr).toBe(2);
      expect(errorLines(r.stderr)).toHaveLength(1);
      for (const l of awkLines(`/etc/${file}`, cond)) expect(r.stderr).toContain(`line ${l}`);
    }
  });

  it('an --etc name that climbs out of /etc is refused; an ordinary one is copied', async () => {
    const bad = await cli(['init', fresh(), '--etc', '../root/.profile']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--etc names files under \/etc/);
    const j = fresh();
    const ok = await cli(['init', j, '--etc', 'hosts', '--user', 'www-data']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(fs.readFileSync(path.join(j, 'etc/hosts'), 'utf8')).toBe(fs.readFileSync('/etc/hosts', 'utf8'));
    for (const line of fs.readFileSync(path.join(j, 'etc/passwd'), 'utf8').trim().split('\n')) {
      const f = line.split(':');
      expect(f[2]).not.toBe('0');
      expect(f[3]).not.toBe('0');
    }
  });
});

describe('--writable refuses what would be a typo or a hole (exit 2, one line), in the dry run and the run alike', () => {
  const refused = ['www-data:/etc', 'www-data:/etc/nginx', 'www-data:/usr/lib', 'www-data:/usr', 'www-data:/bin', 'www-data:/sbin', 'www-data:/lib64', 'www-data:/lib/x86_64-linux-gnu', 'www-data:/dev', 'www-data:/proc', 'www-data:../../etc', 'www-data:/var/../etc', 'nobody:relative/dir', 'www-data:/', 'www-data://', 'www-data:/.'];
  for (const spec of refused) {
    it(spec, async () => {
      for (const dry of [['--dry-run'], []]) {
        const j = fresh();
        const r = await cli(['init', j, '--writable', spec, ...dry]);
        expect(r.status, `${dry.join(' ')} ${r.stderr}`).toBe(2);
        expect(errorLines(r.stderr)).toHaveLength(1);
        expect(r.stdout).toBe('');
        // Nothing made: no jail, so no /relative/dir inside one either.
        expect(fs.existsSync(j)).toBe(false);
      }
      const a = await cli(['audit', tmp, '--writable', spec]);
      expect(a.status).toBe(2);
      expect(errorLines(a.stderr)).toHaveLength(1);
    });
  }

  it('the dry run prints the mkdir of each writable directory and its parents exactly as the run makes them (mode, owner)', async () => {
    const j = fresh();
    const args = ['init', j, '--user', 'www-data', '--writable', 'www-data:/var/lib/nginx/,/srv/data//cache', '--no-devices'];
    const dry = await cli([...args, '--dry-run']);
    expect(dry.status, dry.stderr).toBe(0);
    const planned = [...dry.stdout.matchAll(/^mkdir +(\S+) \((\d+) (\d+):(\d+)\)/gm)].map((m) => ({ p: m[1] ?? '', mode: m[2] ?? '', owner: `${m[3]}:${m[4]}` }));
    expect(planned.map((d) => d.p)).toEqual(expect.arrayContaining(['/var/lib/nginx', '/srv/data/cache', '/srv/data', '/srv']));
    const run = await cli(args);
    expect(run.status, run.stderr).toBe(0);
    for (const d of planned) {
      const st = fs.lstatSync(path.join(j, d.p));
      expect(`${d.p} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`).toBe(`${d.p} ${d.mode} ${d.owner}`);
    }
  });
});

describe('--writable elements may name their own owner', () => {
  it('www-data:/srv/a,nobody:/srv/b: each directory owned by its own user, in init and audit alike', async () => {
    const j = fresh();
    const spec = 'www-data:/srv/a,nobody:/srv/b';
    const r = await cli(['init', j, '--writable', spec, '--no-devices']);
    expect(r.status, r.stderr).toBe(0);
    const uid = (name: string): string => execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim();
    expect(String(fs.statSync(path.join(j, 'srv/a')).uid)).toBe(uid('www-data'));
    expect(String(fs.statSync(path.join(j, 'srv/b')).uid)).toBe(uid('nobody'));
    const a = await check('audit', j, ['--writable', spec]);
    expect(a.findings.filter((f) => f.path.startsWith('/srv')), a.text).toEqual([]);
    const bad = await cli(['init', fresh(), '--writable', 'www-data:/srv/a,nobody:srv/b']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('as in nobody:/srv/b');
  });
});

describe('a writable directory that holds programs or libraries is flagged', () => {
  it('audit: writable-dir-holds-code (high) for the writable directory, listed in --writable or not; without the program it is clean', async () => {
    const j = fresh();
    const init = await cli(['init', j, '--user', 'www-data', '--writable', 'www-data:/srv/app', '--no-devices']);
    expect(init.status, init.stderr).toBe(0);
    const clean = await check('audit', j, ['--writable', 'www-data:/srv/app']);
    expect(clean.findings.filter((f) => f.severity !== 'low'), clean.text).toEqual([]);
    fs.mkdirSync(path.join(j, 'srv/app/bin'));
    fs.copyFileSync('/usr/bin/true', path.join(j, 'srv/app/bin/true'));
    fs.chmodSync(path.join(j, 'srv/app/bin/true'), 0o755);
    const flagged = await check('audit', j, ['--writable', 'www-data:/srv/app']);
    expect(flagged.status).toBe(1);
    expect(flagged.findings.map((f) => `${f.rule} ${f.path} ${f.severity}`)).toContain('writable-dir-holds-code /srv/app high');
    expect(flagged.text).toContain('writable-dir-holds-code: /srv/app: writable by uid ');
    // A library without an x bit is code too (found by its ELF magic).
    fs.rmSync(path.join(j, 'srv/app/bin'), { recursive: true });
    fs.copyFileSync('/lib/x86_64-linux-gnu/libc.so.6', path.join(j, 'srv/app/libc.so.6'));
    fs.chmodSync(path.join(j, 'srv/app/libc.so.6'), 0o644);
    const lib = await check('audit', j, ['--writable', 'www-data:/srv/app']);
    expect(lib.findings.find((f) => f.rule === 'writable-dir-holds-code')?.message).toContain('/srv/app/libc.so.6');
    // A user's own script (git's hook samples in a writable home) is not what elfcopy installs: not flagged.
    fs.rmSync(path.join(j, 'srv/app/libc.so.6'));
    fs.writeFileSync(path.join(j, 'srv/app/pre-commit.sample'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const script = await check('audit', j, ['--writable', 'www-data:/srv/app']);
    expect(script.findings.map((f) => f.rule)).not.toContain('writable-dir-holds-code');
  });

  it('a later copy warns, naming the writable directory, when it installs a program there', async () => {
    const host = fs.mkdtempSync(path.join(tmp, 'host-'));
    fs.mkdirSync(path.join(host, 'app'));
    fs.copyFileSync('/usr/bin/true', path.join(host, 'app/prog'));
    fs.chmodSync(path.join(host, 'app/prog'), 0o755);
    const j = fresh();
    const init = await cli(['init', j, '--user', 'www-data', '--writable', `www-data:${host}/app`, '--no-devices']);
    expect(init.status, init.stderr).toBe(0);
    const copy = await cli([path.join(host, 'app/prog'), '--into', j]);
    expect(copy.status, copy.stderr).toBe(0);
    const warned = copy.stderr.split('\n').filter((l) => l.startsWith(`elfcopy: warning: ${host}/app: writable by uid `));
    expect(warned, copy.stderr).toHaveLength(1);
    expect(warned[0]).toContain(`${host}/app/prog`);
    // The same copy into a jail where the directory is root's says nothing of the kind.
    const plain = fresh();
    const other = await cli([path.join(host, 'app/prog'), '--into', plain]);
    expect(other.status, other.stderr).toBe(0);
    expect(other.stderr).not.toContain('writable by');
  });
});

describe('verify: a jail with no program in it is not complete', () => {
  it('an empty directory: exit 1, finding no-program, never "complete"', async () => {
    const j = fresh();
    fs.mkdirSync(j);
    const c = await check('verify', j);
    expect(c.status).toBe(1);
    expect(c.findings.map((f) => f.rule)).toEqual(['no-program']);
    const plain = await cli(['verify', j]);
    expect(plain.stdout).toMatch(/^high +no-program: \/: the jail holds no program/m);
    expect(plain.stderr).not.toContain('complete');
  });

  it('a jail of libraries only (libc and its loader, copied by elfcopy): exit 1, no-program', async () => {
    const j = fresh();
    const copy = await cli(['/lib/x86_64-linux-gnu/libc.so.6', '--into', j]);
    expect(copy.status, copy.stderr).toBe(0);
    const c = await check('verify', j);
    expect(c.status).toBe(1);
    expect(c.findings.map((f) => f.rule)).toContain('no-program');
  });

  it('with a program (true, copied by elfcopy) the rule is silent and verify passes; chroot agrees it runs', async () => {
    const j = fresh();
    const copy = await cli(['/usr/bin/true', '--into', j]);
    expect(copy.status, copy.stderr).toBe(0);
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
    const c = await check('verify', j);
    expect(c.findings).toEqual([]);
    expect(c.status).toBe(0);
  });
});

describe('unit', () => {
  let j = '';
  beforeAll(async () => {
    j = fresh();
    const copy = await cli(['/usr/bin/true', '--into', j]);
    expect(copy.status, copy.stderr).toBe(0);
    fs.writeFileSync(path.join(j, 'usr/bin/notexec'), 'x');
  });

  it('refuses a program that is not in the jail, a directory and a file without an x bit (exit 2, one line, nothing printed)', async () => {
    for (const [prog, why] of [['/usr/bin/nothere', /not in the jail/], ['/usr/bin', /not a regular file/], ['/usr/bin/notexec', /not executable/]] as const) {
      for (const sysv of [[], ['--sysv']]) {
        const u = await cli(['unit', prog, '--jail', j, ...sysv]);
        expect(u.status, prog).toBe(2);
        expect(u.stdout).toBe('');
        const lines = errorLines(u.stderr);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^elfcopy: ${prog}: `));
        expect(lines[0]).toMatch(why);
      }
    }
  });

  it('the default ExecReload runs on the host (+), since the jail has no /bin/kill; without --pid-file nothing speaks of PIDFile', async () => {
    expect(fs.existsSync(path.join(j, 'bin/kill')) || fs.existsSync(path.join(j, 'usr/bin/kill'))).toBe(false);
    const u = await cli(['unit', '/usr/bin/true', '--jail', j]);
    expect(u.status, u.stderr).toBe(0);
    const lines = u.stdout.split('\n');
    expect(lines).toContain('ExecReload=+/bin/kill -HUP $MAINPID');
    expect(lines).toContain('Type=simple');
    expect(u.stdout).not.toMatch(/PIDFile/i);
    const withPid = await cli(['unit', '/usr/bin/true', '--jail', j, '--pid-file', '/run/true.pid']);
    expect(withPid.stdout.split('\n')).toContain(`PIDFile=${j}/run/true.pid`);
    expect(withPid.stdout).toMatch(/^# .*PIDFile=/m);
    // A --reload command is the program's own: it runs inside the jail, without '+'.
    const reload = await cli(['unit', '/usr/bin/true', '--jail', j, '--reload', '-s reload']);
    expect(reload.stdout.split('\n')).toContain('ExecReload=/usr/bin/true -s reload');
  });
});
