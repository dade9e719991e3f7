/**
 * The copy command's output streams. process.stdout costs every run ~3 ms when made (its stream
 * classes; node:net for a pipe), and so does process.stderr: a copy that prints nothing must make
 * neither — not for its own output (output.ts lazyStdout) and not for its copy worker, whose streams
 * Node would pipe into them. What must still hold: what the worker prints arrives; a reader that has
 * gone ends the run quietly with 141, after the copy is complete. (A plan larger than a pipe through a
 * non-blocking pipe: closed-pipe.test.ts, with deps's outputs.)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ELFCOPY } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-copy-output-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Preloaded into the CLI: says on stderr (with write(2), making no stream) when the main thread's
// process.stdout is made (a preload runs in worker threads too: theirs are not trapped).
const trap = path.join(tmp, 'stdout-trap.cjs');
fs.writeFileSync(
  trap,
  `const fs = require('node:fs');
if (require('node:worker_threads').isMainThread) {
  const d = Object.getOwnPropertyDescriptor(process, 'stdout');
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: d.enumerable, get() { fs.writeSync(2, 'TRAP: process.stdout made\\n'); return d.get.call(process); } });
}
`,
);

describe('a copy into a fresh jail makes no process.stdout unless it prints', () => {
  for (const args of [['--quiet'], [], ['--json'], ['--dry-run'], ['--dry-run', '--json']]) {
    const prints = args.includes('--json') || args.includes('--dry-run');
    it(`elfcopy /usr/bin/true --into J ${args.join(' ')}: ${prints ? 'the output is the same with the trap' : 'the stream is never made'}`, () => {
      const run = (preload: boolean, jail: string) =>
        spawnSync('node', [...(preload ? ['-r', trap] : []), ELFCOPY, '/usr/bin/true', '--into', jail, '--with', 'none', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      const trapped = run(true, path.join(tmp, `trapped-${args.join('')}`));
      const plain = run(false, path.join(tmp, `plain-${args.join('')}`));
      expect(trapped.status).toBe(0);
      if (!prints) expect(trapped.stderr).not.toContain('TRAP');
      // The trap itself works: a program that does make the stream is seen.
      expect(spawnSync('node', ['-r', trap, '-e', 'process.stdout'], { encoding: 'utf8' }).stderr).toContain('TRAP');
      expect(trapped.status).toBe(plain.status);
      // The jail's name aside; the copy lanes finish in any order, so a result's lists are compared as sets.
      const sameJail = (s: string) => s.replaceAll(/(trapped|plain)-[a-z-]*/g, 'J');
      const asSets = (s: string) => (args.includes('--json') && !args.includes('--dry-run') ? JSON.stringify(JSON.parse(s), (_k, v: unknown) => (Array.isArray(v) ? [...v].sort() : v)) : s);
      expect(asSets(sameJail(trapped.stdout))).toBe(asSets(sameJail(plain.stdout)));
      if (prints) expect(trapped.stdout.length).toBeGreaterThan(0);
      else expect(trapped.stdout).toBe('');
    }, 60_000);
  }
});

// Preloaded into the CLI and so into its copy worker: the worker prints a line on each stream.
const talker = path.join(tmp, 'worker-talks.cjs');
fs.writeFileSync(talker, `if (!require('node:worker_threads').isMainThread) { process.stdout.write('WORKER-OUT\\n'); process.stderr.write('WORKER-ERR\\n'); }\n`);

describe("the copy worker's own output", () => {
  it('is not piped into process.stdout or process.stderr, yet what the worker prints still arrives, each on its own descriptor', () => {
    const r = spawnSync('node', ['-r', trap, '-r', talker, ELFCOPY, '/usr/bin/true', '--into', path.join(tmp, 'talk-jail'), '--with', 'none', '--quiet'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // The run did start a worker (two processors: a worker beside this thread), or this tests nothing.
    if (os.availableParallelism() > 1) {
      expect(r.stdout).toBe('WORKER-OUT\n');
      expect(r.stderr).toContain('WORKER-ERR\n');
    }
    expect(r.stderr).not.toContain('TRAP');
  }, 60_000);
});

describe('a re-run that reuses the plan makes no process.stdout', () => {
  for (const args of [['--quiet'], []]) {
    it(`elfcopy /usr/bin/true --into J ${args.join(' ')}, twice: the second run never makes the stream`, () => {
      const jail = path.join(tmp, `rerun-${args.join('')}`);
      const run = (preload: boolean) => spawnSync('node', [...(preload ? ['-r', trap] : []), ELFCOPY, '/usr/bin/true', '--into', jail, '--with', 'none', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      const first = run(false);
      expect(first.status).toBe(0);
      const again = run(true);
      expect(again.status).toBe(0);
      expect(again.stderr).not.toContain('TRAP');
      expect(again.stdout).toBe('');
    }, 60_000);
  }
});

describe('a closed standard output', () => {
  it('elfcopy /usr/bin/ls --into J --json: exit 141, only elfcopy lines on stderr, and the jail is complete', async () => {
    const jail = path.join(tmp, 'closed-jail');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('node', [ELFCOPY, '/usr/bin/ls', '--into', jail, '--with', 'none', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // The read end is closed before elfcopy writes anything: its first write fails with EPIPE.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(r.stderr).not.toMatch(/EPIPE|node:events|at .*\(node:/);
    for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toMatch(/^elfcopy: /);
    expect(r.code).toBe(141);
    // The output is written after the work: the same copy again finds everything in place.
    const again = spawnSync('node', [ELFCOPY, '/usr/bin/ls', '--into', jail, '--with', 'none', '--json'], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    const result = JSON.parse(again.stdout) as { copied: string[]; planReused: boolean; unchanged: number };
    expect(result.copied).toEqual([]);
    expect(result.planReused).toBe(true);
    expect(result.unchanged).toBeGreaterThan(0);
  }, 60_000);
});
