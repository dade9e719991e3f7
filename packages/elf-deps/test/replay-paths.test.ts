/**
 * Under --list a program with DT_RPATH or DT_RUNPATH is replayed from another input's namespace only
 * when its search paths, as expanded for it, are the same (resolver.ts, templateKeyOf). The oracle is
 * the real loader, run on each program with LD_TRACE_LOADED_OBJECTS=1 from the same working directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveClosure, type ClosureGraph } from '../src/internal.js';
import { buildExe, buildLib, loaderTrace } from './helpers/build-fixtures.js';
import { makeTempDir } from './helpers/fixtures.js';

const tmp = fs.realpathSync(makeTempDir('replay-paths'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const INTERP = '/lib64/ld-linux-x86-64.so.2';

/** Each input's objects (real paths, without itself and the interpreter) and missing names. */
function view(g: ClosureGraph): Map<string, { paths: string[]; missing: string[] }> {
  return new Map(
    g.roots.map((rc) => [
      rc.path,
      {
        paths: rc.objects.filter((o) => o !== rc.path && o !== rc.interpreter).map((o) => fs.realpathSync(path.resolve(tmp, o))),
        missing: rc.missing.map((m) => m.name).sort(),
      },
    ]),
  );
}

describe('a batch under --list, programs with search paths of their own', () => {
  it('a relative RPATH element and the same directory written absolute are two namespaces (a non-directory ends only the relative one)', () => {
    // glibc before 2.39 (open_path): probing lib/libx.so where ./lib is a file fails with ENOTDIR, which
    // ends the search path of a relative element; the same directory written absolute is skipped.
    fs.writeFileSync(path.join(tmp, 'lib'), 'not a directory\n');
    buildLib(path.join(tmp, 'other'), 'libx.so');
    const bin = path.join(tmp, 'bin');
    const relative = buildExe(bin, 'relative', { rpath: `lib:${tmp}/other`, needed: ['libx.so'] });
    const absolute = buildExe(bin, 'absolute', { rpath: `${tmp}/lib:${tmp}/other`, needed: ['libx.so'] });
    const relative2 = buildExe(bin, 'relative2', { rpath: `lib:${tmp}/other`, needed: ['libx.so'] });
    const absolute2 = buildExe(bin, 'absolute2', { rpath: `${tmp}/lib:${tmp}/other`, needed: ['libx.so'] });
    const real = new Map(
      [relative, absolute].map((f) => {
        const run = loaderTrace(f, INTERP, { cwd: tmp });
        return [f, { paths: run.paths, missing: run.missing }];
      }),
    );
    // The two kinds differ for this glibc; where it is 2.39 or later both find libx.so, and then the
    // check below still holds (each program against its own loader run).
    for (const order of [
      [relative, absolute, relative2, absolute2],
      [absolute, relative, absolute2, relative2],
    ]) {
      const listed = view(resolveClosure(order, { detail: 'objects', cwd: tmp }));
      expect(listed.get(relative)).toEqual(real.get(relative));
      expect(listed.get(relative2)).toEqual(real.get(relative));
      expect(listed.get(absolute)).toEqual(real.get(absolute));
      expect(listed.get(absolute2)).toEqual(real.get(absolute));
    }
  });

  it('programs with the same RUNPATH in one directory get their own names as owners of what they tried', () => {
    const lib = path.join(tmp, 'rp', 'lib');
    buildLib(lib, 'liby.so');
    const bin = path.join(tmp, 'rp', 'bin');
    const one = buildExe(bin, 'one', { runpath: '$ORIGIN/../lib', needed: ['liby.so', 'libgone.so'] });
    const two = buildExe(bin, 'two', { runpath: '$ORIGIN/../lib', needed: ['liby.so', 'libgone.so'] });
    const g = resolveClosure([one, two], { detail: 'objects' });
    for (const f of [one, two]) {
      const run = loaderTrace(f, INTERP);
      expect(view(g).get(f)).toEqual({ paths: run.paths, missing: run.missing });
      const rc = g.roots.find((r) => r.path === f);
      const tried = rc?.missing[0]?.tried.filter((t) => t.source.kind === 'runpath');
      expect(tried).toEqual([{ dir: `${bin}/../lib`, source: { kind: 'runpath', owner: f } }]);
      expect(rc?.missing[0]?.neededBy).toEqual([f]);
    }
  });
});
