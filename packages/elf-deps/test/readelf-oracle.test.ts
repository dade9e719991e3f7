/**
 * The ELF reader against readelf (binutils) on every ELF file under /usr — CUDA libraries of hundreds
 * of MB included: class, byte order, e_type, e_machine, PT_INTERP, DT_NEEDED in order, DT_RPATH,
 * DT_RUNPATH, DT_SONAME, the PIE and NODEFLIB flags, and the version needs and definitions. A file
 * readelf cannot read either must give one of our typed errors.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElfDepsError, hasElfMagic, readElf, type ElfInfo } from '../src/index.js';

interface ReadelfView {
  elfClass?: 32 | 64;
  byteOrder?: 'little' | 'big';
  type?: number;
  machine?: string;
  interpreter?: string;
  needed: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  flags1: string[];
  verneed: Record<string, string[]>;
  verdef: string[];
  errors: string[];
}

const TYPES: Record<string, number> = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 };
const MACHINES: Record<number, string> = {
  3: 'Intel 80386',
  62: 'Advanced Micro Devices X86-64',
  183: 'AArch64',
  40: 'ARM',
  190: 'NVIDIA CUDA architecture',
};

function listElfFiles(dir: string, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listElfFiles(p, out);
    else if (e.isFile() && hasElfMagic(p)) out.push(p);
  }
  return out;
}

function parseReadelf(files: string[]): Map<string, ReadelfView> {
  const r = spawnSync('readelf', ['-h', '-l', '-d', '-V', '--wide', ...files], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const views = new Map<string, ReadelfView>();
  const fresh = (): ReadelfView => ({ needed: [], flags1: [], verneed: {}, verdef: [], errors: [] });
  let cur: ReadelfView | undefined = files.length === 1 ? fresh() : undefined;
  if (cur) views.set(files[0]!, cur);
  let needFile: string | undefined;
  let section: 'verneed' | 'verdef' | undefined;
  for (const line of r.stdout.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^File: (.+)$/.exec(line))) {
      cur = fresh();
      views.set(m[1]!, cur);
      section = undefined;
      continue;
    }
    if (!cur) continue;
    if ((m = /^\s+Class:\s+ELF(32|64)$/.exec(line))) cur.elfClass = Number(m[1]) as 32 | 64;
    else if ((m = /^\s+Data:\s+2's complement, (little|big) endian$/.exec(line))) cur.byteOrder = m[1] as 'little' | 'big';
    else if ((m = /^\s+Type:\s+(\w+)/.exec(line))) cur.type = TYPES[m[1]!];
    else if ((m = /^\s+Machine:\s+(.+)$/.exec(line))) cur.machine = m[1]!.trim();
    else if ((m = /\[Requesting program interpreter: (.*)\]$/.exec(line))) cur.interpreter = m[1]!;
    else if ((m = /\(NEEDED\)\s+Shared library: \[(.*)\]$/.exec(line))) cur.needed.push(m[1]!);
    else if ((m = /\(SONAME\)\s+Library soname: \[(.*)\]$/.exec(line))) cur.soname = m[1]!;
    else if ((m = /\(RPATH\)\s+Library rpath: \[(.*)\]$/.exec(line))) cur.rpath = m[1]!;
    else if ((m = /\(RUNPATH\)\s+Library runpath: \[(.*)\]$/.exec(line))) cur.runpath = m[1]!;
    else if ((m = /\(FLAGS_1\)\s+Flags: (.*)$/.exec(line))) cur.flags1 = m[1]!.trim().split(/\s+/);
    else if (/^Version needs section/.test(line)) section = 'verneed';
    else if (/^Version definition section/.test(line)) section = 'verdef';
    else if (/^Version symbols section/.test(line)) section = undefined;
    else if (section === 'verneed' && (m = /Version: \d+\s+File: (\S+)\s+Cnt:/.exec(line))) {
      needFile = m[1]!;
      cur.verneed[needFile] ??= [];
    } else if (section === 'verneed' && needFile && (m = /^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags:/.exec(line))) cur.verneed[needFile]!.push(m[1]!);
    else if (section === 'verdef' && (m = /Rev: \d+\s+Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)/.exec(line))) {
      if (m[1] !== 'BASE') cur.verdef.push(m[2]!);
    }
  }
  // readelf's errors name no file when several are given: record them against the whole batch.
  if (r.stderr.trim() && files.length === 1) views.get(files[0]!)?.errors.push(r.stderr.trim());
  return views;
}

function compare(file: string, ours: ElfInfo, theirs: ReadelfView): string[] {
  const diffs: string[] = [];
  const eq = (field: string, a: unknown, b: unknown): void => {
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${file}: ${field}: elfcopy ${JSON.stringify(a)} readelf ${JSON.stringify(b)}`);
  };
  eq('class', ours.elfClass, theirs.elfClass);
  eq('byte order', ours.byteOrder, theirs.byteOrder);
  eq('e_type', ours.type, theirs.type);
  eq('machine', MACHINES[ours.machine] ?? `EM ${ours.machine}`, theirs.machine);
  eq('PT_INTERP', ours.interpreter, theirs.interpreter);
  eq('DT_NEEDED', ours.dynamic?.needed ?? [], theirs.needed);
  eq('DT_SONAME', ours.dynamic?.soname, theirs.soname);
  eq('DT_RPATH', ours.dynamic?.rpath, theirs.rpath);
  eq('DT_RUNPATH', ours.dynamic?.runpath, theirs.runpath);
  eq('DF_1_PIE', ours.dynamic?.pie ?? false, theirs.flags1.includes('PIE'));
  eq('DF_1_NODEFLIB', ours.dynamic?.nodeflib ?? false, theirs.flags1.includes('NODEFLIB'));
  const vn: Record<string, string[]> = {};
  for (const n of ours.versionNeeds ?? []) vn[n.file] = n.versions.map((v) => v.name);
  eq('DT_VERNEED', vn, theirs.verneed);
  eq('DT_VERDEF', (ours.versionDefinitions ?? []).filter((d) => !d.base).map((d) => d.name), theirs.verdef);
  return diffs;
}

describe('ELF reader agrees with readelf on every ELF file under /usr', () => {
  it('class, byte order, type, machine, interpreter, needed, rpath, runpath, soname, flags, versions', () => {
    const files = listElfFiles('/usr');
    expect(files.length).toBeGreaterThan(2000);
    const mismatches: string[] = [];
    let compared = 0;
    let typedErrors = 0;
    for (let i = 0; i < files.length; i += 150) {
      const batch = files.slice(i, i + 150);
      const views = parseReadelf(batch);
      for (const f of batch) {
        let ours: ElfInfo;
        try {
          ours = readElf(f, { versions: true });
        } catch (err) {
          // Only a file readelf cannot read either may fail, and only with a typed error.
          expect(err, f).toBeInstanceOf(ElfDepsError);
          const alone = parseReadelf([f]).get(f);
          expect(alone?.errors.length ?? 0, `${f}: elfcopy says ${(err as Error).message} but readelf reads it`).toBeGreaterThan(0);
          typedErrors++;
          continue;
        }
        const theirs = views.get(f);
        if (!theirs) {
          mismatches.push(`${f}: readelf printed nothing`);
          continue;
        }
        compared++;
        mismatches.push(...compare(f, ours, theirs));
      }
    }
    console.log(`readelf agreement: ${compared} files compared, ${mismatches.length} mismatches, ${typedErrors} files both refuse`);
    expect(mismatches).toEqual([]);
  }, 300_000);

  it('reads only the bytes it needs: the largest file under /usr costs a few KiB of RSS, not its size', () => {
    const files = listElfFiles('/usr/lib').concat(listElfFiles('/usr/local'));
    const biggest = files.map((f) => ({ f, size: fs.statSync(f).size })).sort((a, b) => b.size - a.size)[0]!;
    expect(biggest.size).toBeGreaterThan(20 << 20);
    const code = `
      const { readElf } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 20; i++) readElf(${JSON.stringify(biggest.f)}, { versions: true });
      console.log(process.memoryUsage().rss - before);`;
    const r = spawnSync('node', ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const grown = Number(r.stdout.trim());
    console.log(`${biggest.f}: ${(biggest.size / 1048576).toFixed(0)} MiB file, RSS grew ${(grown / 1024).toFixed(0)} KiB over 20 reads`);
    expect(grown).toBeLessThan(Math.min(biggest.size / 10, 16 << 20));
  });
});
