import { execa, type Result } from 'execa';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ELFCOPY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'elfcopy.cjs');

/** Runs the built CLI (the bundle `npm run build` makes), never throwing on a non-zero exit. */
export async function elfcopy(args: string[], opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {}): Promise<Result<{ reject: false }>> {
  return execa('node', [ELFCOPY, ...args], {
    reject: false,
    cwd: opts.cwd,
    timeout: opts.timeout ?? 60_000,
    env: { NO_COLOR: '1', ...opts.env },
    stdin: 'ignore',
  }) as Promise<Result<{ reject: false }>>;
}

/** A loopback TCP port free at the moment of asking (the machine is shared: never a fixed port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Runs `body` with a fresh tmpfs of SIZE (e.g. '64k', '2m') mounted at MNT (made here): a real full or
 * read-only output file system for the refused-write tests (root only). Unmounted whatever happens.
 */
export async function withTmpfs<T>(mnt: string, size: string, body: () => Promise<T>): Promise<T> {
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]);
  try {
    return await body();
  } finally {
    execFileSync('umount', [mnt]);
  }
}
