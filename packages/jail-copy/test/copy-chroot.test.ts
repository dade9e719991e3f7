/**
 * `elfcopy PATH... --into JAIL` against the real loader: ls, nginx and php8.2 copied into fresh jails
 * run under chroot; the jail mirrors the host (every link as the host has it, each file once, host
 * directory modes); a second run changes nothing; --prune and --dry-run do what they say.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestEntry } from '../src/index.js';
import { elfcopy, errorLines, gcc, manifestPath, readManifest, requireRoot, sha256File, snapshot, stagingLeftovers, tempDir, walkTree } from './helpers/jail.js';

const tmp = tempDir('chroot');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface CopyResult {
  copied: string[];
  linked: string[];
  dirsCreated: string[];
  written: string[];
  unchanged: number;
  pruned: string[];
  manifestChanged: boolean;
}

/** Runs the CLI and insists on exit 0 (stderr in the failure message). */
async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const r = await elfcopy(args);
  expect(r.exitCode, `elfcopy ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return { stdout: r.stdout, stderr: r.stderr };
}

async function runJson(args: string[]): Promise<CopyResult> {
  return JSON.parse((await run([...args, '--json'])).stdout) as CopyResult;
}

function chroot(jail: string, argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('chroot', [jail, ...argv], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function newJail(name: string): string {
  const j = path.join(tmp, name);
  fs.mkdirSync(j, { mode: 0o755 });
  return j;
}

const fileEntries = (jail: string): (ManifestEntry & { source: string })[] =>
  readManifest(jail).entries.filter((e): e is ManifestEntry & { source: string } => e.kind === 'file' && typeof e.source === 'string');

/**
 * The PHP extension API directory (/usr/lib/php/20220829 for 8.2): where `php -m` loads modules from,
 * as php8.2 itself reports it (another PHP's API directory beside it must not matter).
 */
function phpApiDir(): string {
  return execFileSync('/usr/bin/php8.2', ['-n', '-r', 'echo ini_get("extension_dir");'], { encoding: 'utf8' }).trim();
}

const jails: Record<'coreutils' | 'nginx' | 'php', string> = { coreutils: '', nginx: '', php: '' };
const phpArgs = (): string[] => ['/usr/bin/php8.2', phpApiDir(), '--into', jails.php, '--with', 'php'];
const nginxArgs = (): string[] => ['/usr/sbin/nginx', '--into', jails.nginx, '--with', 'nginx'];

beforeAll(async () => {
  requireRoot();
  for (const p of ['/usr/sbin/nginx', '/usr/bin/php8.2', '/usr/bin/ls', '/usr/bin/cp']) {
    if (!fs.existsSync(p)) throw new Error(`${p} is not installed: CI installs nginx and php8.2`);
  }
  // ls, and cp for the libacl.so.1 -> libacl.so.1.1.2301 chain.
  jails.coreutils = newJail('coreutils');
  await run(['/usr/bin/ls', '/usr/bin/cp', '--into', jails.coreutils]);
  // nginx -t resolves its `user www-data` with getpwnam: init writes the account into the jail.
  jails.nginx = newJail('nginx');
  await run(['init', jails.nginx, '--user', 'www-data']);
  await run(nginxArgs());
  jails.php = newJail('php');
  await run(['init', jails.php]);
  await run(phpArgs());
}, 120_000);

describe('the programs run in the jail', () => {
  it('chroot JAIL /usr/bin/ls / lists the jail root; cp (libacl) runs too', () => {
    const ls = chroot(jails.coreutils, ['/usr/bin/ls', '/']);
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n').filter(Boolean)).toEqual(fs.readdirSync(jails.coreutils).filter((n) => !n.startsWith('.')).sort());
    const cp = chroot(jails.coreutils, ['/usr/bin/cp', '--version']);
    expect(cp.status, cp.stderr).toBe(0);
  });

  it('nginx -t passes: its `user www-data` resolves from the jail\'s own /etc/passwd', () => {
    const t = chroot(jails.nginx, ['/usr/sbin/nginx', '-t']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/test is successful/);
  });

  it('php8.2 -m lists exactly the host\'s modules, each loaded without a warning', () => {
    const host = spawnSync('php8.2', ['-m'], { encoding: 'utf8' });
    const jailed = chroot(jails.php, ['/usr/bin/php8.2', '-m']);
    expect(jailed.status, jailed.stderr).toBe(0);
    expect(jailed.stdout + jailed.stderr).not.toMatch(/Unable to load|Warning/);
    expect(jailed.stdout).toBe(host.stdout);
    expect(jailed.stdout.split('\n').length).toBeGreaterThan(30);
  });
});

describe('the jail mirrors the host', () => {
  for (const name of ['coreutils', 'nginx', 'php'] as const) {
    it(`${name}: every symlink in the jail reads as the host's link at the same path`, () => {
      const links = walkTree(jails[name]).filter((e) => e.type === 'symlink');
      expect(links.length).toBeGreaterThan(3);
      for (const l of links) {
        expect(fs.lstatSync(l.path, { throwIfNoEntry: false })?.isSymbolicLink(), `${l.path} is a link on the host`).toBe(true);
        expect(l.target, l.path).toBe(fs.readlinkSync(l.path));
      }
    });

    it(`${name}: each host file is stored once, at its real path`, () => {
      const files = fileEntries(jails[name]);
      expect(files.length).toBeGreaterThan(5);
      const real = files.map((e) => fs.realpathSync(e.source));
      expect(new Set(real).size).toBe(real.length);
      for (const [i, e] of files.entries()) expect(e.path, e.source).toBe(real[i]);
    });

    it(`${name}: directories on the way carry the host's mode and owner`, () => {
      const dirs = readManifest(jails[name]).entries.filter((e) => e.kind === 'dir');
      expect(dirs.length).toBeGreaterThan(3);
      for (const d of dirs) {
        const j = fs.lstatSync(path.join(jails[name], d.path));
        const h = fs.statSync(d.path);
        expect(j.isDirectory(), d.path).toBe(true);
        expect([(j.mode & 0o7777).toString(8), j.uid, j.gid], d.path).toEqual([(h.mode & 0o7777).toString(8), h.uid, h.gid]);
      }
    });

    it(`${name}: files are root:root, the host mode without setuid/setgid, the host bytes`, () => {
      for (const e of fileEntries(jails[name])) {
        const j = fs.lstatSync(path.join(jails[name], e.path));
        const h = fs.statSync(e.source);
        expect(j.isFile(), e.path).toBe(true);
        expect([j.uid, j.gid, (j.mode & 0o7777).toString(8)], e.path).toEqual([0, 0, (h.mode & 0o1777).toString(8)]);
        expect(j.size, e.path).toBe(h.size);
        expect(sha256File(path.join(jails[name], e.path)), e.path).toBe(e.sha256);
        expect(e.sha256, e.path).toBe(sha256File(e.source));
      }
    });
  }

  it('coreutils: the jail was made by elfcopy alone, so every directory in it is the host\'s', () => {
    for (const e of walkTree(jails.coreutils).filter((x) => x.type === 'dir' && !x.path.startsWith('/.elfcopy'))) {
      const h = fs.lstatSync(e.path);
      expect([(e.stat.mode & 0o7777).toString(8), e.stat.uid, e.stat.gid], e.path).toEqual([(h.mode & 0o7777).toString(8), h.uid, h.gid]);
    }
  });

  it('coreutils: merged /usr, the soname chain and the loader link are reproduced as on the host', () => {
    const j = jails.coreutils;
    for (const link of ['/lib', '/lib64', '/usr/lib/x86_64-linux-gnu/libacl.so.1', '/usr/lib64/ld-linux-x86-64.so.2']) {
      if (!fs.lstatSync(link).isSymbolicLink()) throw new Error(`${link} is not a symlink on this host: the test expects Debian 12's merged /usr`);
      expect(fs.readlinkSync(path.join(j, link)), link).toBe(fs.readlinkSync(link));
    }
    expect(fs.realpathSync(path.join(j, 'usr/lib/x86_64-linux-gnu/libacl.so.1'))).toBe(path.join(j, fs.realpathSync('/usr/lib/x86_64-linux-gnu/libacl.so.1')));
  });
});

describe('a second run', () => {
  for (const name of ['nginx', 'php'] as const) {
    it(`${name}: copies nothing, and the manifest is byte-identical and untouched`, async () => {
      const m = manifestPath(jails[name]);
      const before = { text: fs.readFileSync(m), tree: snapshot(jails[name]) };
      const r = await runJson(name === 'php' ? phpArgs() : nginxArgs());
      expect({ copied: r.copied, linked: r.linked, dirsCreated: r.dirsCreated, written: r.written, manifestChanged: r.manifestChanged }).toEqual({ copied: [], linked: [], dirsCreated: [], written: [], manifestChanged: false });
      expect(r.unchanged).toBeGreaterThan(10);
      expect(fs.readFileSync(m).equals(before.text)).toBe(true);
      // Snapshots carry mtime and inode of every entry, the manifest's included.
      expect(snapshot(jails[name])).toEqual(before.tree);
    });
  }

  it('a changed source replaces the copy atomically: a reader of the old copy keeps the old bytes', async () => {
    const fix = path.join(tmp, 'fixture-lib');
    fs.mkdirSync(fix);
    const lib = path.join(fix, 'libfix.so');
    const buildLib = (value: number): void => void gcc(lib, `int fix_value(void) { return ${value}; }\n`, ['-shared', '-fPIC']);
    buildLib(7);
    const prog = gcc(path.join(fix, 'prog'), 'int fix_value(void);\nint main(void) { return fix_value(); }\n', [`-L${fix}`, '-lfix', `-Wl,-rpath,${fix}`]);
    const j = newJail('changed');
    await run([prog, '--into', j, '--no-nss']);
    expect(chroot(j, [prog]).status).toBe(7);

    const inJail = path.join(j, lib);
    const oldSha = sha256File(inJail);
    const oldIno = fs.statSync(inJail).ino;
    const reader = fs.openSync(inJail, 'r');
    try {
      buildLib(9);
      // A rebuild within the same mtime tick must still count as a change.
      const later = fs.statSync(lib).mtimeMs / 1000 + 5;
      fs.utimesSync(lib, later, later);
      const r = await runJson([prog, '--into', j, '--no-nss']);
      expect(r.copied).toEqual([lib]);
      expect(chroot(j, [prog]).status).toBe(9);
      // Renamed over, never rewritten in place: the open descriptor still reads the whole old file.
      const st = fs.statSync(inJail);
      expect(st.ino).not.toBe(oldIno);
      const old = Buffer.alloc(fs.fstatSync(reader).size);
      fs.readSync(reader, old, 0, old.length, 0);
      expect(sha256File(lib)).not.toBe(oldSha);
      expect(createHash('sha256').update(old).digest('hex')).toBe(oldSha);
      expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([0, 0, fs.statSync(lib).mode & 0o1777]);
      expect(readManifest(j).entries.find((e) => e.path === lib)?.sha256).toBe(sha256File(lib));
      expect(stagingLeftovers(j)).toEqual([]);
    } finally {
      fs.closeSync(reader);
    }
  });
});

describe('--prune', () => {
  it('removes exactly what only the same input set\'s earlier run installed; a planted file and the directory holding it survive', async () => {
    const j = newJail('prune');
    const inputs = ['/usr/bin/ls', '/usr/bin/cp', '/usr/sbin/nginx'];
    await run([...inputs, '--into', j, '--with', 'nginx,resolver']);
    const first = readManifest(j);
    const mine = { top: path.join(j, 'mine.txt'), inStaleDir: path.join(j, 'etc/nginx/mine.txt') };
    fs.writeFileSync(mine.top, 'not elfcopy\'s');
    fs.writeFileSync(mine.inStaleDir, 'not elfcopy\'s either');
    const before = walkTree(j).filter((e) => !e.path.startsWith('/.elfcopy'));

    const r = await runJson([...inputs, '--into', j, '--with', 'none', '--prune']);
    const second = readManifest(j);
    const keep = new Set(second.entries.map((e) => e.path));
    const stale = first.entries.filter((e) => !keep.has(e.path));
    // What must go: every stale file and link; a stale directory only once nothing is left in it.
    const gone = new Set(stale.filter((e) => e.kind !== 'dir').map((e) => e.path));
    for (const d of stale.filter((e) => e.kind === 'dir').sort((a, b) => b.path.length - a.path.length)) {
      if (!before.some((e) => e.path.startsWith(d.path + '/') && !gone.has(e.path))) gone.add(d.path);
    }
    expect(gone.has('/etc/nginx/nginx.conf'), 'only the nginx profile brought it').toBe(true);
    expect(gone.has('/usr/sbin/nginx'), 'an input stays').toBe(false);
    expect(gone.has('/etc/nginx'), 'it still holds the planted file').toBe(false);
    expect([...r.pruned].sort()).toEqual([...gone].sort());

    const after = walkTree(j).filter((e) => !e.path.startsWith('/.elfcopy'));
    expect(after.map((e) => e.path)).toEqual(before.filter((e) => !gone.has(e.path)).map((e) => e.path));
    // Survivors are untouched (directories lose entries, so only their inode and mode are compared).
    const was = new Map(before.map((e) => [e.path, e]));
    for (const e of after) {
      const b = was.get(e.path);
      if (!b) throw new Error(`${e.path} appeared`);
      if (e.type === 'dir') expect([e.stat.ino, e.stat.mode], e.path).toEqual([b.stat.ino, b.stat.mode]);
      else expect([e.stat.ino, e.stat.mode, e.stat.size, e.stat.mtimeMs], e.path).toEqual([b.stat.ino, b.stat.mode, b.stat.size, b.stat.mtimeMs]);
    }
    expect(fs.readFileSync(mine.top, 'utf8')).toBe('not elfcopy\'s');
    expect(fs.readFileSync(mine.inStaleDir, 'utf8')).toBe('not elfcopy\'s either');
    expect(second.entries.filter((e) => !keep.has(e.path))).toEqual([]);
    expect(chroot(j, ['/usr/bin/ls', '/']).status).toBe(0);
  });

  it('never removes the skeleton `elfcopy init` laid out (accounts, /dev, /tmp)', async () => {
    const j = newJail('prune-init');
    await run(['init', j, '--user', 'www-data']);
    const skeleton = ['/etc/passwd', '/etc/group', '/etc/nsswitch.conf', '/dev/null', '/tmp', '/var/run'];
    await run(['/usr/sbin/nginx', '--into', j, '--with', 'nginx']);
    await run(['/usr/sbin/nginx', '--into', j, '--with', 'nginx', '--prune']);
    for (const p of skeleton) expect(fs.lstatSync(path.join(j, p), { throwIfNoEntry: false }), p).toBeDefined();
    const t = chroot(j, ['/usr/sbin/nginx', '-t']);
    expect(t.status, t.stderr).toBe(0);
  });
});

describe('--dry-run', () => {
  it('changes nothing in the jail and prints every step with its reason; with --json the plan parses', async () => {
    const j = newJail('dry');
    await run(['init', j, '--user', 'www-data']);
    const before = snapshot(j);
    const args = ['/usr/sbin/nginx', '--into', j, '--with', 'nginx', '--dry-run'];
    const text = (await run(args)).stdout.trimEnd().split('\n');
    const plan = JSON.parse((await run([...args, '--json'])).stdout) as { schema: string; steps: { op: string; path: string; reasons: string[] }[] };
    expect(snapshot(j)).toEqual(before);
    expect(plan.schema).toBe('elfcopy.plan/1');
    expect(plan.steps.length).toBeGreaterThan(20);
    expect(text).toHaveLength(plan.steps.length);
    const printed = text.map((line) => /^(mkdir|copy|symlink|write|mknod)\s+(\S+).*\s# (\S.*)$/.exec(line)?.slice(1, 4) ?? line);
    expect(printed).toEqual(plan.steps.map((s) => [s.op, s.path, s.reasons[0]]));
    for (const s of plan.steps) expect(s.reasons.length > 0 && s.reasons.every((r) => r.trim().length > 0), s.path).toBe(true);
    for (const op of ['mkdir', 'copy', 'symlink']) expect(plan.steps.some((s) => s.op === op), op).toBe(true);
  });

  it('a missing jail is not created by a dry run', async () => {
    const j = path.join(tmp, 'dry-missing');
    await run(['/usr/bin/ls', '--into', j, '--dry-run']);
    expect(fs.existsSync(j)).toBe(false);
    expect(errorLines((await elfcopy(['/usr/bin/ls', '--into', j, '--dry-run', '--json'])).stderr)).toEqual([]);
  });
});
