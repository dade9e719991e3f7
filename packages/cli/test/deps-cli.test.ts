/**
 * `elfcopy deps` as a user meets it: outputs, exit codes, one-line errors for every kind of bad input,
 * never a stack trace, never a hang.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfcopy } from './helpers.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-cli-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function lddPaths(file: string): string[] {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  const paths = new Set<string>([fs.realpathSync(file)]);
  for (const line of out.split('\n')) {
    const m = /=> (\/\S+) \(/.exec(line) ?? /^\s+(\/\S+) \(/.exec(line);
    if (m) paths.add(fs.realpathSync(m[1]!));
  }
  return [...paths].sort();
}

describe('elfcopy deps output', () => {
  it('--list is the union closure: input, interpreter, libraries, sorted and unique (same real files as ldd)', async () => {
    const r = await elfcopy(['deps', '--list', '/usr/bin/ls', '/usr/bin/cat']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([...new Set(lines)].sort());
    expect(lines).toContain('/lib64/ld-linux-x86-64.so.2');
    const real = [...new Set(lines.map((l) => fs.realpathSync(l)))].sort();
    expect(real).toEqual([...new Set([...lddPaths('/usr/bin/ls'), ...lddPaths('/usr/bin/cat')])].sort());
  });

  it('the default tree names how each library was found', async () => {
    const r = await elfcopy(['deps', '/usr/bin/ls']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('/usr/bin/ls (interpreter /lib64/ld-linux-x86-64.so.2)');
    expect(r.stdout).toMatch(/libc\.so\.6 => \/lib\/x86_64-linux-gnu\/libc\.so\.6 \[(ld\.so\.cache|default path)\]/);
  });

  it('--json follows the elfcopy.deps/1 schema', async () => {
    const r = await elfcopy(['deps', '--json', '/usr/bin/ls']);
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as { schema: string; roots: { path: string; objects: string[] }[]; objects: { path: string; realPath: string; foundVia: { kind: string }; neededBy: string[] }[]; missing: unknown[] };
    expect(j.schema).toBe('elfcopy.deps/1');
    expect(j.roots[0]!.path).toBe('/usr/bin/ls');
    const libc = j.objects.find((o) => o.path.endsWith('/libc.so.6'))!;
    expect(libc.realPath).toBe(fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6'));
    expect(libc.neededBy).toContain('/usr/bin/ls');
    expect(j.objects.find((o) => o.path === '/lib64/ld-linux-x86-64.so.2')!.foundVia.kind).toBe('interpreter');
    expect(j.missing).toEqual([]);
  });

  it('--why prints the chain of loaders', async () => {
    const r = await elfcopy(['deps', '--why', 'libpcre2-8.so.0', '/usr/bin/ls']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe('/usr/bin/ls -> /lib/x86_64-linux-gnu/libselinux.so.1 -> /lib/x86_64-linux-gnu/libpcre2-8.so.0');
  });

  it('--dot is a Graphviz digraph with labelled edges', async () => {
    const r = await elfcopy(['deps', '--dot', '/usr/bin/ls']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^digraph elfcopy \{/);
    expect(r.stdout).toMatch(/"\/usr\/bin\/ls" -> "\/lib\/x86_64-linux-gnu\/libc\.so\.6" \[label="/);
  });

  it('a directory argument is every ELF below it, found by magic bytes not names', async () => {
    const dir = path.join(tmp, 'dir');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.copyFileSync('/usr/bin/true', path.join(dir, 'sub', 'no-extension'));
    fs.writeFileSync(path.join(dir, 'fake.so'), 'not an elf');
    const r = await elfcopy(['deps', '--json', dir]);
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as { roots: { path: string }[] };
    expect(j.roots.map((x) => x.path)).toEqual([path.join(dir, 'sub', 'no-extension')]);
  });
});

/** /usr/bin/true with its ELF64 header changed. */
function withHeader(name: string, change: (b: Buffer) => void): string {
  const b = Buffer.from(fs.readFileSync('/usr/bin/true'));
  change(b);
  const p = path.join(tmp, name);
  fs.writeFileSync(p, b, { mode: 0o755 });
  return p;
}

describe('elfcopy deps on bad input: one line, exit 2, no stack, no hang', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a text file', () => '/etc/passwd', /^elfcopy: \/etc\/passwd: not an ELF file/],
    ['a missing file', () => path.join(tmp, 'nope'), /no such file or directory/],
    ['an empty file', () => { const p = path.join(tmp, 'empty'); fs.writeFileSync(p, ''); return p; }, /empty/],
    ['a truncated ELF', () => { const p = path.join(tmp, 'trunc'); fs.writeFileSync(p, fs.readFileSync('/usr/bin/ls').subarray(0, 40)); return p; }, /truncated/],
    ['a FIFO', () => { const p = path.join(tmp, 'fifo'); spawnSync('mkfifo', [p]); return p; }, /FIFO/],
    ['a character device', () => '/dev/zero', /character device/],
    ['a symlink loop', () => { const a = path.join(tmp, 'loop-a'); const b = path.join(tmp, 'loop-b'); fs.symlinkSync(b, a); fs.symlinkSync(a, b); return a; }, /symbolic links|symlink loop/],
    ['a dangling symlink', () => { const p = path.join(tmp, 'dangling'); fs.symlinkSync(path.join(tmp, 'gone'), p); return p; }, /dangling/],
    // ld.so: "object file has no loadable segments"; the kernel: ENOEXEC.
    ['a program with e_phnum 0', () => withHeader('phnum0', (b) => b.writeUInt16LE(0, 56)), /^elfcopy: .*phnum0: not loadable: e_phnum is 0, so the file has no program headers/],
    ['a program with e_phnum PN_XNUM and sh_info 0', () => withHeader('xnum', (b) => { b.writeUInt16LE(0xffff, 56); b.writeUInt32LE(0, Number(b.readBigUInt64LE(40)) + 44); }), /not loadable: e_phnum is PN_XNUM and section header 0's sh_info is 0/],
    ['e_phoff near 2^64, printed exactly', () => withHeader('phoff', (b) => b.writeBigUInt64LE((1n << 64n) - 65609n, 32)), /at 0xfffffffffffeffb7\) extends past the end/],
  ];
  for (const [name, make, re] of cases) {
    it(`${name}`, async () => {
      const p = make();
      const t0 = Date.now();
      const r = await elfcopy(['deps', p], { timeout: 20_000 });
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^elfcopy: /);
      expect(lines[0]).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('a socket', async () => {
    const p = path.join(tmp, 'sock');
    const server = net.createServer().listen(p);
    await new Promise((res) => server.once('listening', res));
    try {
      const r = await elfcopy(['deps', p]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim()).toMatch(/^elfcopy: .*sock: is a socket/);
    } finally {
      server.close();
    }
  });

  it('good and bad inputs together: the good ones are still analysed, exit 2', async () => {
    const r = await elfcopy(['deps', '--list', '/usr/bin/true', '/etc/hostname']);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain('/usr/bin/true');
    expect(r.stderr.trim()).toMatch(/^elfcopy: \/etc\/hostname: not an ELF file/);
  });

  it('usage errors exit 2 with one line and a hint', async () => {
    for (const args of [['deps'], ['deps', '--bogus', '/usr/bin/true'], ['deps', '--list', '--json', '/usr/bin/true'], ['deps', '--root', '/nonexistent', '/usr/bin/true']]) {
      const r = await elfcopy(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^elfcopy: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a missing library: exit 1, a line naming the library and who needs it', async () => {
    const exe = path.join(tmp, 'needs-missing');
    fs.copyFileSync('/usr/bin/true', exe);
    execFileSync('patchelf', ['--add-needed', 'libelfcopy-missing.so.7', exe]);
    const r = await elfcopy(['deps', exe]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toBe(`elfcopy: libelfcopy-missing.so.7: not found (needed by ${exe})`);
    expect(r.stdout).toContain('libelfcopy-missing.so.7 => not found');
  });

  it('--help shows examples and --version the version', async () => {
    const h = await elfcopy(['deps', '--help']);
    expect(h.exitCode).toBe(0);
    expect(h.stdout).toMatch(/Examples:/);
    const v = await elfcopy(['--version']);
    expect(v.exitCode).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
