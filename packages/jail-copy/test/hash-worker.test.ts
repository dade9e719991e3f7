/** The manifest's hashing thread: the same digests as crypto on this thread, errors that name the file. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sha256Worker, sha256OfFile } from '../src/copy/hash-worker.js';
import { tempDir } from './helpers/jail.js';

const tmp = tempDir('hash-worker');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('Sha256Worker', () => {
  it('hashes many files, in any order of completion, exactly as crypto does here', async () => {
    const files = ['/usr/bin/ls', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/etc/hostname', '/usr/bin/true'];
    const empty = path.join(tmp, 'empty');
    fs.writeFileSync(empty, '');
    const big = path.join(tmp, 'big');
    // Larger than the 1 MiB read buffer, not a multiple of it.
    fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a));
    const all = [...files.filter((f) => fs.existsSync(f)), empty, big];
    const hasher = new Sha256Worker();
    try {
      const got = await Promise.all(all.map((f) => hasher.hash(f)));
      expect(got).toEqual(all.map((f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex')));
      expect(got).toEqual(all.map((f) => sha256OfFile(f)));
    } finally {
      await hasher.close();
    }
  });

  it('a file that cannot be read rejects with its path and errno; the other hashes still arrive', async () => {
    const hasher = new Sha256Worker();
    try {
      const missing = path.join(tmp, 'no-such-file');
      const bad = hasher.hash(missing);
      const good = hasher.hash('/usr/bin/true');
      await expect(bad).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining(missing) });
      expect(await good).toBe(sha256OfFile('/usr/bin/true'));
    } finally {
      await hasher.close();
    }
  });
});
