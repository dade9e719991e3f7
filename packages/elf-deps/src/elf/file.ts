/**
 * The friendly view of one ELF file: what it is, which loader it asks for, and its dynamic information.
 * ElfFile reads the header, the program headers, PT_INTERP, PT_DYNAMIC and the strings those point at
 * when opened; versions, dynamic symbols and notes on first use.
 */
import { ByteSource } from '../bytes.js';
import { ElfFormatError, UnreadableFileError } from '../errors.js';
import {
  DF_1_NODEFLIB,
  DF_1_PIE,
  DF_1_ORIGIN,
  DF_ORIGIN,
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
} from './constants.js';
import { locateStringTable, readDynamicString, readDynamicTags, type DynamicTags, type StringTable } from './dynamic.js';
import type { ByteOrder, ElfClass, FieldReader } from './fields.js';
import { readHeader, type ElfHeader } from './header.js';
import { readProgramHeaders, type ProgramHeader } from './program-headers.js';
import { readDlopenNotes, type DlopenNote } from './notes.js';
import { readDynamicSymbols, type DynamicSymbol } from './symbols.js';
import { readVersionDefinitions, readVersionNeeds, type VersionDefinition, type VersionNeed } from './versions.js';

export type ElfKind =
  | 'executable'
  | 'pie-executable'
  | 'static-executable'
  | 'static-pie'
  | 'shared-library'
  | 'relocatable'
  | 'core'
  | 'other';

export interface DynamicInfo {
  /** DT_NEEDED names in the order the file lists them (the order ld.so loads them). */
  needed: string[];
  soname?: string;
  /** DT_RPATH as written, and split on ':' (empty elements kept: they mean the working directory). */
  rpath?: string;
  rpathList: string[];
  runpath?: string;
  runpathList: string[];
  /** DT_AUXILIARY and DT_FILTER names (filtees ld.so also loads). */
  auxiliary: string[];
  filter: string[];
  flags: number;
  flags1: number;
  /** DF_1_NODEFLIB: ld.so skips ld.so.cache and the system directories for this object's dependencies. */
  nodeflib: boolean;
  /** DF_1_PIE: a position-independent executable. */
  pie: boolean;
  /** DF_ORIGIN / DF_1_ORIGIN. */
  origin: boolean;
}

export interface ElfInfo {
  /** The path as given (under a sysroot: the path inside the root). */
  path: string;
  dev: number;
  ino: number;
  size: number;
  mode: number;
  elfClass: ElfClass;
  byteOrder: ByteOrder;
  osAbi: number;
  abiVersion: number;
  /** e_type */
  type: number;
  machine: number;
  /** e_flags: the ABI details class and machine do not carry (ARM float ABI, RISC-V float ABI, MIPS n32/NaN2008). */
  flags: number;
  kind: ElfKind;
  /** PT_INTERP, when present. */
  interpreter?: string;
  /** Undefined for a file without PT_DYNAMIC (static, relocatable). */
  dynamic?: DynamicInfo;
  /** Only from readElf with `{ notes: true }` (else ElfFile.dlopenNotes()): sonames declared in `.note.dlopen` (loaded at run time with dlopen). */
  dlopenNotes?: DlopenNote[];
  /** Only from readElf with `{ symbols: true }` (else ElfFile.dynamicSymbols()): global and weak dynamic symbols, defined or not. */
  symbols?: DynamicSymbol[];
  /** Only from readElf with `{ versions: true }` (else ElfFile.versionNeeds() / versionDefinitions()). */
  versionNeeds?: VersionNeed[];
  versionDefinitions?: VersionDefinition[];
}

export interface ReadElfOptions {
  /** Also read DT_VERNEED / DT_VERDEF into `versionNeeds` / `versionDefinitions`. */
  versions?: boolean;
  /** Also read `.note.dlopen` metadata from PT_NOTE segments into `dlopenNotes`. */
  notes?: boolean;
  /** Also read the dynamic symbol table (names, defined or undefined, weak) into `symbols`. */
  symbols?: boolean;
  /** What errors call the file (the path as the user sees it); defaults to `hostPath`. */
  displayPath?: string;
}

/** The raw view under the friendly one: what ElfFile parsed on the way (program headers, tags, strings). */
export interface ElfRaw {
  header: ElfHeader;
  fields: FieldReader;
  programHeaders: ProgramHeader[];
  dynamicTags?: DynamicTags;
  strings?: StringTable;
}

export const MAX_INTERP = 4096;

function classify(header: ElfHeader, hasInterp: boolean, dynamic: DynamicInfo | undefined): ElfKind {
  switch (header.type) {
    case ET_EXEC:
      return hasInterp || dynamic ? 'executable' : 'static-executable';
    case ET_DYN:
      if (dynamic?.pie) return hasInterp ? 'pie-executable' : 'static-pie';
      return 'shared-library';
    case ET_REL:
      return 'relocatable';
    case ET_CORE:
      return 'core';
    default:
      return 'other';
  }
}

function splitPath(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(':');
}

function readInterpreter(src: ByteSource, ph: ProgramHeader): string {
  if (ph.filesz === 0) throw new ElfFormatError(src.path, 'PT_INTERP', ph.offset, 'PT_INTERP is empty');
  if (ph.filesz > MAX_INTERP) throw new ElfFormatError(src.path, 'PT_INTERP', ph.offset, `PT_INTERP is ${ph.filesz} bytes, longer than a path can be`);
  const bytes = src.read(ph.offset, ph.filesz, 'PT_INTERP');
  const nul = bytes.indexOf(0);
  return bytes.toString('utf8', 0, nul >= 0 ? nul : bytes.length);
}

/** What ElfFile reads up front: everything the header, the program headers and PT_DYNAMIC say. */
interface Opened {
  info: ElfInfo;
  loads: ProgramHeader[];
  tags: DynamicTags | undefined;
  strings: StringTable | undefined;
}

/**
 * One ELF file, opened once; Go's debug/elf File. Opening reads the header, the program headers, PT_INTERP,
 * PT_DYNAMIC and the strings they name (`info`); every other accessor reads its part on first use and keeps
 * it, so a caller asks for what it needs and no part is parsed twice.
 *
 * A file made with `open` or `using` may be closed early to free its descriptor: a later accessor opens it
 * again for that one read, and refuses a file that changed (another inode or size) in between.
 */
export class ElfFile {
  readonly header: ElfHeader;
  readonly fields: FieldReader;
  readonly programHeaders: ProgramHeader[];
  /** The file's friendly view: kind, interpreter, dynamic information. */
  readonly info: ElfInfo;
  private src: ByteSource | undefined;
  private readonly owned: boolean;
  private readonly reopen: (() => ByteSource) | undefined;
  private readonly loads: ProgramHeader[];
  private readonly tags: DynamicTags | undefined;
  private strtab: StringTable | undefined;
  private strtabLocated: boolean;
  private needs: VersionNeed[] | undefined;
  private definitions: VersionDefinition[] | undefined;
  private symbols: DynamicSymbol[] | undefined;
  private notes: DlopenNote[] | undefined;

  private constructor(src: ByteSource, owned: boolean, reopen: (() => ByteSource) | undefined, parsed: { header: ElfHeader; fields: FieldReader }) {
    this.src = src;
    this.owned = owned;
    this.reopen = reopen;
    this.header = parsed.header;
    this.fields = parsed.fields;
    this.programHeaders = readProgramHeaders(src, parsed.header, parsed.fields);
    const opened = readFront(src, parsed.header, parsed.fields, this.programHeaders);
    this.info = opened.info;
    this.loads = opened.loads;
    this.tags = opened.tags;
    this.strtab = opened.strings;
    this.strtabLocated = opened.strings !== undefined;
  }

  /** Opens a host file. Throws UnreadableFileError, NotElfError or ElfFormatError. */
  static open(hostPath: string, displayPath: string = hostPath): ElfFile {
    return ElfFile.using(() => ByteSource.open(hostPath, displayPath));
  }

  /** Opens the file `open` returns (a SysRoot's in-root open, say), and again whenever it must read after close(). */
  static using(open: () => ByteSource): ElfFile {
    return ElfFile.adopt(open(), readHeader, open);
  }

  /**
   * Takes over an open source whose header the caller has read (and checked), closing it on error; `reopen`
   * reads it again after close().
   */
  static adopt(src: ByteSource, parsed: { header: ElfHeader; fields: FieldReader } | ((src: ByteSource) => { header: ElfHeader; fields: FieldReader }), reopen?: () => ByteSource): ElfFile {
    try {
      return new ElfFile(src, true, reopen, typeof parsed === 'function' ? parsed(src) : parsed);
    } catch (err) {
      src.close();
      throw err;
    }
  }

  /** Reads an already-open source; the caller owns `src` and closes it (close() here only lets go of it). */
  static from(src: ByteSource, parsed: { header: ElfHeader; fields: FieldReader } = readHeader(src)): ElfFile {
    return new ElfFile(src, false, undefined, parsed);
  }

  /** The dynamic information, undefined for a file without PT_DYNAMIC (static, relocatable). */
  dynamic(): DynamicInfo | undefined {
    return this.info.dynamic;
  }

  /** The raw dynamic tags (string tags as offsets), undefined without PT_DYNAMIC. */
  dynamicTags(): DynamicTags | undefined {
    return this.tags;
  }

  /** Where the dynamic string table lies, located on first use (undefined when the file has none). */
  stringTable(): StringTable | undefined {
    if (!this.strtabLocated && this.tags) {
      const tags = this.tags;
      this.strtab = this.withSource((src) => locateStringTable(src, this.header, this.fields, this.loads, tags));
      this.strtabLocated = true;
    }
    return this.strtab;
  }

  /** DT_VERNEED: the versions this file needs, per library. */
  versionNeeds(): VersionNeed[] {
    if (this.needs === undefined) {
      const strings = this.tags?.verneed !== undefined ? this.stringTable() : undefined;
      this.needs = this.readWith((src, tags, table) => readVersionNeeds(src, this.fields, this.loads, tags, table), strings);
    }
    return this.needs;
  }

  /** DT_VERDEF: the versions this file defines. */
  versionDefinitions(): VersionDefinition[] {
    if (this.definitions === undefined) {
      const strings = this.tags?.verdef !== undefined ? this.stringTable() : undefined;
      this.definitions = this.readWith((src, tags, table) => readVersionDefinitions(src, this.fields, this.loads, tags, table), strings);
    }
    return this.definitions;
  }

  /** Global and weak dynamic symbols, defined or not. */
  dynamicSymbols(): DynamicSymbol[] {
    if (this.symbols === undefined) {
      const strings = this.stringTable();
      this.symbols = this.readWith((src, tags, table) => readDynamicSymbols(src, this.fields, this.loads, tags, table), strings);
    }
    return this.symbols;
  }

  /** Sonames declared in `.note.dlopen` (loaded at run time with dlopen). */
  dlopenNotes(): DlopenNote[] {
    if (this.notes === undefined) this.notes = this.withSource((src) => readDlopenNotes(src, this.fields, this.programHeaders));
    return this.notes;
  }

  /** The raw view: header, program headers, dynamic tags and the string table's place (when located so far). */
  raw(): ElfRaw {
    const raw: ElfRaw = { header: this.header, fields: this.fields, programHeaders: this.programHeaders };
    if (this.tags) raw.dynamicTags = this.tags;
    if (this.strtab) raw.strings = this.strtab;
    return raw;
  }

  /** Runs `read` over the file's bytes, for parts ElfFile has no accessor for (a property note). */
  withSource<T>(read: (src: ByteSource) => T): T {
    if (this.src) return read(this.src);
    if (!this.reopen) throw new Error(`ElfFile for ${this.info.path} used after close()`);
    const src = this.reopen();
    try {
      if (src.dev !== this.info.dev || src.ino !== this.info.ino || src.size !== this.info.size) {
        throw new UnreadableFileError(src.path, 'io', 'changed while elfcopy was reading it');
      }
      return read(src);
    } finally {
      src.close();
    }
  }

  /** A table read needing the dynamic tags and the string table; empty without either. */
  private readWith<T>(read: (src: ByteSource, tags: DynamicTags, strings: StringTable) => T[], strings: StringTable | undefined): T[] {
    const tags = this.tags;
    return tags && strings ? this.withSource((src) => read(src, tags, strings)) : [];
  }

  /** `info` with the parts `options` names filled in (readElf's shape). */
  snapshot(options: Omit<ReadElfOptions, 'displayPath'> = {}): ElfInfo {
    // No copy when nothing is added: the resolver asks this of every file it meets.
    if (!options.versions && !options.symbols && !options.notes) return this.info;
    const info: ElfInfo = { ...this.info };
    if (options.versions) {
      info.versionNeeds = this.versionNeeds();
      info.versionDefinitions = this.versionDefinitions();
    }
    if (options.symbols) info.symbols = this.dynamicSymbols();
    if (options.notes) info.dlopenNotes = this.dlopenNotes();
    return info;
  }

  /** Frees the descriptor (when ElfFile owns it); what was read stays readable. */
  close(): void {
    if (this.owned) this.src?.close();
    this.src = undefined;
  }
}

/** The segments readFront looks at: readElfInfo, which keeps nothing else, makes only these. */
const FRONT_SEGMENTS: ReadonlySet<number> = new Set([PT_LOAD, PT_INTERP, PT_DYNAMIC]);

function readFront(src: ByteSource, header: ElfHeader, fields: FieldReader, phdrs: ProgramHeader[]): Opened {
  // One pass, no copies: this runs for every file met.
  const loads: ProgramHeader[] = [];
  let interpPh: ProgramHeader | undefined;
  let dynPh: ProgramHeader | undefined;
  for (let i = 0; i < phdrs.length; i++) {
    const p = phdrs[i] as ProgramHeader;
    if (p.type === PT_LOAD) loads.push(p);
    else if (p.type === PT_INTERP) interpPh ??= p;
    // dl-load.c _dl_map_object_from_fd: each PT_DYNAMIC overwrites l_ld, so the last one counts.
    else if (p.type === PT_DYNAMIC) dynPh = p;
  }
  const interpreter = interpPh ? readInterpreter(src, interpPh) : undefined;

  let dynamic: DynamicInfo | undefined;
  let tags: DynamicTags | undefined;
  let strings: StringTable | undefined;
  if (dynPh) {
    tags = readDynamicTags(src, dynPh, fields);
    const needsStrings = tags.needed.length > 0 || tags.soname !== undefined || tags.rpath !== undefined || tags.runpath !== undefined || tags.auxiliary.length > 0 || tags.filter.length > 0 || tags.verneed !== undefined || tags.verdef !== undefined;
    strings = needsStrings ? locateStringTable(src, header, fields, loads, tags) : undefined;
    const str = (index: number, field: string): string => {
      if (!strings) throw new ElfFormatError(src.path, 'DT_STRTAB', tags?.offset ?? 0, `${field} is present but the file has no dynamic string table`);
      return readDynamicString(src, strings, index, field);
    };
    const rpath = tags.rpath !== undefined ? str(tags.rpath, 'DT_RPATH') : undefined;
    const runpath = tags.runpath !== undefined ? str(tags.runpath, 'DT_RUNPATH') : undefined;
    dynamic = {
      needed: tags.needed.map((i) => str(i, 'DT_NEEDED')),
      rpathList: splitPath(rpath),
      runpathList: splitPath(runpath),
      auxiliary: tags.auxiliary.map((i) => str(i, 'DT_AUXILIARY')),
      filter: tags.filter.map((i) => str(i, 'DT_FILTER')),
      flags: tags.flags,
      flags1: tags.flags1,
      nodeflib: (tags.flags1 & DF_1_NODEFLIB) !== 0,
      pie: (tags.flags1 & DF_1_PIE) !== 0,
      origin: (tags.flags & DF_ORIGIN) !== 0 || (tags.flags1 & DF_1_ORIGIN) !== 0,
    };
    if (tags.soname !== undefined) dynamic.soname = str(tags.soname, 'DT_SONAME');
    if (rpath !== undefined) dynamic.rpath = rpath;
    if (runpath !== undefined) dynamic.runpath = runpath;
  }

  const info: ElfInfo = {
    path: src.path,
    dev: src.dev,
    ino: src.ino,
    size: src.size,
    mode: src.mode,
    elfClass: header.elfClass,
    byteOrder: header.byteOrder,
    osAbi: header.osAbi,
    abiVersion: header.abiVersion,
    type: header.type,
    machine: header.machine,
    flags: header.flags >>> 0,
    kind: classify(header, interpreter !== undefined, dynamic),
  };
  if (interpreter !== undefined) info.interpreter = interpreter;
  if (dynamic) info.dynamic = dynamic;
  return { info, loads, tags, strings };
}

/**
 * ElfFile's opening read alone, for an open source whose header the caller has read: `info` and nothing
 * kept. The resolver's --list path reads thousands of files this way, each once.
 */
export function readElfInfo(src: ByteSource, parsed: { header: ElfHeader; fields: FieldReader }): ElfInfo {
  return readFront(src, parsed.header, parsed.fields, readProgramHeaders(src, parsed.header, parsed.fields, FRONT_SEGMENTS)).info;
}

/** Opens, reads and closes one ELF file: `info` plus what `options` asks for. Throws UnreadableFileError, NotElfError or ElfFormatError. */
export function readElf(hostPath: string, options: ReadElfOptions = {}): ElfInfo {
  const file = ElfFile.open(hostPath, options.displayPath ?? hostPath);
  try {
    return file.snapshot(options);
  } finally {
    file.close();
  }
}
