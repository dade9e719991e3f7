/**
 * Every file name may hold a newline (issue 11, item 2). Line output never carries a control character
 * raw: names are escaped as GNU ls -b escapes them (oracle: `ls -b` itself), which GNU tar's -T reads
 * back (oracle: tar), and `-0/--null` prints them raw, NUL-terminated. Every error is one line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELFCOPY, elfcopy } from './helpers.js';

let tmp: string;
/** A directory input holding `x\n/etc/shadow`: an ELF copy whose name, printed raw, reads as /etc/shadow. */
let trap: string;
const shadowCopy = (): string => path.join(trap, 'x\n', 'etc', 'shadow');
/** Names with every kind of character escape.ts escapes (and one it keeps). */
const NAMES = ['x\n', 'a\tb', 'back\\slash', 'esc\u001b[31m', 'c1\u009b', 'del\u007f', 'bell\u0007', 'cr\r', 'é'];
let zoo: string;

/** Any control character but the line ends themselves. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-lines-'));
  trap = path.join(tmp, 'trap');
  fs.mkdirSync(path.join(trap, 'x\n', 'etc'), { recursive: true });
  fs.copyFileSync('/usr/bin/true', shadowCopy());
  zoo = path.join(tmp, 'zoo');
  fs.mkdirSync(zoo);
  for (const n of NAMES) fs.copyFileSync('/usr/bin/true', path.join(zoo, n));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('deps --list', () => {
  it("README's pipe `deps --list DIR | tar -cf o.tar -T -` archives the file named x\\n/etc/shadow, never the host's /etc/shadow", () => {
    const tarFile = path.join(tmp, 'o.tar');
    const r = spawnSync('bash', ['-c', 'set -o pipefail; node "$0" deps --list "$1" | tar -cf "$2" -T -', ELFCOPY, trap, tarFile], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: 1 path\(s\) hold a control character/);
    const members = execFileSync('tar', ['--null', '--quoting-style=literal', '-tf', tarFile], { encoding: 'utf8' }).split('\n');
    expect(members).not.toContain('etc/shadow');
    const out = path.join(tmp, 'extracted');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xf', tarFile, '-C', out]);
    expect(fs.readFileSync(path.join(out, shadowCopy())).equals(fs.readFileSync('/usr/bin/true'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'etc/shadow'))).toBe(false);
  });

  it('each name is escaped exactly as GNU ls -b prints it (C.UTF-8), one line per path', async () => {
    const r = await elfcopy(['deps', '--list', zoo]);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    for (const l of lines) expect(l).not.toMatch(RAW_CONTROL);
    const ours = lines.filter((l) => l.startsWith(`${zoo}/`)).map((l) => l.slice(zoo.length + 1)).sort();
    const ls = execFileSync('ls', ['-b', zoo], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8' } }).split('\n').filter(Boolean).sort();
    expect(ours).toEqual(ls);
    expect(ours).toHaveLength(NAMES.length);
  });

  it('-0/--null: the raw names, each ended by a NUL, as tar --null -T reads them', async () => {
    const r = await elfcopy(['deps', '--list', '-0', zoo]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\0')).toBe(true);
    const names = r.stdout.split('\0').slice(0, -1);
    expect(names.filter((n) => n.startsWith(`${zoo}/`)).map((n) => path.basename(n)).sort()).toEqual([...NAMES].sort());
    expect(r.stderr).toBe('');
    const tarFile = path.join(tmp, 'null.tar');
    const t = spawnSync('bash', ['-c', 'set -o pipefail; node "$0" deps --null --list "$1" | tar --null -cf "$2" -T -', ELFCOPY, zoo, tarFile], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    const members = execFileSync('tar', ['--null', '-tf', tarFile]).toString().split('\0');
    expect(members.length).toBeGreaterThan(0);
    const listed = spawnSync('tar', ['--quoting-style=literal', '-tf', tarFile], { encoding: 'utf8' }).stdout;
    for (const n of NAMES) expect(listed, JSON.stringify(n)).toContain(`${zoo.slice(1)}/${n}\n`);
  });

  it('-0 without --list is a usage error', async () => {
    const r = await elfcopy(['deps', '-0', '/usr/bin/true']);
    expect(r.exitCode).toBe(2);
    // (execa strips the final newline)
    expect(r.stderr).toBe('elfcopy: -0/--null goes with --list');
  });
});

describe('no human-readable output carries a control character raw; every error is one line', () => {
  const clean = (text: string): void => {
    for (const l of text.split('\n')) expect(l, JSON.stringify(l)).not.toMatch(RAW_CONTROL);
  };

  it('the tree, --why and --dot', async () => {
    for (const args of [['deps', zoo], ['deps', '--why', 'libc.so.6', zoo], ['deps', '--dot', zoo], ['deps', '--all', trap]]) {
      const r = await elfcopy(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      clean(r.stdout);
      clean(r.stderr);
    }
    const tree = await elfcopy(['deps', trap]);
    expect(tree.stdout.split('\n')[0]).toBe(`${trap}/x\\n/etc/shadow (interpreter /lib64/ld-linux-x86-64.so.2)`);
  });

  it('an error about a name with a newline and an escape sequence is one line', async () => {
    const bad = path.join(tmp, 'no\nsuch\u001bc');
    const r = await elfcopy(['deps', bad]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`elfcopy: ${tmp}/no\\nsuch\\033c: no such file or directory`);
    const opt = await elfcopy(['deps', '--li\nst', '/usr/bin/true']);
    expect(opt.exitCode).toBe(2);
    expect(opt.stderr.split('\n').filter((l) => l.startsWith('elfcopy:'))).toHaveLength(1);
    clean(opt.stderr);
  });

  it("copy's --dry-run plan, and verify's and audit's findings", async () => {
    const jail = path.join(tmp, 'jail');
    const plan = await elfcopy([trap, '--into', jail, '--dry-run']);
    expect(plan.exitCode, plan.stderr).toBe(0);
    clean(plan.stdout);
    expect(plan.stdout).toContain(`copy    ${trap}/x\\n/etc/shadow`);
    const copy = await elfcopy([zoo, '--into', jail]);
    expect(copy.exitCode, copy.stderr).toBe(0);
    fs.symlinkSync('/nowhere', path.join(jail, 'dangling\nlink'));
    fs.chmodSync(path.join(jail, zoo, 'x\n'), 0o4755);
    for (const cmd of ['verify', 'audit']) {
      const r = await elfcopy([cmd, jail]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      clean(r.stdout);
      clean(r.stderr);
    }
    expect((await elfcopy(['verify', jail])).stdout).toContain('symlink-dangling: /dangling\\nlink: ');
    expect((await elfcopy(['audit', jail])).stdout).toContain(`setuid: ${zoo}/x\\n: setuid file`);
  });
});
