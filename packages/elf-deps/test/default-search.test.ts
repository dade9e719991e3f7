/**
 * A name whose requester has no search path of its own (no DT_RPATH in its chain, no DT_RUNPATH) goes
 * straight to ld.so.cache and the system directories (map-object.ts mapNew) — but only without
 * LD_LIBRARY_PATH, which comes before them for every object. The oracle is the real loader, run with
 * the same LD_LIBRARY_PATH (LD_TRACE_LOADED_OBJECTS=1).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveClosure } from '../src/internal.js';
import { buildExe, buildLib, loaderTrace, resolvedSet } from './helpers/build-fixtures.js';
import { makeTempDir } from './helpers/fixtures.js';

const tmp = fs.realpathSync(makeTempDir('default-search'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a program and libraries without search paths of their own', () => {
  it('LD_LIBRARY_PATH is searched for them, the program and a library it loads, before the system directories', () => {
    const llp = path.join(tmp, 'llp');
    buildLib(llp, 'libr.so');
    buildLib(llp, 'libq.so', { needed: ['libr.so'] });
    const exe = buildExe(path.join(tmp, 'bin'), 'prog', { needed: ['libq.so'] });
    for (const detail of ['full', 'objects'] as const) {
      const g = resolveClosure([exe], { ldLibraryPath: llp, detail });
      const real = loaderTrace(exe, '/lib64/ld-linux-x86-64.so.2', { env: { LD_LIBRARY_PATH: llp } });
      expect(real.status, real.stderr).toBe(0);
      const ours = resolvedSet(g);
      expect({ paths: ours.paths, missing: ours.missing }).toEqual({ paths: real.paths, missing: real.missing });
      expect(real.paths).toContain(path.join(llp, 'libr.so'));
    }
    // Without it both are missing, as for the loader.
    const g = resolveClosure([exe], {});
    expect(resolvedSet(g).missing).toEqual(loaderTrace(exe, '/lib64/ld-linux-x86-64.so.2').missing);
    expect(resolvedSet(g).missing).toEqual(['libq.so']);
  });
});
