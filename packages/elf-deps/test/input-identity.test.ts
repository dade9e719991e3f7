/**
 * Under --list an input that the stat of this run (collectInputs) shows to be a file already read — a
 * hard link, a symbolic link to it — is not opened again (map-object.ts readInput, by device and
 * inode). The oracle is the real loader run on each program (LD_TRACE_LOADED_OBJECTS=1); strace shows
 * which names were opened.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeDeps, resolveClosure, type ClosureGraph } from '../src/internal.js';
import { buildExe, buildLib, loaderTrace } from './helpers/build-fixtures.js';
import { makeTempDir } from './helpers/fixtures.js';

const tmp = fs.realpathSync(makeTempDir('input-identity'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

/**
 * a/bin/p (RUNPATH $ORIGIN/../lib, needs libdep.so), b/bin/p a hard link to it beside another
 * libdep.so (which needs libextra.so beside it), a/bin/plink a symbolic link to it, and a/bin/q: a copy of p of
 * the same size whose DT_NEEDED says libdeq.so (another inode, the same size and mode).
 */
function layout(): { p: string; hard: string; link: string; q: string } {
  const a = path.join(tmp, 'a');
  const b = path.join(tmp, 'b');
  buildLib(path.join(a, 'lib'), 'libdep.so');
  buildLib(path.join(a, 'lib'), 'libdeq.so');
  buildLib(path.join(b, 'lib'), 'libextra.so');
  buildLib(path.join(b, 'lib'), 'libdep.so', { runpath: '$ORIGIN', needed: ['libextra.so'] });
  const p = buildExe(path.join(a, 'bin'), 'p', { runpath: '$ORIGIN/../lib', needed: ['libdep.so'] });
  fs.mkdirSync(path.join(b, 'bin'), { recursive: true });
  const hard = path.join(b, 'bin', 'p');
  fs.linkSync(p, hard);
  const link = path.join(a, 'bin', 'plink');
  fs.symlinkSync('p', link);
  const bytes = fs.readFileSync(p);
  const at = bytes.indexOf(Buffer.from('libdep.so\0'));
  expect(at).toBeGreaterThan(0);
  bytes.write('libdeq.so', at);
  const q = path.join(a, 'bin', 'q');
  fs.writeFileSync(q, bytes, { mode: fs.statSync(p).mode });
  return { p, hard, link, q };
}

/** Each input's objects, as real paths, without the program itself and the interpreter. */
function objectsOf(g: ClosureGraph): Map<string, string[]> {
  return new Map(
    g.roots.map((rc) => [rc.path, rc.objects.filter((o) => o !== rc.path && o !== rc.interpreter).map((o) => fs.realpathSync(o))]),
  );
}

describe('an input already read under another name', () => {
  const files = layout();
  const order = [files.p, files.hard, files.link, files.q];

  it('gets what the real loader maps for it: its own $ORIGIN, its own DT_NEEDED names', () => {
    const listed = analyzeDeps([...order, ...[...order].reverse()], { detail: 'objects' });
    expect(listed.inputErrors).toEqual([]);
    const got = objectsOf(listed);
    for (const f of order) {
      const real = loaderTrace(f, '/lib64/ld-linux-x86-64.so.2');
      expect(real.status, real.stderr).toBe(0);
      expect(got.get(f), f).toEqual(real.paths);
    }
    // The hard link finds b/lib's libraries, q its own name: none took p's closure.
    expect(got.get(files.hard)).toEqual([path.join(tmp, 'b/lib/libdep.so'), expect.stringMatching(/libc\.so\.6$/), path.join(tmp, 'b/lib/libextra.so')]);
    expect(got.get(files.q)?.[0]).toBe(path.join(tmp, 'a/lib/libdeq.so'));
    // And the same as the walk of each without the shortcut (no stat of this run: every input opened).
    expect([...got]).toEqual([...objectsOf(resolveClosure(order, { detail: 'objects' }))]);
  });

  it('is not opened again; a file of the same size but another inode is', () => {
    if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is not installed: CI installs it');
    if (!fs.existsSync(DIST)) throw new Error(`${DIST} is missing: npm test builds it first`);
    const log = path.join(tmp, 'open.log');
    const script = `import { analyzeDeps } from ${JSON.stringify(DIST)};
const g = analyzeDeps(JSON.parse(process.argv[1]), { detail: 'objects' });
if (g.inputErrors.length > 0 || g.roots.length !== 4) process.exit(3);`;
    const r = spawnSync('strace', ['-f', '-qq', '-o', log, '-e', 'trace=open,openat', process.execPath, '--input-type=module', '-e', script, JSON.stringify(order)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const opened = (name: string): number => fs.readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`"${name}"`)).length;
    expect(opened(files.p)).toBe(1);
    expect(opened(files.q)).toBe(1);
    expect(opened(files.hard)).toBe(0);
    expect(opened(files.link)).toBe(0);
  });
});
