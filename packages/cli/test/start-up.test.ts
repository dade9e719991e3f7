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
    // A fresh jail, then the re-run whose path the copy bundle's cache holds.
    [['/usr/bin/true', '--into', jail, '--with', 'none', '--quiet'], 'elfcopy-copy.cjs'],
    [['/usr/bin/true', '--into', jail, '--with', 'none', '--quiet'], 'elfcopy-copy.cjs'],
    [['copy', '/usr/bin/true', '--into', jail, '--with', 'none', '--quiet'], 'elfcopy-copy.cjs'],
    [['-q', '/usr/bin/true', '--into', jail, '--with', 'none'], 'elfcopy-copy.cjs'],
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

describe('the bin sends to the copy bundle only what the full program would also run as a copy', () => {
  // Each command `elfcopy --help` lists, as the first argument, is that command: never the copy bundle
  // (this keeps the bin's list of names in step with main.ts).
  it('every command name the full program has starts the full program (deps, copy: their own bundles)', async () => {
    const help = await probed(ELFCOPY, ['--help']);
    const names = [...help.stdout.slice(help.stdout.indexOf('\nCommands:\n')).matchAll(/^  ([a-z]+) /gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['deps', 'copy', 'init', 'verify', 'image', 'help']));
    for (const name of names) {
      const r = await probed(ELFCOPY, [name ?? '', path.join(tmp, 'no-such-jail')]);
      const own = name === 'deps' ? 'elfcopy-deps.cjs' : name === 'copy' ? 'elfcopy-copy.cjs' : 'elfcopy.cjs';
      expect(r.seen.scripts.map((s) => path.basename(s.file)), name).toEqual([own]);
      // The same after the program's own switches.
      const late = await probed(ELFCOPY, ['-q', '--verbose', name ?? '', path.join(tmp, 'no-such-jail')]);
      expect(late.seen.scripts.map((s) => path.basename(s.file)), name).toEqual([own === 'elfcopy-deps.cjs' ? 'elfcopy.cjs' : own]);
    }
  });

  it('help asked for anywhere (commander prints the whole program\'s) starts the full program', async () => {
    for (const h of ['--help', '-h', '-qh', '-hv', '--help=x']) {
      for (const args of [['/usr/bin/true', '--into', path.join(tmp, 'h'), h], ['copy', h], ['-q', h, '/usr/bin/true']]) {
        const r = await probed(ELFCOPY, args);
        expect(r.seen.scripts.map((s) => path.basename(s.file)), args.join(' ')).toEqual(['elfcopy.cjs']);
      }
    }
  });

  // The oracle: the full bundle run as it is (node dist/elfcopy.cjs, no bin, no cache).
  const cases: string[][] = [
    ['/usr/bin/true', '--into', 'J', '--with', 'none', '--dry-run'],
    ['/usr/bin/true', '--into', 'J', '--with', 'none', '--dry-run', '--json'],
    ['/usr/bin/true', '--into', 'J', '--dry-run', '-v'],
    ['/usr/bin/true'],
    ['/usr/bin/true', '--into', 'J', '--frobnicate'],
    ['/usr/bin/true', '--int', 'J'],
    ['/usr/bin/true', '--into', 'J', '--jobs', '0'],
    ['/usr/bin/true', '--into', 'J', '--with', 'no-such-profile'],
    ['/usr/bin/true', '--into', 'J', '--dlopen', 'sometimes'],
    ['/usr/bin/true', '--into', 'J', '-V'],
    ['/usr/bin/true', '--into', '/'],
    ['/no/such/file', '--into', 'J'],
    ['/etc/hostname', '--into', 'J'],
    ['frobnicate', '--into', 'J'],
    ['/usr/bin/true', 'deps', '--into', 'J', '--dry-run', '--with', 'none'],
    ['/usr/bin/true', '--into', 'J', '--root', '/no/such/root'],
    ['copy', '/usr/bin/true', '--into', 'J', '--with', 'none', '--dry-run'],
    ['copy'],
    ['-q', 'copy', '/no/such/file', '--into', 'J'],
    ['-q', '/usr/bin/true', '--into', 'J', '--frobnicate'],
    ['-v', '--quiet', '/usr/bin/true', '--into', 'J', '--with', 'none', '--dry-run'],
    ['--verbose', '/usr/bin/true', '--into', 'J', '--with', 'none'],
  ];
  for (const args of cases) {
    it(`elfcopy ${args.join(' ')}: the copy bundle's output and exit code are the full program's`, async () => {
      const into = fs.mkdtempSync(path.join(tmp, 'same-'));
      const argv = args.map((a) => (a === 'J' ? path.join(into, 'jail') : a));
      const got = await probed(ELFCOPY, argv);
      expect(got.seen.scripts.map((s) => path.basename(s.file))).toEqual(['elfcopy-copy.cjs']);
      fs.rmSync(path.join(into, 'jail'), { recursive: true, force: true });
      const want = await execa('node', [path.join(dist, 'elfcopy.cjs'), ...argv], { reject: false, cwd: tmp, stdin: 'ignore', env: { NO_COLOR: '1' }, timeout: 60_000 });
      expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }).toEqual({ exitCode: want.exitCode, stdout: want.stdout, stderr: want.stderr });
    });
  }

  it('a copy by the copy bundle fills the jail as the full program does', async () => {
    const listing = (root: string): string[] =>
      (fs.readdirSync(root, { recursive: true }) as string[])
        .filter((p) => !p.startsWith('.elfcopy'))
        .sort()
        .map((p) => {
          const st = fs.lstatSync(path.join(root, p));
          const kind = st.isSymbolicLink() ? `-> ${fs.readlinkSync(path.join(root, p))}` : st.isFile() ? fs.readFileSync(path.join(root, p)).toString('base64').length : 'dir';
          return `${p} ${(st.mode & 0o7777).toString(8)} ${kind}`;
        });
    const [a, b] = [path.join(tmp, 'fill-copy'), path.join(tmp, 'fill-full')];
    const got = await probed(ELFCOPY, ['/usr/bin/true', '--into', a, '--with', 'none']);
    expect(got.seen.scripts.map((s) => path.basename(s.file))).toEqual(['elfcopy-copy.cjs']);
    const want = await execa('node', [path.join(dist, 'elfcopy.cjs'), '/usr/bin/true', '--into', b, '--with', 'none'], { reject: false, stdin: 'ignore' });
    expect([got.exitCode, got.stderr]).toEqual([want.exitCode, want.stderr]);
    expect(listing(a)).toEqual(listing(b));
    expect(listing(a).length).toBeGreaterThan(5);
  });
});

describe('without a bundle or a cache the bin still runs, with the same output', () => {
  // The bundles require their npm dependencies (and jail-copy's profiles) from node_modules, as installed.
  function bareBin(name: string, keep: (file: string) => boolean): string {
    const bare = path.join(tmp, name);
    fs.mkdirSync(path.join(bare, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(bare, 'dist'));
    fs.symlinkSync(path.resolve(dist, '..', '..', '..', 'node_modules'), path.join(bare, 'node_modules'));
    fs.copyFileSync(ELFCOPY, path.join(bare, 'bin', 'elfcopy.cjs'));
    for (const f of fs.readdirSync(dist).filter(keep)) fs.copyFileSync(path.join(dist, f), path.join(bare, 'dist', f));
    return path.join(bare, 'bin', 'elfcopy.cjs');
  }
  const runs = [['deps', '--list', '/usr/bin/true'], ['deps', '--json', '/usr/bin/true'], ['/usr/bin/true', '--into', path.join(tmp, 'dry'), '--with', 'none', '--dry-run'], ['/no/such/file', '--into', path.join(tmp, 'dry')]];

  it('every bundle, no .cache file', async () => {
    const bin = bareBin('bare', (f) => f.endsWith('.cjs'));
    for (const args of runs) {
      const [want, got] = [await probed(ELFCOPY, args), await probed(bin, args)];
      expect(got.seen.scripts).toEqual([]);
      expect({ exitCode: got.exitCode, stdout: got.stdout, stderr: got.stderr }).toEqual({ exitCode: want.exitCode, stdout: want.stdout, stderr: want.stderr });
    }
  });

  it('the full bundle and its cache alone (a dist from a build without the deps and copy bundles)', async () => {
    const bin = bareBin('full-only', (f) => f === 'elfcopy.cjs' || f === 'elfcopy.cjs.cache');
    for (const args of runs) {
      const [want, got] = [await probed(ELFCOPY, args), await probed(bin, args)];
      expect(got.seen.scripts.map((s) => [path.basename(s.file), s.rejected])).toEqual([['elfcopy.cjs', false]]);
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
