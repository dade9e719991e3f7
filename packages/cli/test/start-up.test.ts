/**
 * How every elfcopy process starts (bin/elfcopy.cjs): which bundle it compiles, whether V8 takes that
 * bundle's code cache (a rejected cache costs ~12 ms a run without a word), and what the start-up makes
 * that a run does not need. Each run goes through the real bin, with a preload (node -r) that watches
 * vm.Script and process.stdout from outside and writes what it saw when the process exits.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ELFCOPY } from './helpers.js';

const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-start-up-')));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PROBE = path.join(tmp, 'probe.cjs');
fs.writeFileSync(
  PROBE,
  `'use strict';
const vm = require('node:vm');
const fs = require('node:fs');
const seen = { scripts: [], stdout: false };
const Real = vm.Script;
vm.Script = class extends Real {
  constructor(code, opts) {
    super(code, opts);
    seen.scripts.push({ file: opts && opts.filename, cached: Boolean(opts && opts.cachedData), rejected: this.cachedDataRejected === true });
  }
};
const stdout = Object.getOwnPropertyDescriptor(process, 'stdout');
Object.defineProperty(process, 'stdout', { configurable: true, enumerable: stdout.enumerable, get() { seen.stdout = true; return stdout.get.call(process); } });
process.on('exit', () => fs.writeFileSync(process.env.ELFCOPY_TEST_PROBE, JSON.stringify(seen)));
`,
);

interface Seen {
  scripts: { file: string; cached: boolean; rejected: boolean }[];
  stdout: boolean;
}

let runs = 0;
async function probed(bin: string, args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string; seen: Seen }> {
  const out = path.join(tmp, `seen-${runs++}.json`);
  const r = await execa('node', ['-r', PROBE, bin, ...args], { reject: false, cwd: tmp, stdin: 'ignore', env: { NO_COLOR: '1', ELFCOPY_TEST_PROBE: out }, timeout: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, seen: JSON.parse(fs.readFileSync(out, 'utf8')) as Seen };
}

const dist = path.join(path.dirname(ELFCOPY), '..', 'dist');
const jail = path.join(tmp, 'jail');

describe('each bundle starts from its own code cache, and V8 takes it', () => {
  // Every command line the bin routes differently, with the bundle it must compile.
  const routes: [string[], string][] = [
    [['deps', '--list', '/usr/bin/true'], 'elfcopy-deps.cjs'],
    [['deps', '-V'], 'elfcopy-deps.cjs'],
    [['/usr/bin/true', '--into', jail, '--with', 'none', '--quiet'], 'elfcopy.cjs'],
    [['/usr/bin/true', '--into', jail, '--with', 'none', '--quiet'], 'elfcopy.cjs'],
    [['-q', 'deps', '--list', '/usr/bin/true'], 'elfcopy.cjs'],
    [['verify', jail], 'elfcopy.cjs'],
    [['--help'], 'elfcopy.cjs'],
    [['-V'], 'elfcopy.cjs'],
  ];
  for (const [args, bundle] of routes) {
    it(`elfcopy ${args.join(' ').replace(tmp, 'TMP')}: ${bundle}, its cache accepted`, async () => {
      const r = await probed(ELFCOPY, args);
      expect(r.exitCode).toBe(0);
      expect(r.seen.scripts).toEqual([{ file: path.join(dist, bundle), cached: true, rejected: false }]);
    });
  }
});

describe('without the caches the bin still runs every bundle, with the same output', () => {
  it('deps and copy from a dist with no .cache files', async () => {
    const bare = path.join(tmp, 'bare');
    fs.mkdirSync(path.join(bare, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(bare, 'dist'));
    // The bundles require their npm dependencies (and jail-copy's profiles) from node_modules, as installed.
    fs.symlinkSync(path.resolve(dist, '..', '..', '..', 'node_modules'), path.join(bare, 'node_modules'));
    fs.copyFileSync(ELFCOPY, path.join(bare, 'bin', 'elfcopy.cjs'));
    for (const f of fs.readdirSync(dist).filter((f) => f.endsWith('.cjs'))) fs.copyFileSync(path.join(dist, f), path.join(bare, 'dist', f));
    const bin = path.join(bare, 'bin', 'elfcopy.cjs');
    for (const args of [['deps', '--list', '/usr/bin/true'], ['deps', '--json', '/usr/bin/true'], ['/usr/bin/true', '--into', path.join(tmp, 'dry'), '--with', 'none', '--dry-run'], ['/no/such/file', '--into', path.join(tmp, 'dry')]]) {
      const [want, got] = [await probed(ELFCOPY, args), await probed(bin, args)];
      expect(got.seen.scripts).toEqual([]);
      expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }).toEqual({ exitCode: want.exitCode, stdout: want.stdout, stderr: want.stderr });
    }
  });
});

describe('a copy makes process.stdout only when it prints', () => {
  it('a quiet copy into a populated jail never makes the stream', async () => {
    // The first run fills the jail (its copy lane, a worker thread, pipes into process.stdout: Node's
    // Worker does); the second reuses the plan and copies nothing.
    const args = ['/usr/bin/true', '--into', path.join(tmp, 'quiet'), '--with', 'none', '--quiet'];
    expect((await probed(ELFCOPY, args)).exitCode).toBe(0);
    const r = await probed(ELFCOPY, args);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.seen.stdout).toBe(false);
  });

  it('--json and --dry-run still print through it', async () => {
    const into = path.join(tmp, 'printed');
    const dry = await probed(ELFCOPY, ['/usr/bin/true', '--into', into, '--with', 'none', '--dry-run']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/^copy +\/usr\/bin\/true /m);
    const json = await probed(ELFCOPY, ['/usr/bin/true', '--into', into, '--with', 'none', '--json']);
    expect(json.exitCode).toBe(0);
    expect((JSON.parse(json.stdout) as { schema: string; copied: string[] }).copied).toContain('/usr/bin/true');
    expect(json.seen.stdout).toBe(true);
  });
});
