import { execa, type Result } from 'execa';
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
