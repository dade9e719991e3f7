/**
 * Errors of the jail's own file system — read-only (EROFS), full (ENOSPC), over quota (EDQUOT), failing
 * (EIO), too many links (EMLINK), permission (EACCES), name too long (ENAMETOOLONG) — are one line
 * naming the jail path as the user knows it (never /proc/self/fd/N), exit 3 (README's table), and
 * leave no staging directory behind. EROFS and ENOSPC are real (a read-only bind mount, a 3 MB tmpfs);
 * the others cannot be made on demand here and are injected into the file layer's fs calls.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JailIoError, applyPlan, planCopy } from '../src/index.js';
import { elfcopy, errorLines, requireRoot, stagingLeftovers, tempDir } from './helpers/jail.js';

/**
 * The next call of `op` (after it is armed) fails with `code`, as the kernel would have it: on a path
 * the plan writes, or (`state`) on a file in the jail's own JAIL/.elfcopy (its lock, taken first, and the
 * manifest), told apart by the path a descriptor is open on.
 */
const fault = vi.hoisted(() => ({ op: '', code: '', state: false }));
function injected(op: string, target: unknown, at: string): Error | undefined {
  if (fault.op !== op) return undefined;
  const inState = /\/\.elfcopy(\/|$)/.test(at);
  if (inState !== fault.state) return undefined;
  const code = fault.code;
  fault.op = '';
  return Object.assign(new Error(`${code}: injected, ${op} '${String(target)}'`), { code, syscall: op, path: String(target) });
}
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  // What a call is about: its path, or for a descriptor the file it is open on.
  const where = (target: unknown): string => {
    if (typeof target !== 'number') return String(target);
    try {
      return real.readlinkSync(`/proc/self/fd/${target}`);
    } catch {
      return '';
    }
  };
  const wrap = <A extends unknown[], R>(op: string, f: (...a: A) => R) => (...a: A): R => {
    const err = fault.op === op ? injected(op, a[0], where(a[0])) : undefined;
    if (err) throw err;
    return f(...a);
  };
  const mocked = {
    ...real,
    mkdirSync: wrap('mkdirSync', real.mkdirSync),
    renameSync: wrap('renameSync', real.renameSync),
    symlinkSync: wrap('symlinkSync', real.symlinkSync),
    // A copy's bytes: written on this thread with --jobs 1 (no worker), so the mock sees them.
    writeSync: wrap('writeSync', real.writeSync),
  };
  return { ...mocked, default: mocked };
});

const tmp = tempDir('jail-fs-errors');
const mounts: string[] = [];
beforeAll(() => requireRoot());
afterAll(() => {
  for (const m of mounts.reverse()) execFileSync('umount', [m]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function mount(args: string[], at: string): void {
  execFileSync('mount', [...args, at]);
  mounts.push(at);
}

/**
 * Plans /usr/bin/ls into `jail`, arms the fault (`state`: on JAIL/.elfcopy's files, else on the plan's)
 * and applies on one lane: the JailIoError the apply ended with, once the fault was hit.
 */
async function faultedApply(jail: string, op: string, code: string, state: boolean): Promise<{ plan: ReturnType<typeof planCopy>; io: JailIoError }> {
  const plan = planCopy(['/usr/bin/ls'], jail, { nss: false });
  Object.assign(fault, { op, code, state });
  const err = await applyPlan(plan.steps, jail, { jobs: 1 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(fault.op, 'the fault was hit').toBe('');
  expect(err).toBeInstanceOf(JailIoError);
  const io = err as JailIoError;
  expect(io.code).toBe(code);
  return { plan, io };
}

/** The one line an I/O error must be: the jail's path, the reason with its errno, nothing about /proc. */
function expectOneLine(stderr: string, jail: string, code: string): string {
  const lines = errorLines(stderr);
  expect(lines, stderr).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line.startsWith(`elfcopy: ${jail}/`), line).toBe(true);
  expect(line).toContain(`(${code})`);
  expect(line).not.toMatch(/\/proc\/|internal error|elfcopy-tmp/);
  return line;
}

describe("the jail's file system refuses a write", () => {
  it('a read-only jail (ro bind mount): one line naming the jail path, exit 3', async () => {
    const src = path.join(tmp, 'ro-src');
    const jail = path.join(tmp, 'ro');
    fs.mkdirSync(src);
    fs.mkdirSync(jail);
    // A jail with ls in it already: the next copy fails on a file, not only on a first mkdir.
    expect((await elfcopy(['/usr/bin/ls', '--into', src, '-q'])).exitCode).toBe(0);
    mount(['--bind', src], jail);
    execFileSync('mount', ['-o', 'remount,bind,ro', jail]);
    const r = await elfcopy(['/usr/bin/cp', '--into', jail, '-q']);
    expect(r.exitCode).toBe(3);
    expectOneLine(r.stderr, jail, 'EROFS');
    const empty = path.join(tmp, 'ro-empty');
    fs.mkdirSync(empty);
    mount(['--bind', '-o', 'ro', path.join(tmp, 'ro-src', 'usr')], empty);
    const r2 = await elfcopy(['/usr/bin/ls', '--into', empty, '-q']);
    expect(r2.exitCode).toBe(3);
    expectOneLine(r2.stderr, empty, 'EROFS');
    // A missing jail (its last component) on a read-only file system: the same, and nothing made.
    const r3 = await elfcopy(['/usr/bin/ls', '--into', path.join(empty, 'new-jail'), '-q']);
    expect(r3.exitCode).toBe(3);
    expect(expectOneLine(r3.stderr, empty, 'EROFS')).toContain(path.join(empty, 'new-jail'));
  });

  it('a full disk (3 MB tmpfs): one line naming the jail path, exit 3, and no staging left anywhere', async () => {
    const jail = path.join(tmp, 'full');
    fs.mkdirSync(jail);
    mount(['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs'], jail);
    const r = await elfcopy(['/usr/sbin/nginx', '/usr/bin/php8.2', '--into', jail, '-q', '--jobs', '8']);
    expect(r.exitCode).toBe(3);
    expectOneLine(r.stderr, jail, 'ENOSPC');
    expect(stagingLeftovers(jail)).toEqual([]);
  });

  const injections: { op: string; code: string }[] = [
    { op: 'writeSync', code: 'EDQUOT' },
    { op: 'renameSync', code: 'EIO' },
    { op: 'mkdirSync', code: 'EMLINK' },
    { op: 'writeSync', code: 'EFBIG' },
    { op: 'symlinkSync', code: 'ENAMETOOLONG' },
  ];
  for (const { op, code } of injections) {
    it(`${code} from ${op} (injected): a JailIoError naming JAIL/path, no staging left`, async () => {
      const jail = path.join(tmp, `inject-${code}`);
      fs.mkdirSync(jail);
      // JAIL/.elfcopy there already (as after any earlier run): the lock is then taken without a
      // mkdir or a rename, and the fault meets the first call the plan's own steps make.
      fs.mkdirSync(path.join(jail, '.elfcopy'), { mode: 0o700 });
      const { plan, io } = await faultedApply(jail, op, code, false);
      expect(io.path.startsWith(jail + '/'), io.path).toBe(true);
      expect(plan.steps.some((s) => jail + s.path === io.path), `${io.path} is a path the plan writes`).toBe(true);
      expect(`${io.path}: ${io.message}`).not.toMatch(/\/proc\/|\n/);
      expect(stagingLeftovers(jail)).toEqual([]);
    });
  }

  for (const { op, code, what } of [
    { op: 'writeSync', code: 'EDQUOT', what: '/.elfcopy/lock' },
    { op: 'writeSync', code: 'EIO', what: '/.elfcopy/lock' },
  ]) {
    it(`${code} from ${op} on the jail's lock (injected): a JailIoError naming JAIL${what}, nothing copied, no lock left`, async () => {
      const jail = path.join(tmp, `inject-lock-${code}`);
      fs.mkdirSync(jail);
      const { io } = await faultedApply(jail, op, code, true);
      expect(io.path).toBe(jail + what);
      expect(fs.readdirSync(jail).filter((n) => n !== '.elfcopy')).toEqual([]);
      expect(fs.existsSync(path.join(jail, '.elfcopy', 'lock'))).toBe(false);
    });
  }
});
