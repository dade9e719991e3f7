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
