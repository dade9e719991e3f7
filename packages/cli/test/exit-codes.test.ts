/**
 * Exit code 70 means a bug in elfcopy, and only that (issue 11): every user mistake and file-system
 * condition below gets its own code, one line on stderr, and ends within seconds. Each of the first
 * cases reached "internal error" (or hung) before.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy } from './helpers.js';

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-exit-'));
  fs.writeFileSync(path.join(tmp, 'file'), '');
  spawnSync('mkfifo', [path.join(tmp, 'fifo')]);
  fs.symlinkSync('loop2', path.join(tmp, 'loop1'));
  fs.symlinkSync('loop1', path.join(tmp, 'loop2'));
  fs.mkdirSync(path.join(tmp, 'j'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const at = (p: string): string => path.join(tmp, p);

describe('no user mistake or file-system condition reaches exit 70', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    ['init --nsswitch of a missing file', () => ['init', at('j1'), '--nsswitch', at('nope'), '--no-devices'], 2, /nope: no such file or directory$/],
    ['init --nsswitch of a directory', () => ['init', at('j1'), '--nsswitch', tmp, '--no-devices'], 2, /: is a directory$/],
    ['init --nsswitch of a FIFO (never blocks)', () => ['init', at('j1'), '--nsswitch', at('fifo'), '--no-devices'], 2, /fifo: is a FIFO/],
    ['init under a regular file', () => ['init', at('file/j'), '--no-devices'], 2, /cannot be made a jail .*not a directory/],
    ['init at a symlink loop', () => ['init', at('loop1'), '--no-devices'], 2, /cannot be made a jail .*symlink loop/],
    // Node's recursive mkdir loops forever there.
    ['init under /proc (never hangs)', () => ['init', '/proc/elfcopy-no-jail', '--no-devices'], 2, /cannot be made a jail/],
    ['copy into /proc/self (a directory no file can be made in)', () => ['/usr/bin/true', '--into', '/proc/self'], 2, /cannot mkdir: no such file or directory \(ENOENT\)$/],
    ['verify of a symlink loop', () => ['verify', at('loop1')], 2, /no such jail directory|symbolic links/],
    ['unit with a jail that is a file', () => ['unit', '/x', '--jail', at('file')], 2, /not a directory/],
    ['deps of a FIFO', () => ['deps', at('fifo')], 2, /FIFO/],
  ];
  for (const [name, args, code, line] of cases) {
    it(name, async () => {
      const t0 = Date.now();
      const r = await elfcopy(args(), { timeout: 20_000 });
      expect(Date.now() - t0, 'ends within seconds').toBeLessThan(15_000);
      expect(r.exitCode, r.stderr).toBe(code);
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('elfcopy: ') && !l.startsWith('elfcopy: warning:'));
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(line);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    });
  }

  it("README's exit-code table documents 70 as a bug, never a user's mistake", () => {
    const readme = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'README.md'), 'utf8');
    expect(readme).toMatch(/^\| 70 \| internal error: a bug in elfcopy .*Never a user's mistake or a file-system condition/m);
  });
});
