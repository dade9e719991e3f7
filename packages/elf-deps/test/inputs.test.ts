/**
 * collectInputs, argument by argument.
 *
 * collectInputs tells its caller about each directory argument before walking it (the CLI bounds its
 * heap for a batch then, instead of asking the kernel about every argument first): once per directory
 * argument, and never for a file, a link to a file, a glob of files,
 * a missing path or a special file.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectInputs, normalizeAbsolute } from '../src/inputs.js';
import { analyzeDeps } from '../src/resolve/resolver.js';
import { SysRoot } from '../src/sysroot.js';
import { useTempDirs } from './helpers/temp-dirs.js';

const tempDir = useTempDirs();
const ELF = ['/usr/bin/true', '/bin/true'].find((p) => fs.existsSync(p)) ?? process.execPath;

function tree(): { dir: string; sub: string; file: string; link: string } {
  const dir = tempDir('elfcopy-dirhook-');
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(path.join(sub, 'deeper'), { recursive: true });
  const file = path.join(dir, 'prog');
  fs.copyFileSync(ELF, file);
  fs.copyFileSync(ELF, path.join(sub, 'deeper', 'prog2'));
  const link = path.join(dir, 'link-to-prog');
  fs.symlinkSync('prog', link);
  return { dir, sub, file, link };
}

describe('collectInputs: the directory hook', () => {
  it('is told each directory argument once, and never about anything else', () => {
    const { dir, sub, file, link } = tree();
    const root = new SysRoot('/');
    const told: string[] = [];
    const inputs = collectInputs(root, [file, link, `${dir}/pro?`, sub, path.join(dir, 'missing'), '/dev/null'], '/', (d) => told.push(d));
    expect(told).toEqual([sub]);
    expect(inputs.files).toEqual([file, link, path.join(sub, 'deeper', 'prog2')]);
  });

  it('a run of files alone tells nothing; a directory named twice is told twice, as it is walked twice', () => {
    const { dir, file } = tree();
    const told: string[] = [];
    collectInputs(new SysRoot('/'), [file, file], '/', (d) => told.push(d));
    expect(told).toEqual([]);
    collectInputs(new SysRoot('/'), [dir, 'sub', dir], dir, (d) => told.push(d));
    expect(told).toEqual([dir, path.join(dir, 'sub'), dir]);
  });

  it('analyzeDeps passes ResolveOptions.onDirectoryInput on', () => {
    const { dir, file } = tree();
    const told: string[] = [];
    const graph = analyzeDeps([file, dir], { onDirectoryInput: (d) => told.push(d), detail: 'objects' });
    expect(told).toEqual([dir]);
    expect(graph.inputErrors).toEqual([]);
  });
});

describe('collectInputs: a directory walk', () => {
  /**
   * prog (ELF), to-prog -> prog, loop-a <-> loop-b, dangling -> nothing, a FIFO and a text file, in
   * `dir` under the host path `host`; link targets are written relative, so the tree reads the same as
   * a root of its own.
   */
  function strayLinks(host: string, dir: string): { elf: string[] } {
    const d = path.join(host, dir);
    fs.mkdirSync(d, { recursive: true });
    fs.copyFileSync(ELF, path.join(d, 'prog'));
    fs.symlinkSync('prog', path.join(d, 'to-prog'));
    fs.symlinkSync('loop-b', path.join(d, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(d, 'loop-b'));
    fs.symlinkSync('no-such-file', path.join(d, 'dangling'));
    execFileSync('mkfifo', [path.join(d, 'fifo')]);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'not ELF\n');
    return { elf: [path.posix.join(dir, 'prog'), path.posix.join(dir, 'to-prog')] };
  }

  it('passes over a symlink loop and a dangling link beside the ELF files, which it still lists (the host)', () => {
    const host = tempDir('elfcopy-walk-');
    const { elf } = strayLinks(host, '/');
    const inputs = collectInputs(new SysRoot('/'), [host], '/');
    expect(inputs.errors).toEqual([]);
    expect(inputs.files).toEqual(elf.map((p) => path.join(host, p)));
    const graph = analyzeDeps([host], { detail: 'objects' });
    expect(graph.inputErrors).toEqual([]);
    expect(graph.roots.map((r) => r.path)).toEqual(elf.map((p) => path.join(host, p)));
  });

  it('the same inside a root (--root: the confined walk)', () => {
    const root = tempDir('elfcopy-walk-root-');
    const { elf } = strayLinks(root, '/srv/tree');
    const inputs = collectInputs(new SysRoot(root), ['/srv/tree'], '/');
    expect(inputs.errors).toEqual([]);
    expect(inputs.files).toEqual(elf);
  });

  it('a symlink loop named as an argument is still an error of its own', () => {
    const host = tempDir('elfcopy-walk-named-');
    strayLinks(host, '/');
    const inputs = collectInputs(new SysRoot('/'), [path.join(host, 'loop-a'), path.join(host, 'prog')], '/');
    expect(inputs.files).toEqual([path.join(host, 'prog')]);
    expect(inputs.errors.map((e) => e.message)).toEqual([expect.stringContaining('symlink loop')]);
  });
});

describe('normalizeAbsolute', () => {
  it('is path.posix.normalize on every absolute path, the ones it skips included', () => {
    const parts = ['', '.', '..', '...', 'a', '.a', 'a.', '..a', 'a..', 'a/', '/', '//', 'b.c', ' ', '\n'];
    const seen = new Set<string>();
    // Every absolute path of up to four parts from these pieces, joined with '/'.
    const grow = (prefix: string, depth: number): void => {
      seen.add(prefix);
      if (depth === 4) return;
      for (const p of parts) grow(`${prefix}/${p}`, depth + 1);
    };
    grow('', 0);
    seen.delete('');
    expect(seen.size).toBeGreaterThan(10000);
    for (const p of seen) expect({ p, n: normalizeAbsolute(p) }).toEqual({ p, n: path.posix.normalize(p) });
    for (const p of fs.readdirSync('/usr/bin').slice(0, 200).map((n) => `/usr/bin/${n}`)) expect(normalizeAbsolute(p)).toBe(path.posix.normalize(p));
  });
});
