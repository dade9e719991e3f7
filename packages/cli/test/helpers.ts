import { execa, type Result } from 'execa';
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
