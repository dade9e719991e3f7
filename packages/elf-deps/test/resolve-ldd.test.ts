/**
 * The resolver against the real loader: `ldd` (which runs ld.so in trace mode — system files only) on
 * every dynamic ELF executable in /usr/bin and /usr/sbin, php-fpm8.2, and every PHP extension. The sets of
 * real paths must agree exactly (minus the vDSO), and so must the names reported missing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Resolver, hasElfMagic, readElf } from '../src/index.js';

interface LddResult {
  paths: Set<string>;
  missing: Set<string>;
}

function listDynamicExecutables(dirs: string[]): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const p = path.join(dir, n);
      const st = fs.lstatSync(p);
      if (!st.isFile() || !hasElfMagic(p)) continue;
      try {
        const info = readElf(p);
        if (info.dynamic && (info.interpreter !== undefined || dir.includes('/php/'))) out.push(p);
      } catch {
        // Malformed files are the reader tests' business.
      }
    }
  }
  return out;
}

/** ldd prints `FILE:` before each file's list when given several files. */
function lddBatch(files: string[]): Map<string, LddResult> {
  const res = spawnSync('ldd', files, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = new Map<string, LddResult>();
  let current: LddResult | undefined;
  for (const line of res.stdout.split('\n')) {
    if (!line.startsWith('\t') && line.endsWith(':')) {
      current = { paths: new Set(), missing: new Set() };
      out.set(line.slice(0, -1), current);
      continue;
    }
    if (!current) continue;
    const t = line.trim();
    let m: RegExpMatchArray | null;
    if ((m = /^(\S+) => not found$/.exec(t))) current.missing.add(m[1]!);
    else if ((m = /^\S+ => (\/\S+) \(0x[0-9a-f]+\)$/.exec(t))) current.paths.add(fs.realpathSync(m[1]!));
    else if ((m = /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(t))) current.paths.add(fs.realpathSync(m[1]!));
  }
  return out;
}

function compareWithLdd(files: string[]): { compared: number; mismatches: string[] } {
  const resolver = new Resolver();
  const mismatches: string[] = [];
  let compared = 0;
  for (let i = 0; i < files.length; i += 200) {
    const batch = files.slice(i, i + 200);
    const ldd = lddBatch(batch);
    const graph = resolver.resolve(batch);
    expect(graph.inputErrors).toEqual([]);
    for (const rc of graph.roots) {
      const expected = ldd.get(rc.path);
      if (!expected) {
        mismatches.push(`${rc.path}: ldd printed nothing for it`);
        continue;
      }
      compared++;
      const ours = new Set(rc.objects.filter((p) => p !== rc.path).map((p) => graph.nodes.get(p)!.realPath));
      const onlyOurs = [...ours].filter((p) => !expected.paths.has(p));
      const onlyLdd = [...expected.paths].filter((p) => !ours.has(p));
      const ourMissing = new Set(rc.missing.map((m) => m.name));
      const missingDiff = [...ourMissing].filter((n) => !expected.missing.has(n)).concat([...expected.missing].filter((n) => !ourMissing.has(n)));
      if (onlyOurs.length || onlyLdd.length || missingDiff.length) {
        mismatches.push(`${rc.path}: only elfcopy ${JSON.stringify(onlyOurs)}, only ldd ${JSON.stringify(onlyLdd)}, missing differs ${JSON.stringify(missingDiff)}`);
      }
    }
  }
  return { compared, mismatches };
}

describe('resolver agrees with ldd (the real loader) on system files', () => {
  it('every dynamic executable in /usr/bin and /usr/sbin', () => {
    const files = listDynamicExecutables(['/usr/bin', '/usr/sbin']);
    expect(files.length).toBeGreaterThan(300);
    const { compared, mismatches } = compareWithLdd(files);
    console.log(`ldd agreement /usr/bin+/usr/sbin: ${compared - mismatches.length}/${compared} executables identical`);
    expect(mismatches).toEqual([]);
    expect(compared).toBe(files.length);
  });

  it('php-fpm8.2, php8.2 and every PHP extension in /usr/lib/php/*/', () => {
    const exts = fs
      .readdirSync('/usr/lib/php')
      .filter((d) => /^\d{8}$/.test(d))
      .map((d) => `/usr/lib/php/${d}`);
    const files = ['/usr/sbin/php-fpm8.2', '/usr/bin/php8.2', ...listDynamicExecutables(exts)];
    for (const f of files.slice(0, 2)) expect(fs.existsSync(f), `${f} must be installed (.ci/run installs php8.2-fpm)`).toBe(true);
    expect(files.length).toBeGreaterThan(10);
    const { compared, mismatches } = compareWithLdd(files);
    console.log(`ldd agreement PHP: ${compared - mismatches.length}/${compared} files identical`);
    expect(mismatches).toEqual([]);
  });
});
