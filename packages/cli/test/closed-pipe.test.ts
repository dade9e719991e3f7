/**
 * A reader that stops early (`elfcopy … | head -c 10`) closes the pipe. elfcopy then stops quietly with
 * 141 (128 + SIGPIPE, the status `head`'s other writers such as cat get), never a stack trace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ELFCOPY } from './helpers.js';

function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [ELFCOPY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    // The read end is closed before elfcopy writes anything: its first write fails with EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('a closed standard output', () => {
  for (const args of [
    ['deps', '--list', '/usr/bin/ls'],
    ['deps', '--json', '/usr/bin/ls'],
    ['/usr/bin/ls', '--into', path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-pipe-')), 'j'), '--dry-run', '--json'],
  ]) {
    it(`elfcopy ${args.join(' ')}: exit 141 and nothing on stderr but elfcopy's own lines`, async () => {
      const r = await runWithClosedStdout(args);
      expect(r.stderr).not.toMatch(/EPIPE|node:events|at .*\(node:/);
      for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^elfcopy: /);
      expect(r.code).toBe(141);
    });
  }
});
