/**
 * One run at a time changes a jail (copy/jail-lock.ts). Two copies at once into one jail used to both
 * finish, and the manifest then held only the installer whose write came last: the other's files
 * were in the jail, unrecorded. A second run now stops before it changes anything, with one line
 * naming the jail and the process that holds it, and exit 2; a lock left by a run killed with SIGKILL
 * is taken over; a dry run and a run with nothing to do take none.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELFCOPY, elfcopy, gcc, paddedProgram, readManifest, requireRoot, snapshot, tempDir } from './helpers/jail.js';

const tmp = tempDir('jail-lock');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An ELF program padded to 300 MB: its copy lasts long enough for a second run to meet the first. */
const big = path.join(tmp, 'bin', 'big');
const small = path.join(tmp, 'bin', 'small');
beforeAll(() => {
  requireRoot();
  paddedProgram(big, 300);
  gcc(small, 'int main(void) { return 7; }\n');
});

const lockOf = (jail: string): string => path.join(jail, '.elfcopy', 'lock');

/** The installers' input sets the manifest records, sorted. */
function installedInputs(jail: string): string[] {
  return Object.values(readManifest(jail).installers ?? {})
    .flatMap((i) => i.inputs ?? [])
    .sort();
}

/** Field 22 of /proc/PID/stat: when the process started (what the lock records beside the PID). */
function startTime(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** A jail with `small` copied (so a manifest and its directory exist), and a lock file holding `content`. */
async function jailWithLock(name: string, content: string): Promise<string> {
  const jail = path.join(tmp, name);
  const r = await elfcopy([small, '--into', jail, '-q']);
  expect(r.exitCode, r.stderr).toBe(0);
  fs.writeFileSync(lockOf(jail), content, { mode: 0o600 });
  return jail;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${what} within ${ms} ms`);
}

describe('two runs into one jail', () => {
  it('a run that meets another mid-copy stops at once with exit 2; re-run after it, both installers are recorded', async () => {
    const jail = path.join(tmp, 'two');
    const first = spawn('node', [ELFCOPY, big, '--into', jail, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let firstErr = '';
    first.stderr.on('data', (d: Buffer) => (firstErr += d.toString()));
    const firstDone = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    // The first run is applying: it holds the lock while its 300 MB copy is staged.
    await until(() => fs.existsSync(lockOf(jail)), 20_000, 'the first run took no lock');
    const second = await elfcopy([small, '--into', jail, '-q']);
    const stillRunning = first.exitCode === null;
    expect(second.exitCode, second.stderr).toBe(2);
    expect(second.stderr.trim().split('\n')).toEqual([`elfcopy: ${jail}: another elfcopy (pid ${first.pid}) is changing this jail; run again when it has finished (its lock: /.elfcopy/lock in the jail)`]);
    expect(stillRunning).toBe(true);
    expect(await firstDone, firstErr).toBe(0);
    expect(fs.existsSync(lockOf(jail))).toBe(false);
    // The refused run changed nothing: its program is not in the jail.
    expect(fs.existsSync(path.join(jail, small))).toBe(false);
    const again = await elfcopy([small, '--into', jail, '-q']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(installedInputs(jail)).toEqual([big, small].sort());
    expect(fs.existsSync(lockOf(jail))).toBe(false);
  }, 60_000);

  it('a lock whose process is alive (this test) refuses the run and leaves the jail as it was', async () => {
    const jail = await jailWithLock('alive', `${process.pid} ${startTime(process.pid)}\n`);
    const before = snapshot(jail);
    const r = await elfcopy([big, '--into', jail, '-q']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`another elfcopy (pid ${process.pid}) is changing this jail`);
    expect(snapshot(jail)).toEqual(before);
    // init applies a plan too.
    const i = await elfcopy(['init', jail, '-q']);
    expect(i.exitCode).toBe(2);
    expect(snapshot(jail)).toEqual(before);
  });

  it('a dry run and a run with nothing to do (the plan reused) take no lock: they write nothing', async () => {
    const jail = await jailWithLock('readers', `${process.pid} ${startTime(process.pid)}\n`);
    const dry = await elfcopy([big, '--into', jail, '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const reuse = await elfcopy([small, '--into', jail, '-q']);
    expect(reuse.exitCode, reuse.stderr).toBe(0);
  });
});

describe('a lock left behind', () => {
  it('by a run killed with SIGKILL: the next run takes it over and completes the copy', async () => {
    const jail = path.join(tmp, 'killed');
    const child = spawn('node', [ELFCOPY, big, '--into', jail, '-q'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await until(() => fs.existsSync(lockOf(jail)), 20_000, 'the run took no lock');
    child.kill('SIGKILL');
    await exited;
    expect(fs.readFileSync(lockOf(jail), 'utf8')).toMatch(new RegExp(`^${child.pid} \\d+\\n$`));
    const r = await elfcopy([big, small, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.existsSync(lockOf(jail))).toBe(false);
    expect(fs.statSync(path.join(jail, big)).size).toBe(fs.statSync(big).size);
    expect(installedInputs(jail)).toEqual([big, small].sort());
  }, 60_000);

  it("whose PID is now another process's (another start time): taken over", async () => {
    const jail = await jailWithLock('reused-pid', `${process.pid} 1\n`);
    const r = await elfcopy([big, '--into', jail, '-q']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(installedInputs(jail)).toEqual([big, small].sort());
  });

  it('that is not a regular file (a symlink out of the jail): one line naming it, exit 2, nothing followed', async () => {
    const jail = await jailWithLock('link', '');
    fs.rmSync(lockOf(jail));
    const outside = path.join(tmp, 'outside-target');
    fs.writeFileSync(outside, 'untouched\n');
    fs.symlinkSync(outside, lockOf(jail));
    const before = snapshot(jail);
    const r = await elfcopy([big, '--into', jail, '-q']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('/.elfcopy/lock');
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched\n');
    expect(snapshot(jail)).toEqual(before);
  });
});

describe('a prune planned before the lock', () => {
  it('removes only what the manifest read under the lock still gives to this installer alone', async () => {
    const { applyPlan } = await import('../src/copy/apply.js');
    const { copyOwner } = await import('../src/copy/manifest.js');
    const { planPrune } = await import('../src/copy/prune.js');
    const jail = path.join(tmp, 'prune-race');
    const other = path.join(tmp, 'bin', 'other');
    gcc(other, 'int main(void) { return 3; }\n');
    expect((await elfcopy([small, '--into', jail, '-q'])).exitCode).toBe(0);
    const owner = copyOwner([small]);
    // Planned now, as a dry run would print it: everything this installer alone put there goes.
    const removals = planPrune(jail, owner.id, []).remove;
    expect(removals.map((r) => r.path)).toContain(small);
    // Then another run finishes first, and claims the same files for its own input set.
    expect((await elfcopy([small, other, '--into', jail, '-q'])).exitCode).toBe(0);
    const applied = await applyPlan([], jail, { owner, prune: removals });
    expect(applied.pruned).toEqual([]);
    expect(fs.existsSync(path.join(jail, small))).toBe(true);
    expect(spawnSync('chroot', [jail, other]).status).toBe(3);
  });
});
