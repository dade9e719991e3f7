/**
 * SIGINT (Ctrl-C), SIGTERM and SIGHUP during a copy: elfcopy stops, removes its staging and exits
 * 128 + the signal number. The signal is sent while a large file is being copied (its staging
 * directory is seen in the jail), so it lands mid-copy, not before or after.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ELFCOPY, paddedProgram, requireRoot, stagingLeftovers, tempDir } from './helpers/jail.js';

const tmp = tempDir('signals');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** An ELF program padded to 400 MB (ld.so maps only its segments): its copy takes long enough to interrupt. */
const big = path.join(tmp, 'bin', 'big');
beforeAll(() => {
  requireRoot();
  paddedProgram(big, 400);
});

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/** Resolves once `dir` holds a staging entry (polled), or rejects after `ms`. */
async function stagingAppears(dir: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((fs.readdirSync(dir, { withFileTypes: false }) as string[]).some((n) => n.startsWith('.elfcopy-tmp-'))) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`no staging directory appeared in ${dir} within ${ms} ms`);
}

describe('a signal during a copy', () => {
  for (const [sig, num] of Object.entries(SIGNALS)) {
    it(`${sig}: stops, removes its staging, exits ${128 + num}`, async () => {
      const jail = path.join(tmp, `jail-${sig}`);
      const target = path.join(jail, path.dirname(big));
      fs.mkdirSync(target, { recursive: true });
      const child = spawn('node', [ELFCOPY, big, '--into', jail, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      await stagingAppears(target, 20_000);
      child.kill(sig as NodeJS.Signals);
      const { code, signal } = await exited;
      if (code === 0) throw new Error('the copy finished before the signal arrived (a reflinking file system copies at once): the test proves nothing here');
      expect({ code, signal }, stderr).toEqual({ code: 128 + num, signal: null });
      expect(stagingLeftovers(jail)).toEqual([]);
      // Its lock goes with its staging: the next run is not refused.
      expect(fs.existsSync(path.join(jail, '.elfcopy', 'lock'))).toBe(false);
      // Stopped before the rename: no file (whole or truncated) at the final name.
      expect(fs.existsSync(path.join(jail, big))).toBe(false);
    });
  }
});
