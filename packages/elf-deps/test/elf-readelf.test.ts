/**
 * The ELF reader against readelf (GNU binutils) on every ELF file under /usr, found by magic bytes —
 * multi-hundred-MB CUDA and LLVM libraries included. Per file: class, byte order, OS/ABI, e_type,
 * e_machine, PT_INTERP, DT_NEEDED in order, DT_SONAME, DT_RPATH, DT_RUNPATH, DT_AUXILIARY, DT_FILTER,
 * DT_FLAGS, DT_FLAGS_1 (so the PIE and NODEFLIB bits), the version needs (file and names, weak flag) and
 * the version definitions (index, BASE flag, name). One pass in beforeAll; each test checks one rule.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf, type ElfInfo } from '../src/index.js';
import { countBytesRead, listElfFiles } from './helpers/elf-files.js';
import { makeTempDir, readOutcome } from './helpers/fixtures.js';
import { compareWithReadelf, readelfBatch, type ReadelfView } from './helpers/readelf.js';

const ROOT = '/usr';
const BATCH = 100;

interface Pass {
  files: string[];
  compared: number;
  mismatches: string[];
  /** Files the reader refused while readelf reported no error at all. */
  refusedAlone: string[];
  /** Files both refuse: the reader with a typed error, readelf with `Error:` lines. */
  refusedByBoth: { file: string; ours: string; readelf: string }[];
  /** Files readelf complains about but whose fields the reader still reads, in agreement. */
  readelfOnlyComplaints: number;
  bytesRead: number;
  bytesTotal: number;
  seconds: number;
  /** Compared files for which readelf reported each kind of field: proof the comparison is not vacuous. */
  seen: { interp: number; needed: number; soname: number; rpathOrRunpath: number; verneed: number; verdef: number; elf32: number };
}

let pass: Pass;
const bigDir = makeTempDir('readelf-big');
afterAll(() => fs.rmSync(bigDir, { recursive: true, force: true }));

function runPass(): Pass {
  const t0 = performance.now();
  const files = listElfFiles(ROOT);
  const p: Pass = {
    files,
    compared: 0,
    mismatches: [],
    refusedAlone: [],
    refusedByBoth: [],
    readelfOnlyComplaints: 0,
    bytesRead: 0,
    bytesTotal: 0,
    seconds: 0,
    seen: { interp: 0, needed: 0, soname: 0, rpathOrRunpath: 0, verneed: 0, verdef: 0, elf32: 0 },
  };
  for (let i = 0; i < files.length; i += BATCH) {
    const batch = files.slice(i, i + BATCH);
    const views = readelfBatch(batch);
    for (const file of batch) {
      const view: ReadelfView | undefined = views.get(file);
      // readOutcome rethrows anything that is not an ElfDepsError: an untyped failure fails the whole pass.
      const { value: outcome, bytes } = countBytesRead(() => readOutcome(file, { versions: true }));
      p.bytesRead += bytes;
      p.bytesTotal += fs.statSync(file).size;
      if (!outcome.ok) {
        if (view && view.errors.length > 0) p.refusedByBoth.push({ file, ours: outcome.error.message, readelf: view.errors.join(' | ') });
        else p.refusedAlone.push(`${file}: reader: ${outcome.error.name}: ${outcome.error.message}; readelf: no error`);
        continue;
      }
      if (!view) {
        p.mismatches.push(`${file}: readelf printed no section for it`);
        continue;
      }
      p.compared++;
      if (view.interpreter !== undefined) p.seen.interp++;
      if (view.needed.length > 0) p.seen.needed++;
      if (view.soname !== undefined) p.seen.soname++;
      if (view.rpath !== undefined || view.runpath !== undefined) p.seen.rpathOrRunpath++;
      if (view.verneed.length > 0) p.seen.verneed++;
      if (view.verdef.length > 0) p.seen.verdef++;
      if (view.elfClass === 32) p.seen.elf32++;
      const diffs = compareWithReadelf(file, outcome.info, view);
      p.mismatches.push(...diffs);
      if (view.errors.length > 0 && diffs.length === 0) p.readelfOnlyComplaints++;
    }
  }
  p.seconds = (performance.now() - t0) / 1000;
  return p;
}

describe(`the ELF reader agrees with readelf on every ELF file under ${ROOT}`, () => {
  beforeAll(() => {
    pass = runPass();
    const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
    console.log(
      `readelf agreement: ${pass.files.length} ELF files under ${ROOT}, ${pass.compared} compared, ` +
        `${pass.mismatches.length} mismatches, ${pass.refusedByBoth.length} refused by both (typed), ` +
        `${pass.refusedAlone.length} refused by the reader alone, ${pass.readelfOnlyComplaints} readelf complaints outside the fields read; ` +
        `readelf saw ${JSON.stringify(pass.seen)}; ` +
        `reader read ${mib(pass.bytesRead)} of ${mib(pass.bytesTotal)}; ${pass.seconds.toFixed(1)} s`,
    );
  }, 120_000);

  it('finds thousands of ELF files by magic bytes, CUDA libraries under /usr/local/cuda* included', () => {
    expect(pass.files.length).toBeGreaterThan(2000);
    expect(new Set(pass.files).size).toBe(pass.files.length);
    // .ci/run installs no CUDA: a fresh Debian 12 has none, so the walk must find it only where it is.
    const cuda = fs.readdirSync('/usr/local').some((n) => n.startsWith('cuda'));
    expect(pass.files.some((f) => f.startsWith('/usr/local/cuda'))).toBe(cuda);
  });

  it('every field both report agrees, on every file both can read (100% agreement)', () => {
    expect(pass.compared).toBeGreaterThan(2000);
    expect(pass.mismatches).toEqual([]);
  });

  it('the agreement is not vacuous: readelf reported each kind of field for many of the files compared', () => {
    const { seen } = pass;
    expect(seen.needed).toBeGreaterThan(1000);
    expect(seen.interp).toBeGreaterThan(500);
    expect(seen.soname).toBeGreaterThan(500);
    expect(seen.verneed).toBeGreaterThan(1000);
    expect(seen.verdef).toBeGreaterThan(20);
    expect(seen.rpathOrRunpath).toBeGreaterThan(5);
    expect(seen.elf32).toBeGreaterThan(50);
  });

  it('a file the reader refuses is one readelf reports an error for too, and the refusal is typed', () => {
    // Untyped failures never reach here: readOutcome rethrows them and the pass (beforeAll) fails.
    expect(pass.refusedAlone).toEqual([]);
    for (const r of pass.refusedByBoth) expect(r.ours.length, r.file).toBeGreaterThan(0);
  });

  it('reads a small fraction of the bytes under /usr overall', () => {
    // Headers, program headers, PT_INTERP, PT_DYNAMIC, strings and version tables: a few blocks per file.
    // The fraction depends on the corpus (multi-hundred-MB CUDA libraries lower it): a stock Debian 12
    // /usr gives 21 MiB of 1036 MiB, 2 %. The per-file bound below is the one that does not.
    expect(pass.bytesRead).toBeLessThan(pass.bytesTotal / 25);
    expect(pass.bytesRead / pass.files.length).toBeLessThan(64 * 1024);
  });

  it('never reads a big file whole: the largest files (CUDA libraries included) cost a few KiB each', () => {
    const sized = pass.files.map((f) => ({ f, size: fs.statSync(f).size })).sort((a, b) => b.size - a.size);
    const cudaBiggest = sized.find((s) => s.f.startsWith('/usr/local/cuda'));
    // A machine may have no ELF over 50 MiB under /usr (.ci/run installs none): a sparse 300 MiB one,
    // a real library with a hole after it, is always among the files checked.
    const big = path.join(bigDir, 'libbig.so');
    fs.copyFileSync(fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6'), big);
    fs.truncateSync(big, 300 << 20);
    const picks = [...sized.slice(0, 5), ...(cudaBiggest ? [cudaBiggest] : []), { f: big, size: fs.statSync(big).size }];
    expect(Math.max(...picks.map((p) => p.size))).toBeGreaterThan(50 << 20);
    const report: string[] = [];
    for (const { f, size } of picks) {
      const { value: info, bytes } = countBytesRead((): ElfInfo => readElf(f, { versions: true }));
      report.push(`${f}: ${(size / 1048576).toFixed(0)} MiB, read ${(bytes / 1024).toFixed(0)} KiB`);
      expect(info.elfClass, f).toBeDefined();
      expect(bytes, f).toBeLessThan(1 << 20);
      expect(bytes, f).toBeLessThan(size / 100);
    }
    console.log(`bytes read from the biggest files:\n  ${report.join('\n  ')}`);
  });
});
