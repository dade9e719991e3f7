/**
 * A reader that stops early (`elfcopy … | head -c 10`) closes the pipe. elfcopy then stops quietly with
 * 141 (128 + SIGPIPE, the status `head`'s other writers such as cat get), never a stack trace.
 */
import { spawn, spawnSync } from 'node:child_process';
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

/**
 * A pipe whose write end was left non-blocking by the process that made it, read only after elfcopy has
 * filled it: each write past the pipe's 64 KiB fails with EAGAIN. Everything must still arrive — deps
 * ends with process.exit, which would drop a queued write. The oracle is the same command's output into a
 * file (a file never answers EAGAIN). python3 sets O_NONBLOCK, which Node cannot do on a pipe it hands on.
 */
describe('a non-blocking standard output that a slow reader empties', () => {
  const reader = String.raw`
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[1:], stdout=w)
os.close(w)
time.sleep(0.5)
out = bytearray()
while True:
    b = os.read(r, 65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
sys.exit(p.wait())
`;
  for (const args of [
    ['deps', '--json', '/usr/bin/'],
    ['deps', '--dot', '/usr/bin/'],
    ['deps', '/usr/bin/'],
    // A copy's plan, printed once at the end: JAIL is a path in the test's directory (a dry run makes none).
    ['/usr/bin/', '--into', 'JAIL', '--with', 'none', '--dry-run', '--json'],
  ]) {
    it(`elfcopy ${args.join(' ')}: every byte arrives, exit 0`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-nbpipe-'));
      const argv = args.map((a) => (a === 'JAIL' ? path.join(dir, 'jail') : a));
      const expected = path.join(dir, 'expected');
      const file = fs.openSync(expected, 'w');
      const direct = spawnSync('node', [ELFCOPY, ...argv], { stdio: ['ignore', file, 'pipe'] });
      fs.closeSync(file);
      expect(direct.status).toBe(0);
      const want = fs.readFileSync(expected);
      // Enough to fill the pipe many times over, or the test would not test the EAGAIN path.
      expect(want.length).toBeGreaterThan(4 * 65536);
      const piped = spawnSync('python3', ['-c', reader, 'node', ELFCOPY, ...argv], { maxBuffer: 256 * 1024 * 1024 });
      expect(piped.status).toBe(0);
      expect(Buffer.compare(piped.stdout, want)).toBe(0);
      fs.rmSync(dir, { recursive: true, force: true });
    }, 60_000);
  }
});
