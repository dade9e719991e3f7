/**
 * A jail is a security boundary: planted links at every level never lead a write outside it; JAIL
 * itself is checked; setuid bits are stripped; a copy killed mid-file leaves no truncated file; a
 * second run changes nothing; --prune removes only what the manifest says elfcopy installed.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JailConflictError, JailEscapeError, applyPlan, planCopy } from '../src/index.js';

const ELFCOPY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'bin', 'elfcopy.cjs');
const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-safety-')));
const outside = path.join(tmp, 'outside');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [ELFCOPY, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Names, sizes, modes and mtimes of everything below `dir` (links not followed). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${p} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.isSymbolicLink() ? fs.readlinkSync(p) : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

function newJail(name: string): string {
  const j = path.join(tmp, name);
  fs.mkdirSync(j);
  return j;
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the jail tests chroot and chown: run them as root (CI does)');
  fs.mkdirSync(path.join(outside, 'lib'), { recursive: true });
  fs.writeFileSync(path.join(outside, 'passwd-copy'), 'root:x:0:0::/root:/bin/sh\n');
});

describe('planted links never lead a write outside the jail', () => {
  const cases: [string, (j: string) => void][] = [
    ['JAIL/usr -> /', (j) => fs.symlinkSync('/', path.join(j, 'usr'))],
    ['JAIL/usr/lib -> ../../../../ (relative, climbing)', (j) => {
      fs.mkdirSync(path.join(j, 'usr'));
      fs.symlinkSync('../../../../', path.join(j, 'usr', 'lib'));
    }],
    ['JAIL/usr/lib/x86_64-linux-gnu -> an outside directory', (j) => {
      fs.mkdirSync(path.join(j, 'usr', 'lib'), { recursive: true });
      fs.symlinkSync(path.join(outside, 'lib'), path.join(j, 'usr', 'lib', 'x86_64-linux-gnu'));
    }],
  ];
  for (const [name, plant] of cases) {
    it(name, () => {
      const j = newJail(`plant-${cases.findIndex((c) => c[0] === name)}`);
      plant(j);
      const before = snapshot(outside);
      const passwd = fs.readFileSync('/etc/passwd', 'utf8');
      const r = cli(['/usr/bin/true', '--into', j]);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('warning'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^elfcopy: \/(usr|lib64)\S*: is a symlink to '.*', which leaves the jail|^elfcopy: .*(not a directory|symlink)/);
      expect(snapshot(outside)).toEqual(before);
      expect(fs.readFileSync('/etc/passwd', 'utf8')).toBe(passwd);
    });
  }

  it('JAIL/lib64 -> /lib64 where the host has lib64 -> usr/lib64: the link itself is replaced, never followed', () => {
    const j = newJail('lib64');
    fs.symlinkSync('/lib64', path.join(j, 'lib64'));
    const before = snapshot(outside);
    const r = cli(['/usr/bin/true', '--into', j, '--no-nss']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readlinkSync(path.join(j, 'lib64'))).toBe(fs.readlinkSync('/lib64'));
    expect(snapshot(outside)).toEqual(before);
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
  });

  it('a final-component link to an outside file is replaced by the copy, the outside file untouched', () => {
    const j = newJail('final-link');
    const plan = planCopy(['/usr/bin/true'], j, { nss: false });
    const libc = plan.steps.find((s) => s.op === 'copy' && s.path.endsWith('/libc.so.6'))!;
    fs.mkdirSync(path.join(j, path.dirname(libc.path)), { recursive: true });
    fs.symlinkSync(path.join(outside, 'passwd-copy'), path.join(j, libc.path));
    const before = fs.readFileSync(path.join(outside, 'passwd-copy'), 'utf8');
    const r = cli(['/usr/bin/true', '--into', j, '--no-nss']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.lstatSync(path.join(j, libc.path)).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(outside, 'passwd-copy'), 'utf8')).toBe(before);
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
  });

  it('the library raises typed errors naming the link', async () => {
    const j = newJail('typed');
    fs.symlinkSync('/', path.join(j, 'usr'));
    const plan = planCopy(['/usr/bin/true'], j, { nss: false });
    const err = await applyPlan(plan.steps, j).catch((e: unknown) => e);
    expect(err instanceof JailEscapeError || err instanceof JailConflictError).toBe(true);
    expect((err as JailEscapeError).path).toBe('/usr');
  });

  it('JAIL itself: a link to /, a file, / itself are refused', () => {
    const l = path.join(tmp, 'jail-link');
    fs.symlinkSync('/', l);
    const f = path.join(tmp, 'jail-file');
    fs.writeFileSync(f, '');
    for (const jail of [l, f, '/']) {
      const r = cli(['/usr/bin/true', '--into', jail]);
      expect(r.status, jail).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('what lands in the jail', () => {
  it('setuid/setgid bits are stripped (kept with --keep-setuid); files root:root', () => {
    const src = path.join(tmp, 'suid-true');
    fs.copyFileSync('/usr/bin/true', src);
    fs.chmodSync(src, 0o6755);
    const j = newJail('suid');
    expect(cli([src, '--into', j, '--no-nss']).status).toBe(0);
    const st = fs.statSync(path.join(j, src));
    expect(st.mode & 0o7777).toBe(0o755);
    expect([st.uid, st.gid]).toEqual([0, 0]);
    const k = newJail('suid-keep');
    expect(cli([src, '--into', k, '--no-nss', '--keep-setuid']).status).toBe(0);
    expect(fs.statSync(path.join(k, src)).mode & 0o7777).toBe(0o6755);
  });

  it('symlinks read as on the host, each file stored once, parent modes as on the host', () => {
    const j = newJail('fidelity');
    expect(cli(['/usr/bin/ls', '/usr/sbin/nginx', '--into', j]).status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(j, '.elfcopy/manifest.json'), 'utf8')) as { entries: { path: string; kind: string; source?: string }[] };
    const sources = manifest.entries.filter((e) => e.kind === 'file').map((e) => fs.realpathSync(e.source!));
    expect(new Set(sources).size).toBe(sources.length);
    for (const e of manifest.entries) {
      const inJail = path.join(j, e.path);
      if (e.kind === 'symlink') expect(fs.readlinkSync(inJail), e.path).toBe(fs.readlinkSync(e.path));
      if (e.kind === 'dir') expect(fs.statSync(inJail).mode & 0o7777, e.path).toBe(fs.statSync(e.path).mode & 0o7777);
    }
    expect(fs.readlinkSync(path.join(j, 'lib'))).toBe('usr/lib');
    expect(spawnSync('chroot', [j, '/usr/bin/ls', '/']).status).toBe(0);
  });

  it('idempotent: a second run copies nothing and leaves the manifest untouched; a changed source is replaced', () => {
    const j = newJail('idem');
    const src = path.join(tmp, 'idem-true');
    fs.copyFileSync('/usr/bin/true', src);
    expect(cli([src, '--into', j]).status).toBe(0);
    const m = path.join(j, '.elfcopy/manifest.json');
    const before = { text: fs.readFileSync(m, 'utf8'), mtime: fs.statSync(m).mtimeMs, snap: snapshot(j) };
    const again = cli([src, '--into', j, '--json']);
    expect(again.status).toBe(0);
    const result = JSON.parse(again.stdout) as { copied: string[]; linked: string[]; dirsCreated: string[]; manifestChanged: boolean };
    expect([result.copied, result.linked, result.dirsCreated, result.manifestChanged]).toEqual([[], [], [], false]);
    expect(fs.statSync(m).mtimeMs).toBe(before.mtime);
    expect(snapshot(j)).toEqual(before.snap);
    fs.appendFileSync(src, Buffer.from('changed'));
    expect(cli([src, '--into', j]).status).toBe(0);
    expect(fs.readFileSync(path.join(j, src))).toEqual(fs.readFileSync(src));
  });

  it('--prune removes what only this input set\'s earlier run needed, and nothing another copy or the user put there', () => {
    const j = newJail('prune');
    expect(cli(['/usr/bin/ls', '--into', j, '--no-nss']).status).toBe(0);
    expect(cli(['/usr/bin/true', '--into', j, '--no-nss', '--with', 'zoneinfo']).status).toBe(0);
    fs.writeFileSync(path.join(j, 'usr', 'share', 'zoneinfo', 'mine.txt'), 'not elfcopy\'s');
    expect(fs.existsSync(path.join(j, 'usr/share/zoneinfo/Europe/Paris'))).toBe(true);
    expect(cli(['/usr/bin/true', '--into', j, '--no-nss', '--prune']).status).toBe(0);
    expect(fs.existsSync(path.join(j, 'usr/share/zoneinfo/Europe/Paris'))).toBe(false);
    // Another input set's files stay: ls was copied by its own run, which this prune does not speak for.
    expect(fs.existsSync(path.join(j, 'usr/bin/ls'))).toBe(true);
    expect(fs.existsSync(path.join(j, 'usr/lib/x86_64-linux-gnu/libselinux.so.1'))).toBe(true);
    expect(fs.existsSync(path.join(j, 'usr/bin/true'))).toBe(true);
    expect(fs.readFileSync(path.join(j, 'usr', 'share', 'zoneinfo', 'mine.txt'), 'utf8')).toBe('not elfcopy\'s');
    expect(spawnSync('chroot', [j, '/usr/bin/true']).status).toBe(0);
    expect(spawnSync('chroot', [j, '/usr/bin/ls', '/']).status).toBe(0);
  });

  it('--dry-run changes nothing and gives every step a reason; --json parses', () => {
    const j = newJail('dry');
    const r = cli(['/usr/bin/ls', '--into', j, '--dry-run']);
    expect(r.status).toBe(0);
    expect(fs.readdirSync(j)).toEqual([]);
    for (const line of r.stdout.trim().split('\n')) expect(line).toMatch(/^(mkdir|copy|symlink)\s+\/\S+.*  # .+$/);
    const js = JSON.parse(cli(['/usr/bin/ls', '--into', j, '--dry-run', '--json']).stdout) as { schema: string; steps: unknown[] };
    expect(js.schema).toBe('elfcopy.plan/1');
    expect(js.steps.length).toBeGreaterThan(5);
  });
});

describe('a copy killed mid-file', () => {
  it('leaves no truncated file at the final path, and the next run completes it', async () => {
    const src = path.join(tmp, 'big-elf');
    fs.copyFileSync('/usr/bin/true', src);
    // Pad the ELF to 400 MB: it stays a valid program (bytes past the segments are never mapped).
    fs.truncateSync(src, 400 * 1024 * 1024);
    const fd = fs.openSync(src, 'r+');
    const chunk = Buffer.alloc(1 << 20, 0xab);
    for (let off = 1 << 20; off < 400 * 1024 * 1024; off += 1 << 20) fs.writeSync(fd, chunk, 0, chunk.length, off);
    fs.closeSync(fd);
    const j = newJail('killed');
    const child = spawn('node', [ELFCOPY, src, '--into', j, '--no-nss', '--checksum'], { stdio: 'ignore' });
    const target = path.join(j, src);
    const deadline = Date.now() + 20_000;
    // Wait until the copy is under way (its staging directory exists), then kill it.
    while (Date.now() < deadline) {
      const dir = path.dirname(target);
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith('.elfcopy-tmp-'))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    if (fs.existsSync(target)) expect(sha(target)).toBe(sha(src));
    const again = cli([src, '--into', j, '--no-nss']);
    expect(again.status, again.stderr).toBe(0);
    expect(sha(target)).toBe(sha(src));
    expect(fs.readdirSync(path.dirname(target)).filter((n) => n.startsWith('.elfcopy-tmp-'))).toEqual([]);
    execFileSync('rm', ['-f', src]);
  }, 120_000);
});
