/**
 * The copying and hashing lanes (this thread and the workers): the bytes written are the source's,
 * the sha256 is sha256sum's (coreutils) of those bytes, errors name the file and keep their errno — on every lane.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CopyWorkers, copyWithSha256, sha256OfFile } from '../src/copy/copy-workers.js';
import { tempDir } from './helpers/jail.js';

const tmp = tempDir('copy-workers');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The oracle: coreutils' sha256sum, not the crypto library the lanes use. */
const sha = (f: string): string => execFileSync('sha256sum', ['--', f], { encoding: 'utf8' }).split(' ')[0] ?? '';

/** What this process (any thread) still holds open below `dir`. */
function openUnder(dir: string): string[] {
  const held: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir + '/')) held.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return held;
}

/** Host files of several sizes: empty, small, system binaries, and larger than the read buffer, not multiples of it. */
function sources(): string[] {
  const empty = path.join(tmp, 'empty');
  fs.writeFileSync(empty, '');
  const big = path.join(tmp, 'big');
  fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a));
  const odd = path.join(tmp, 'odd');
  fs.writeFileSync(odd, Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7) & 0xff)));
  const system = ['/usr/bin/ls', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/etc/hostname', '/usr/bin/true'].filter((f) => fs.existsSync(f));
  return [...system, empty, big, odd];
}

describe('CopyWorkers', () => {
  // jobs 1: this thread only; 4: this thread and the workers (one per further processor).
  for (const jobs of [1, 4]) {
    it(`jobs ${jobs}: copies many files at once, each byte for byte, with crypto's sha256 of what it wrote`, async () => {
      const all = sources();
      const out = fs.mkdtempSync(path.join(tmp, 'out-'));
      const pool = new CopyWorkers(jobs);
      try {
        const copies = all.map((src, i) => {
          const dst = path.join(out, String(i));
          const sfd = fs.openSync(src, 'r');
          const dfd = fs.openSync(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
          return pool.copy(sfd, dfd).finally(() => {
            fs.closeSync(sfd);
            fs.closeSync(dfd);
          });
        });
        const got = await Promise.all(copies);
        expect(got.map((c) => c.sha256)).toEqual(all.map(sha));
        expect(got.map((c) => c.size)).toEqual(all.map((f) => fs.statSync(f).size));
        all.forEach((src, i) => expect(sha(path.join(out, String(i))), src).toBe(sha(src)));
      } finally {
        await pool.close();
      }
    });

    it(`jobs ${jobs}: hashes files by path exactly as crypto does here`, async () => {
      const all = sources();
      const pool = new CopyWorkers(jobs);
      try {
        expect(await Promise.all(all.map((f) => pool.hash(f)))).toEqual(all.map(sha));
        expect(await Promise.all(all.map(sha256OfFile))).toEqual(all.map(sha));
      } finally {
        await pool.close();
      }
    });

    it(`jobs ${jobs}: a file that cannot be read rejects with its path and errno; the others still arrive`, async () => {
      const pool = new CopyWorkers(jobs);
      try {
        const missing = path.join(tmp, 'no-such-file');
        const bad = pool.hash(missing);
        const good = pool.hash('/usr/bin/true');
        await expect(bad).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(missing) });
        expect(await good).toBe(sha('/usr/bin/true'));
      } finally {
        await pool.close();
      }
    });

    it(`jobs ${jobs}: stage makes the file itself: the bytes and their sha256, the exact mode and owner, the source's times, no descriptor left open`, async () => {
      const all = sources();
      const out = fs.mkdtempSync(path.join(tmp, 'stage-'));
      const pool = new CopyWorkers(jobs);
      try {
        // Modes fchmod must set exactly (the umask and O_CREAT's 0600 would not give them); setuid
        // after fchown, which clears it.
        const modes = [0o755, 0o644, 0o4755, 0o640, 0o2711, 0o600, 0o444];
        const copies = all.map((src, i) => {
          const sfd = fs.openSync(src, 'r');
          const st = fs.fstatSync(sfd);
          const file = { path: path.join(out, String(i)), uid: 100 + i, gid: 200 + i, mode: modes[i % modes.length] ?? 0o644, atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000, fsync: i === 0 };
          return pool.stage(sfd, file).finally(() => fs.closeSync(sfd));
        });
        const got = await Promise.all(copies);
        expect(got.map((c) => c.sha256)).toEqual(all.map(sha));
        all.forEach((src, i) => {
          const made = path.join(out, String(i));
          const st = fs.lstatSync(made, { bigint: true });
          const from = fs.statSync(src, { bigint: true });
          expect(sha(made), src).toBe(sha(src));
          expect([(Number(st.mode) & 0o7777).toString(8), Number(st.uid), Number(st.gid)], src).toEqual([(modes[i % modes.length] ?? 0).toString(8), 100 + i, 200 + i]);
          // utimes keeps microseconds.
          expect(Math.abs(Number(st.mtimeNs - from.mtimeNs)), src).toBeLessThan(2000);
        });
        expect(openUnder(out)).toEqual([]);
      } finally {
        await pool.close();
      }
    });

    it(`jobs ${jobs}: stage never opens an existing name: a file or a link there is EEXIST, the link's target untouched, nothing left open`, async () => {
      const out = fs.mkdtempSync(path.join(tmp, 'stage-excl-'));
      const outside = path.join(tmp, `outside-${jobs}`);
      fs.writeFileSync(outside, 'not to be written\n');
      fs.symlinkSync(outside, path.join(out, 'link'));
      fs.writeFileSync(path.join(out, 'file'), 'already here\n');
      const pool = new CopyWorkers(jobs);
      const sfd = fs.openSync('/usr/bin/true', 'r');
      try {
        const meta = { uid: 0, gid: 0, mode: 0o755, atime: 0, mtime: 0, fsync: false };
        // Several at once: the worker lanes get some, this thread the rest.
        const all = await Promise.allSettled(['link', 'file', 'link', 'file'].map((n) => pool.stage(sfd, { ...meta, path: path.join(out, n) })));
        for (const r of all) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'EEXIST' } });
        expect(fs.readFileSync(outside, 'utf8')).toBe('not to be written\n');
        expect(fs.readFileSync(path.join(out, 'file'), 'utf8')).toBe('already here\n');
        expect(openUnder(out)).toEqual([]);
      } finally {
        fs.closeSync(sfd);
        await pool.close();
      }
    });

    it(`jobs ${jobs}: a copy the destination refuses rejects with the errno (EBADF: not open for writing)`, async () => {
      const pool = new CopyWorkers(jobs);
      const dst = path.join(tmp, `read-only-${jobs}`);
      fs.writeFileSync(dst, '');
      const sfd = fs.openSync('/usr/bin/true', 'r');
      const dfd = fs.openSync(dst, 'r');
      try {
        // Several at once: the worker lanes get some, this thread the rest.
        const all = await Promise.allSettled([pool.copy(sfd, dfd), pool.copy(sfd, dfd), pool.copy(sfd, dfd)]);
        for (const r of all) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'EBADF' } });
      } finally {
        fs.closeSync(sfd);
        fs.closeSync(dfd);
        await pool.close();
      }
    });
  }

  it('close() with a hash still pending on a worker: it rejects once the thread has stopped, and nothing more runs', async () => {
    const big = path.join(tmp, 'pending-big');
    fs.writeFileSync(big, Buffer.alloc(64 * 1024 * 1024, 1));
    const pool = new CopyWorkers(2);
    const pending = pool.hash(big);
    pending.catch(() => undefined);
    await pool.close();
    if (os.availableParallelism() > 1) await expect(pending).rejects.toThrow(/closed before this job finished/);
    await expect(pool.hash('/usr/bin/true')).rejects.toThrow(/closed/);
  });

  it('copyWithSha256 writes from offset 0 whatever the descriptors\' positions (a redo overwrites)', async () => {
    const src = path.join(tmp, 'redo-src');
    fs.writeFileSync(src, 'new content\n');
    const dst = path.join(tmp, 'redo-dst');
    fs.writeFileSync(dst, 'old');
    const sfd = fs.openSync(src, 'r');
    const dfd = fs.openSync(dst, 'r+');
    try {
      fs.readSync(sfd, Buffer.alloc(4), 0, 4, null);
      const c = await copyWithSha256(sfd, dfd);
      expect(c).toEqual({ sha256: sha(src), size: 12 });
      expect(fs.readFileSync(dst, 'utf8')).toBe('new content\n');
    } finally {
      fs.closeSync(sfd);
      fs.closeSync(dfd);
    }
  });
});
