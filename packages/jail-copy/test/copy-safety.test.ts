/**
 * A jail is a security boundary: links planted at every level, absolute or relative, either stop the
 * copy with one line naming the link or (at the final component) are replaced — and nothing outside
 * the jail changes. JAIL itself is checked; setuid/setgid bits never arrive unless asked for; special
 * files are refused without blocking; a run killed at any moment leaves no truncated file, and the
 * next run converges to the jail a clean run makes.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadJailError, JailConflictError, JailEscapeError, applyPlan, planCopy } from '../src/index.js';
import { ELFCOPY, contentTree, elfcopy, errorLines, gcc, requireRoot, sha256File, snapshot, stagingLeftovers, tempDir } from './helpers/jail.js';

const tmp = tempDir('copy-safety');
/** The sentinel: a directory outside every jail that planted links point into. */
const outside = path.join(tmp, 'outside');
const outsideFile = path.join(outside, 'target');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(() => {
  requireRoot();
  fs.mkdirSync(path.join(outside, 'lib', 'deep'), { recursive: true });
  fs.writeFileSync(outsideFile, 'outside the jail: must never change\n', { mode: 0o644 });
  fs.writeFileSync(path.join(outside, 'lib', 'libc.so.6'), 'not a library\n', { mode: 0o600 });
});

let jailCount = 0;
function newJail(name: string): string {
  const j = path.join(tmp, `${name}-${++jailCount}`);
  fs.mkdirSync(j, { mode: 0o755 });
  return j;
}

function chrootStatus(jail: string, argv: string[]): number | null {
  return spawnSync('chroot', [jail, ...argv], { stdio: 'ignore', timeout: 30_000 }).status;
}

/** lstat of each host path a copy of `inputs` touches: a write through a planted link would show here. */
function hostSideOf(inputs: string[], jail: string): string[] {
  return planCopy(inputs, jail).steps.map((s) => {
    const st = fs.lstatSync(s.path, { throwIfNoEntry: false });
    return st ? `${s.path} ${st.ino} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${st.ctimeMs}` : `${s.path} absent`;
  });
}

const LIBDIR = '/usr/lib/x86_64-linux-gnu';

interface PlantCase {
  name: string;
  plant: (jail: string) => void;
  /** refused: the copy stops naming this in-jail link; replaced: the entry at this path is made right. */
  expect: { refused: string; kind: 'escape' | 'conflict' } | { replaced: string };
}

const mk = (j: string, p: string): void => void fs.mkdirSync(path.join(j, p), { recursive: true });
const ln = (target: string, j: string, p: string): void => fs.symlinkSync(target, path.join(j, p));

const cases: PlantCase[] = [
  { name: 'JAIL/usr -> / (absolute)', plant: (j) => ln('/', j, 'usr'), expect: { refused: '/usr', kind: 'escape' } },
  {
    name: 'JAIL/usr/lib -> ../../../../ (relative, climbing to the host root)',
    plant: (j) => (mk(j, 'usr'), ln('../../../../', j, 'usr/lib')),
    expect: { refused: '/usr/lib', kind: 'escape' },
  },
  {
    name: `JAIL${LIBDIR} -> an outside directory (absolute)`,
    plant: (j) => (mk(j, 'usr/lib'), ln(path.join(outside, 'lib'), j, LIBDIR)),
    expect: { refused: LIBDIR, kind: 'escape' },
  },
  {
    name: `JAIL${LIBDIR} -> ../../../outside/lib (relative, out of the jail)`,
    plant: (j) => (mk(j, 'usr/lib'), ln('../../../outside/lib', j, LIBDIR)),
    expect: { refused: LIBDIR, kind: 'escape' },
  },
  {
    name: 'JAIL/usr/lib64 -> an outside directory, where a directory must be made',
    plant: (j) => (mk(j, 'usr'), ln(path.join(outside, 'lib'), j, 'usr/lib64')),
    expect: { refused: '/usr/lib64', kind: 'escape' },
  },
  {
    name: 'JAIL/.elfcopy -> an outside directory, where the manifest goes',
    plant: (j) => ln(outside, j, '.elfcopy'),
    expect: { refused: '/.elfcopy', kind: 'escape' },
  },
  {
    name: 'JAIL/.elfcopy/manifest.json -> an outside file',
    plant: (j) => (mk(j, '.elfcopy'), ln(outsideFile, j, '.elfcopy/manifest.json')),
    expect: { refused: '/.elfcopy/manifest.json', kind: 'conflict' },
  },
  {
    name: `final component: JAIL${LIBDIR}/libc.so.6 -> an outside file (absolute)`,
    plant: (j) => (mk(j, LIBDIR), ln(outsideFile, j, `${LIBDIR}/libc.so.6`)),
    expect: { replaced: `${LIBDIR}/libc.so.6` },
  },
  {
    name: `final component: JAIL${LIBDIR}/libc.so.6 -> ../../../../outside/target (relative)`,
    plant: (j) => (mk(j, LIBDIR), ln('../../../../outside/target', j, `${LIBDIR}/libc.so.6`)),
    expect: { replaced: `${LIBDIR}/libc.so.6` },
  },
  {
    name: `final component: JAIL${LIBDIR}/libc.so.6 is a hard link of an outside file`,
    plant: (j) => (mk(j, LIBDIR), fs.linkSync(outsideFile, path.join(j, LIBDIR, 'libc.so.6'))),
    expect: { replaced: `${LIBDIR}/libc.so.6` },
  },
  {
    name: 'final component of a link step: JAIL/usr/lib64/ld-linux-x86-64.so.2 -> an outside file',
    plant: (j) => (mk(j, 'usr/lib64'), ln(outsideFile, j, 'usr/lib64/ld-linux-x86-64.so.2')),
    expect: { replaced: '/usr/lib64/ld-linux-x86-64.so.2' },
  },
  {
    name: 'JAIL/lib64 -> /lib64 where the host has lib64 -> usr/lib64',
    plant: (j) => {
      if (fs.readlinkSync('/lib64') !== 'usr/lib64') throw new Error('this case needs a merged-/usr host (lib64 -> usr/lib64)');
      ln('/lib64', j, 'lib64');
    },
    expect: { replaced: '/lib64' },
  },
];

describe('links planted in the jail never lead a write outside it', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const j = newJail('plant');
      c.plant(j);
      const before = { sentinel: snapshot(outside), target: fs.readFileSync(outsideFile), host: hostSideOf(['/usr/bin/true'], j) };
      const r = await elfcopy(['/usr/bin/true', '--into', j]);
      if ('refused' in c.expect) {
        expect(r.exitCode, r.stderr).toBe(2);
        const lines = errorLines(r.stderr);
        expect(lines).toHaveLength(1);
        expect(lines[0]?.startsWith(`elfcopy: ${c.expect.refused}: `), lines[0]).toBe(true);
        // The library says the same with a typed error naming the link and where it points.
        const err: unknown = await applyPlan(planCopy(['/usr/bin/true'], j).steps, j).then(
          () => undefined,
          (e: unknown) => e,
        );
        const kind = err instanceof JailEscapeError ? 'escape' : err instanceof JailConflictError ? 'conflict' : String(err);
        expect(kind).toBe(c.expect.kind);
        if (err instanceof JailEscapeError) expect([err.link, err.target]).toEqual([c.expect.refused, fs.readlinkSync(path.join(j, c.expect.refused))]);
        if (err instanceof JailConflictError) expect(err.path).toBe(c.expect.refused);
      } else {
        expect(r.exitCode, r.stderr).toBe(0);
        const p = c.expect.replaced;
        const st = fs.lstatSync(path.join(j, p));
        const host = fs.lstatSync(p);
        if (host.isSymbolicLink()) expect(st.isSymbolicLink() && fs.readlinkSync(path.join(j, p))).toBe(fs.readlinkSync(p));
        else {
          expect(st.isFile() && st.nlink === 1).toBe(true);
          expect(sha256File(path.join(j, p))).toBe(sha256File(p));
        }
        expect(chrootStatus(j, ['/usr/bin/true'])).toBe(0);
      }
      expect(snapshot(outside)).toEqual(before.sentinel);
      expect(fs.readFileSync(outsideFile).equals(before.target)).toBe(true);
      expect(hostSideOf(['/usr/bin/true'], j)).toEqual(before.host);
    });
  }
});

describe('JAIL itself', () => {
  it('a link to /, / itself, a file, a link to a file: refused with one line, exit 2', async () => {
    const toRoot = path.join(tmp, 'jail-to-root');
    fs.symlinkSync('/', toRoot);
    const file = path.join(tmp, 'jail-file');
    fs.writeFileSync(file, '');
    const toFile = path.join(tmp, 'jail-to-file');
    fs.symlinkSync(file, toFile);
    for (const jail of [toRoot, '/', `${tmp}/../../..`, file, toFile]) {
      const r = await elfcopy(['/usr/bin/true', '--into', jail]);
      expect(r.exitCode, `${jail}: ${r.stderr}`).toBe(2);
      expect(errorLines(r.stderr), jail).toHaveLength(1);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });

  it('missing: the library refuses it (BadJailError); a dangling link is not followed to create one', async () => {
    const missing = path.join(tmp, 'no-such-jail');
    await expect(applyPlan(planCopy(['/usr/bin/true'], missing).steps, missing)).rejects.toBeInstanceOf(BadJailError);
    expect(fs.existsSync(missing)).toBe(false);
    const dangling = path.join(tmp, 'jail-dangling');
    fs.symlinkSync(missing, dangling);
    const r = await elfcopy(['/usr/bin/true', '--into', dangling]);
    expect(r.exitCode).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('missing below a file: refused with one line, exit 2 (not an internal error)', async () => {
    const r = await elfcopy(['/usr/bin/true', '--into', path.join(outsideFile, 'jail')]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

describe('setuid/setgid bits and owners', () => {
  const fixtures: { name: string; mode: number }[] = [
    { name: 'suid', mode: 0o4755 },
    { name: 'sgid', mode: 0o2755 },
    { name: 'both', mode: 0o6755 },
    { name: 'user-owned', mode: 0o750 },
  ];
  let fixDir: string;
  const src = (name: string): string => path.join(fixDir, name);
  beforeAll(() => {
    fixDir = path.join(tmp, 'setid');
    fs.mkdirSync(fixDir);
    for (const f of fixtures) {
      fs.copyFileSync('/usr/bin/true', src(f.name));
      if (f.name === 'user-owned') fs.chownSync(src(f.name), 1000, 1000);
      fs.chmodSync(src(f.name), f.mode);
    }
  });
  const modeIn = (j: string, name: string): number => fs.statSync(path.join(j, src(name))).mode & 0o7777;

  it('arrive without setuid/setgid, root:root, the rest of the host mode kept; the programs run', async () => {
    const j = newJail('setid');
    const r = await elfcopy([...fixtures.map((f) => src(f.name)), '--into', j, '--no-nss']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 setuid\/setgid stripped/);
    for (const f of fixtures) {
      const st = fs.statSync(path.join(j, src(f.name)));
      expect([st.mode & 0o7777, st.uid, st.gid], f.name).toEqual([f.mode & 0o1777, 0, 0]);
      expect(chrootStatus(j, [src(f.name)]), f.name).toBe(0);
    }
  });

  it('--keep-setuid keeps them; a later run without it strips them (an up-to-date copy is not exempt)', async () => {
    const j = newJail('keep');
    expect((await elfcopy([src('suid'), src('both'), '--into', j, '--no-nss', '--keep-setuid'])).exitCode).toBe(0);
    expect([modeIn(j, 'suid'), modeIn(j, 'both')]).toEqual([0o4755, 0o6755]);
    expect((await elfcopy([src('suid'), src('both'), '--into', j, '--no-nss'])).exitCode).toBe(0);
    expect([modeIn(j, 'suid'), modeIn(j, 'both')]).toEqual([0o755, 0o755]);
  });

  it('a copy whose mode drifted (in the jail, or on the host) is made right by the next run', async () => {
    const j = newJail('drift');
    const plain = path.join(fixDir, 'plain');
    fs.copyFileSync('/usr/bin/true', plain);
    fs.chmodSync(plain, 0o755);
    expect((await elfcopy([plain, '--into', j, '--no-nss'])).exitCode).toBe(0);
    fs.chmodSync(path.join(j, plain), 0o4777);
    expect((await elfcopy([plain, '--into', j, '--no-nss'])).exitCode).toBe(0);
    expect(modeIn(j, 'plain')).toBe(0o755);
    fs.chmodSync(plain, 0o700);
    expect((await elfcopy([plain, '--into', j, '--no-nss'])).exitCode).toBe(0);
    expect(modeIn(j, 'plain')).toBe(0o700);
  });
});

describe('special files given as inputs', () => {
  it('devices, FIFOs (also through a link) and sockets are refused at once, exit 2, one line each; the jail stays empty', async () => {
    const dir = path.join(tmp, 'special');
    fs.mkdirSync(dir);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    fs.symlinkSync(fifo, path.join(dir, 'fifo-link'));
    const sock = path.join(dir, 'sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      for (const input of ['/dev/null', '/dev/zero', fifo, path.join(dir, 'fifo-link'), sock]) {
        const j = newJail('special');
        const r = await elfcopy([input, '--into', j], { timeout: 15_000 });
        expect(r.timedOut, input).toBe(false);
        expect(r.exitCode, input).toBe(2);
        const lines = errorLines(r.stderr);
        expect(lines, input).toHaveLength(1);
        expect(lines[0]?.startsWith(`elfcopy: ${input}: `), lines[0]).toBe(true);
        expect(fs.readdirSync(j), input).toEqual([]);
      }
    } finally {
      server.close();
    }
  });

  it('a FIFO inside a directory input is passed over without blocking; the ELF beside it is copied', async () => {
    const dir = path.join(tmp, 'dir-with-fifo');
    fs.mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'a-fifo')]);
    fs.copyFileSync('/usr/bin/true', path.join(dir, 'prog'));
    fs.chmodSync(path.join(dir, 'prog'), 0o755);
    const j = newJail('dir-fifo');
    const r = await elfcopy([dir, '--into', j, '--no-nss'], { timeout: 15_000 });
    expect(r.timedOut).toBe(false);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(j, dir, 'a-fifo'))).toBe(false);
    expect(chrootStatus(j, [path.join(dir, 'prog')])).toBe(0);
  });

  it('a symlink loop inside a directory input is passed over; the ELF beside it is copied and runs', async () => {
    const dir = path.join(tmp, 'dir-with-loop');
    fs.mkdirSync(dir);
    fs.symlinkSync('loop-b', path.join(dir, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(dir, 'loop-b'));
    fs.copyFileSync('/usr/bin/true', path.join(dir, 'prog'));
    fs.chmodSync(path.join(dir, 'prog'), 0o755);
    const j = newJail('dir-loop');
    const r = await elfcopy([dir, '--into', j, '--no-nss'], { timeout: 15_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(['loop-a', 'loop-b'].filter((n) => fs.lstatSync(path.join(j, dir, n), { throwIfNoEntry: false }) !== undefined)).toEqual([]);
    expect(chrootStatus(j, [path.join(dir, 'prog')])).toBe(0);
  });
});

describe('a run killed mid-copy', () => {
  const SIZE = 300 * 1024 * 1024;
  let big: string;
  // A killed run cannot remove its host-side temporary directories: keep them in this test's tree.
  const env = { ...process.env, TMPDIR: path.join(tmp, 'cli-tmp') };
  beforeAll(() => {
    fs.mkdirSync(env.TMPDIR);
    // A real program padded to 300 MB: bytes past its segments are never mapped, so it still runs.
    big = gcc(path.join(tmp, 'big-elf'), 'int main(void) { return 0; }\n');
    const pad = Buffer.alloc(1 << 20);
    const fd = fs.openSync(big, 'a');
    for (let written = fs.statSync(big).size, i = 0; written < SIZE; written += pad.length, i++) {
      pad.fill(i & 0xff);
      fs.writeSync(fd, pad);
    }
    fs.closeSync(fd);
  });

  it('the final path never holds a truncated file; the next run completes it and leaves no staging entries', async () => {
    const full = fs.statSync(big).size;
    const sha = sha256File(big);
    let caught: { jail: string; staged: number; afterMs: number } | undefined;
    const seenTruncated: string[] = [];
    for (let attempt = 0; attempt < 6 && !caught; attempt++) {
      const j = newJail('killed');
      const final = path.join(j, big);
      const dir = path.dirname(final);
      const started = Date.now();
      const child = spawn('node', [ELFCOPY, big, '--into', j, '--no-nss', '-q'], { stdio: 'ignore', env });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let staged = -1;
      // Watch the copy: kill as soon as the staged copy has bytes in it (copy_file_range is under way).
      while (Date.now() - started < 20_000 && child.exitCode === null) {
        const st = fs.statSync(final, { throwIfNoEntry: false });
        if (st && st.size !== full) seenTruncated.push(`${final}: ${st.size}`);
        const stage = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((n) => n.startsWith('.elfcopy-tmp-'));
        const files = stage.flatMap((s) => fs.readdirSync(path.join(dir, s), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(dir, s, e.name)));
        const size = files.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0).find((n) => n > 0);
        if (size !== undefined) {
          child.kill('SIGKILL');
          staged = files.map((f) => fs.statSync(f, { throwIfNoEntry: false })?.size ?? 0).reduce((a, b) => Math.max(a, b), 0);
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      child.kill('SIGKILL');
      await exited;
      const left = fs.statSync(final, { throwIfNoEntry: false });
      if (left) expect(sha256File(final), 'the final path holds the whole file or nothing').toBe(sha);
      if (!left && staged > 0 && staged < full) caught = { jail: j, staged, afterMs: Date.now() - started };
    }
    expect(seenTruncated).toEqual([]);
    expect(caught, 'the copy was never caught half-way in 6 attempts').toBeDefined();
    if (!caught) return;
    const j = caught.jail;
    expect(stagingLeftovers(j).length).toBeGreaterThan(0);
    const again = await elfcopy([big, '--into', j, '--no-nss']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(sha256File(path.join(j, big))).toBe(sha);
    expect(stagingLeftovers(j)).toEqual([]);
    expect(chrootStatus(j, [big])).toBe(0);
  }, 120_000);

  it('killed at a chosen system call (strace fault injection), the next run gives the jail a clean run gives', () => {
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is not installed: CI installs it');
    const inputs = ['/usr/bin/true'];
    const clean = newJail('clean');
    expect(spawnSync('node', [ELFCOPY, ...inputs, '--into', clean, '-q']).status).toBe(0);
    const want = contentTree(clean);
    // Count the calls a clean one-lane run makes (--jobs 1: every call on the main thread, in a fixed
    // order), then kill such a run at the first, the middle and the last of each: a directory created but
    // not yet given its mode, a staging mkdir, a file half-copied, renames of files, links and (last) the
    // manifest. Then the default run, whose copies run on two lanes (a worker thread makes and fills its
    // own staging files), killed at the first of each call whichever thread makes it: strace counts per
    // thread, so a later point of a call both lanes make is not reached in every run.
    const calls = ['mkdir', 'fchmod', 'pwrite64', 'rename', 'symlink'];
    const log = path.join(tmp, 'strace.log');
    const counted = newJail('counted');
    spawnSync('strace', ['-f', '-qq', '-o', log, '-e', `trace=${calls.join(',')}`, 'node', ELFCOPY, ...inputs, '--into', counted, '-q', '--jobs', '1']);
    const made = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const main = made[0]?.split(/\s+/)[0];
    expect(made.every((l) => l.startsWith(`${main} `)), 'a --jobs 1 copy makes these calls on its main thread only').toBe(true);
    const points = calls.flatMap((call) => {
      const n = made.filter((l) => new RegExp(`^\\d+\\s+${call}\\(`).test(l)).length;
      expect(n, `a clean run makes ${call} calls`).toBeGreaterThan(0);
      return [...new Set([1, Math.ceil(n / 2), n])].map((when): [string, number, string[]] => [call, when, ['--jobs', '1']]);
    });
    for (const call of calls) points.push([call, 1, []]);
    for (const [call, when, lanes] of points) {
      const what = `${call}#${when}${lanes.length > 0 ? ' (one lane)' : ''}`;
      const j = newJail(`strace-${call}-${when}-${lanes.length}`);
      const killed = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', `trace=${call}`, '-e', `inject=${call}:signal=KILL:when=${when}`, 'node', ELFCOPY, ...inputs, '--into', j, '-q', ...lanes], {
        timeout: 60_000,
        env,
      });
      expect(killed.status, `${what} should have been killed`).not.toBe(0);
      const again = spawnSync('node', [ELFCOPY, ...inputs, '--into', j, '-q'], { encoding: 'utf8' });
      expect(again.status, `${what}: ${again.stderr}`).toBe(0);
      expect(contentTree(j), `killed at ${what}`).toEqual(want);
    }
  }, 240_000);
});
