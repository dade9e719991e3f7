/**
 * readelf (GNU binutils) as the oracle: runs `readelf -h -l -d -V --wide` on many files per call, splits
 * the output at its `File: NAME` lines, and turns each file's text into the fields the ELF reader
 * returns, so that the two can be compared field by field.
 *
 * stderr is merged into stdout by the shell: readelf's error() and warn() flush stdout before they write,
 * so each diagnostic lands inside the section of the file it is about.
 */
import { spawnSync } from 'node:child_process';
import { readelfMachineName, type ElfInfo } from '../../src/index.js';

export interface ReadelfView {
  elfClass?: 32 | 64;
  byteOrder?: 'little' | 'big';
  osAbi?: string;
  /** e_type as a number (from the mnemonic readelf prints first). */
  type?: number;
  /** readelf says "DYN (Position-Independent Executable file)": DF_1_PIE is set. */
  pieType: boolean;
  machine?: string;
  interpreter?: string;
  needed: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  auxiliary: string[];
  filter: string[];
  /**
   * DT_FLAGS and DT_FLAGS_1 turned back into numbers, low 32 bits (what ld.so keeps); undefined when the
   * tag is absent. readelf names DT_FLAGS bits it does not know only as `unknown`: then `flagsUnknown`.
   */
  flags?: number;
  flagsUnknown: boolean;
  flags1?: number;
  verneed: { file: string; versions: { name: string; weak: boolean }[] }[];
  verdef: { index: number; base: boolean; name: string }[];
  /** `readelf: Error: …` and `readelf: Warning: …` lines about this file. */
  errors: string[];
  warnings: string[];
  /** readelf printed `<corrupt: …>` or `Name index:` for a string it could not find. */
  corruptStrings: boolean;
}

const TYPES: Record<string, number> = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 };


/** EI_OSABI as readelf names it (get_osabi_name); an unnamed value it prints as `<unknown: HEX>`. */
export const READELF_OSABI: ReadonlyMap<number, string> = new Map([
  [0, 'UNIX - System V'],
  [3, 'UNIX - GNU'],
  [6, 'UNIX - Solaris'],
  [9, 'UNIX - FreeBSD'],
]);

/** DT_FLAGS bit names (readelf.c: print_dynamic_flags). */
const DF_NAMES: Record<string, number> = { ORIGIN: 0x1, SYMBOLIC: 0x2, TEXTREL: 0x4, BIND_NOW: 0x8, STATIC_TLS: 0x10 };
/** DT_FLAGS_1 bit names, in readelf's order (readelf.c: process_dynamic_section, case DT_FLAGS_1). */
const DF_1_NAMES: Record<string, number> = {
  NOW: 0x1,
  GLOBAL: 0x2,
  GROUP: 0x4,
  NODELETE: 0x8,
  LOADFLTR: 0x10,
  INITFIRST: 0x20,
  NOOPEN: 0x40,
  ORIGIN: 0x80,
  DIRECT: 0x100,
  TRANS: 0x200,
  INTERPOSE: 0x400,
  NODEFLIB: 0x800,
  NODUMP: 0x1000,
  CONFALT: 0x2000,
  ENDFILTEE: 0x4000,
  DISPRELDNE: 0x8000,
  DISPRELPND: 0x10000,
  NODIRECT: 0x20000,
  IGNMULDEF: 0x40000,
  NOKSYMS: 0x80000,
  NOHDR: 0x100000,
  EDITED: 0x200000,
  NORELOC: 0x400000,
  SYMINTPOSE: 0x800000,
  GLOBAUDIT: 0x1000000,
  SINGLETON: 0x2000000,
  STUB: 0x4000000,
  PIE: 0x8000000,
  KMOD: 0x10000000,
  WEAKFILTER: 0x20000000,
  NOCOMMON: 0x40000000,
};

/** Names back to the low 32 bits; a leftover readelf prints in hex is added, a word it could not name is counted. */
function flagsFromNames(words: string[], names: Record<string, number>): { bits: number; unnamed: number } {
  let bits = 0;
  let unnamed = 0;
  for (const word of words) {
    const bit = names[word];
    if (bit !== undefined) bits |= bit;
    else if (/^(0x)?[0-9a-f]+$/i.test(word)) bits |= Number(BigInt(word.startsWith('0x') ? word : `0x${word}`) & 0xffffffffn);
    else unnamed++;
  }
  return { bits: bits >>> 0, unnamed };
}

function freshView(): ReadelfView {
  return { pieType: false, flagsUnknown: false, needed: [], auxiliary: [], filter: [], verneed: [], verdef: [], errors: [], warnings: [], corruptStrings: false };
}

/**
 * Runs readelf over `files` and returns one view per file it printed a section for. readelf 2.40 carries
 * state from a file it complains about into the files after it in the same run (seen: after a file with
 * a bad e_shentsize, no later file shows its version sections), so the files after the first complaint
 * are read again by a fresh readelf.
 */
export function readelfBatch(files: readonly string[]): Map<string, ReadelfView> {
  const r = spawnSync('sh', ['-c', 'exec readelf -h -l -d -V --wide "$@" 2>&1', 'readelf', ...files], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  const views = parseReadelfOutput(r.stdout, files);
  const firstComplaint = files.findIndex((f) => {
    const v = views.get(f);
    return v === undefined || v.errors.length > 0 || v.warnings.length > 0;
  });
  if (firstComplaint >= 0 && firstComplaint < files.length - 1) {
    for (const [k, v] of readelfBatch(files.slice(firstComplaint + 1))) views.set(k, v);
  }
  return views;
}

/** readelf over many files, `batchSize` per process. */
export function readelfViews(files: readonly string[], batchSize = 100): Map<string, ReadelfView> {
  const out = new Map<string, ReadelfView>();
  for (let i = 0; i < files.length; i += batchSize) {
    for (const [k, v] of readelfBatch(files.slice(i, i + batchSize))) out.set(k, v);
  }
  return out;
}

export function parseReadelfOutput(text: string, files: readonly string[]): Map<string, ReadelfView> {
  const views = new Map<string, ReadelfView>();
  const wanted = new Set(files);
  // With one file readelf prints no `File:` line.
  let cur: ReadelfView | undefined;
  if (files.length === 1) {
    cur = freshView();
    views.set(files[0] ?? '', cur);
  }
  let section: 'verneed' | 'verdef' | 'other' = 'other';
  let need: ReadelfView['verneed'][number] | undefined;
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^File: (.*)$/.exec(line)) && wanted.has(m[1] ?? '')) {
      cur = freshView();
      views.set(m[1] ?? '', cur);
      section = 'other';
      need = undefined;
      continue;
    }
    if ((m = /^readelf: (Error|Warning): (.*)$/.exec(line))) {
      // An error about a file readelf could not open names it, and comes before any `File:` line for it.
      const named = files.find((f) => (m?.[2] ?? '').startsWith(`'${f}'`) || (m?.[2] ?? '').startsWith(`${f}:`));
      let target = cur;
      if (named !== undefined && !views.has(named)) {
        target = freshView();
        views.set(named, target);
      }
      if (target) (m[1] === 'Error' ? target.errors : target.warnings).push(m[2] ?? '');
      continue;
    }
    if (!cur) continue;
    if (/<corrupt[:>]|Name index: /.test(line)) cur.corruptStrings = true;
    if ((m = /^\s+Class:\s+ELF(32|64)$/.exec(line))) cur.elfClass = m[1] === '64' ? 64 : 32;
    else if ((m = /^\s+Data:\s+2's complement, (little|big) endian$/.exec(line))) cur.byteOrder = m[1] === 'big' ? 'big' : 'little';
    else if ((m = /^\s+OS\/ABI:\s+(.*)$/.exec(line))) cur.osAbi = (m[1] ?? '').trim();
    else if ((m = /^\s+Type:\s+(.*)$/.exec(line))) {
      const text = m[1] ?? '';
      // `DYN (Shared object file)`, or for other values `<unknown>: e8`, `OS Specific: (fe00)`, `Processor Specific: (ff00)`.
      const hex = /([0-9a-f]+)\)?$/i.exec(text)?.[1];
      cur.type = TYPES[/^\w+/.exec(text)?.[0] ?? ''] ?? (hex !== undefined && /Specific|unknown/.test(text) ? parseInt(hex, 16) : Number.NaN);
      cur.pieType = text.includes('Position-Independent Executable');
    } else if ((m = /^\s+Machine:\s+(.*)$/.exec(line))) cur.machine = (m[1] ?? '').trim();
    else if ((m = /\[Requesting program interpreter: (.*)\]$/.exec(line))) cur.interpreter = m[1];
    else if ((m = /^\s*0x[0-9a-f]+ \((\w+)\)\s+(.*)$/.exec(line))) {
      const [tag, value] = [m[1] ?? '', m[2] ?? ''];
      const bracketed = /\[(.*)\]$/.exec(value)?.[1];
      switch (tag) {
        case 'NEEDED':
          cur.needed.push(bracketed ?? value);
          break;
        case 'SONAME':
          cur.soname = bracketed ?? value;
          break;
        case 'RPATH':
          cur.rpath = bracketed ?? value;
          break;
        case 'RUNPATH':
          cur.runpath = bracketed ?? value;
          break;
        case 'AUXILIARY':
          cur.auxiliary.push(bracketed ?? value);
          break;
        case 'FILTER':
          cur.filter.push(bracketed ?? value);
          break;
        case 'FLAGS': {
          const f = flagsFromNames(value.trim().split(/\s+/).filter(Boolean), DF_NAMES);
          cur.flags = f.bits;
          cur.flagsUnknown = f.unnamed > 0;
          break;
        }
        case 'FLAGS_1':
          cur.flags1 = flagsFromNames(value.replace(/^Flags:/, '').trim().split(/\s+/).filter(Boolean), DF_1_NAMES).bits;
          break;
        default:
          break;
      }
    } else if (/^Version needs section/.test(line)) section = 'verneed';
    else if (/^Version definition section/.test(line)) section = 'verdef';
    else if (/^(Version symbols section|Dynamic section|Program Headers|Section to Segment|ELF Header|There is no)/.test(line)) section = 'other';
    else if (section === 'verneed' && (m = /^\s+\S+: Version: \d+\s+File: (.*?)\s+Cnt: \d+$/.exec(line))) {
      need = { file: m[1] ?? '', versions: [] };
      cur.verneed.push(need);
    } else if (section === 'verneed' && need && (m = /^\s+\S+:\s+Name: (\S+)\s+Flags: (.*?)\s+Version: \d+$/.exec(line))) {
      need.versions.push({ name: m[1] ?? '', weak: /\bWEAK\b/.test(m[2] ?? '') });
    } else if (section === 'verdef' && (m = /^\s+\S+: Rev: \d+\s+Flags: (.*?)\s+Index: (\d+)\s+Cnt: \d+\s+Name: (\S+)$/.exec(line))) {
      cur.verdef.push({ index: Number(m[2]), base: /\bBASE\b/.test(m[1] ?? ''), name: m[3] ?? '' });
    }
  }
  return views;
}

/**
 * Every field the reader and readelf both report, compared; one line per disagreement. Version tables
 * are compared only when the reader was asked for them.
 */
export function compareWithReadelf(file: string, ours: ElfInfo, theirs: ReadelfView): string[] {
  const diffs: string[] = [];
  const eq = (field: string, a: unknown, b: unknown): void => {
    const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
    if (x !== y) diffs.push(`${file}: ${field}: reader ${x}, readelf ${y}`);
  };
  eq('EI_CLASS', ours.elfClass, theirs.elfClass);
  eq('EI_DATA', ours.byteOrder, theirs.byteOrder);
  eq('EI_OSABI', READELF_OSABI.get(ours.osAbi) ?? `<unknown: ${ours.osAbi.toString(16)}>`, theirs.osAbi);
  eq('e_type', ours.type, theirs.type);
  // The name comes from the source's one machine table (src/elf/machines.ts): a value it lacks, or
  // names differently from readelf, is a mismatch here.
  eq('e_machine', readelfMachineName(ours.machine), theirs.machine);
  eq('PT_INTERP', ours.interpreter, theirs.interpreter);
  const d = ours.dynamic;
  eq('DT_NEEDED', d?.needed ?? [], theirs.needed);
  eq('DT_SONAME', d?.soname, theirs.soname);
  eq('DT_RPATH', d?.rpath, theirs.rpath);
  eq('DT_RUNPATH', d?.runpath, theirs.runpath);
  eq('DT_AUXILIARY', d?.auxiliary ?? [], theirs.auxiliary);
  eq('DT_FILTER', d?.filter ?? [], theirs.filter);
  const knownFlags = Object.values(DF_NAMES).reduce((a, b) => a | b, 0);
  eq('DT_FLAGS', ((d?.flags ?? 0) & (theirs.flagsUnknown ? knownFlags : 0xffffffff)) >>> 0, theirs.flags ?? 0);
  eq('DT_FLAGS_1', d?.flags1 ?? 0, theirs.flags1 ?? 0);
  eq('DF_1_PIE', d?.pie ?? false, ((theirs.flags1 ?? 0) & 0x8000000) !== 0);
  eq('DF_1_NODEFLIB', d?.nodeflib ?? false, ((theirs.flags1 ?? 0) & 0x800) !== 0);
  if (ours.type === 3) eq('PIE in e_type', ours.kind === 'pie-executable' || ours.kind === 'static-pie', theirs.pieType);
  if (ours.versionNeeds) {
    eq('DT_VERNEED', ours.versionNeeds.map((n) => ({ file: n.file, versions: n.versions.map((v) => ({ name: v.name, weak: v.weak })) })), theirs.verneed);
  }
  if (ours.versionDefinitions) {
    eq('DT_VERDEF', ours.versionDefinitions.map((v) => ({ index: v.index, base: v.base, name: v.name })), theirs.verdef);
  }
  return diffs;
}
