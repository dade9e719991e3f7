/**
 * The friendly view of one ELF file: what it is, which loader it asks for, and its dynamic information.
 * Reads only the header, the program headers, PT_INTERP, PT_DYNAMIC and the strings those point at.
 */
import { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
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
  /** Only with `{ notes: true }`: sonames declared in `.note.dlopen` (loaded at run time with dlopen). */
  dlopenNotes?: DlopenNote[];
  /** Only with `{ symbols: true }`: global and weak dynamic symbols, defined or not. */
  symbols?: DynamicSymbol[];
  /** Only with `{ versions: true }`. */
  versionNeeds?: VersionNeed[];
  versionDefinitions?: VersionDefinition[];
}

export interface ReadElfOptions {
  /** Also read DT_VERNEED / DT_VERDEF. */
  versions?: boolean;
  /** Also read `.note.dlopen` metadata from PT_NOTE segments. */
  notes?: boolean;
  /** Also read the dynamic symbol table (names, defined or undefined, weak). */
  symbols?: boolean;
  /** Also return the raw program headers and dynamic tags (for callers that read notes or more). */
  raw?: boolean;
  /** What errors call the file (the path as the user sees it); defaults to `hostPath`. */
  displayPath?: string;
}

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
  return bytes.subarray(0, nul >= 0 ? nul : bytes.length).toString('utf8');
}

/** Reads an already-open source. The caller owns (and closes) `src`. */
export function readElfFrom(
  src: ByteSource,
  options: ReadElfOptions = {},
  parsed: { header: ElfHeader; fields: FieldReader } = readHeader(src),
): ElfInfo & { raw?: ElfRaw } {
  const { header, fields } = parsed;
  const phdrs = readProgramHeaders(src, header, fields);
  const loads = phdrs.filter((p) => p.type === PT_LOAD);
  const interpPh = phdrs.find((p) => p.type === PT_INTERP);
  // dl-load.c _dl_map_object_from_fd: each PT_DYNAMIC overwrites l_ld, so the last one counts.
  const dynPh = [...phdrs].reverse().find((p) => p.type === PT_DYNAMIC);
  const interpreter = interpPh ? readInterpreter(src, interpPh) : undefined;

  let dynamic: DynamicInfo | undefined;
  let tags: DynamicTags | undefined;
  let strings: StringTable | undefined;
  if (dynPh) {
    tags = readDynamicTags(src, dynPh, fields);
    const needsStrings = Boolean(options.symbols) || tags.needed.length > 0 || tags.soname !== undefined || tags.rpath !== undefined || tags.runpath !== undefined || tags.auxiliary.length > 0 || tags.filter.length > 0 || tags.verneed !== undefined || tags.verdef !== undefined;
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

  const info: ElfInfo & { raw?: ElfRaw } = {
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
  if (options.versions && tags && strings) {
    info.versionNeeds = readVersionNeeds(src, fields, loads, tags, strings);
    info.versionDefinitions = readVersionDefinitions(src, fields, loads, tags, strings);
  } else if (options.versions) {
    info.versionNeeds = [];
    info.versionDefinitions = [];
  }
  if (options.symbols) info.symbols = tags && strings ? readDynamicSymbols(src, fields, loads, tags, strings) : [];
  if (options.notes) info.dlopenNotes = readDlopenNotes(src, fields, phdrs);
  if (options.raw) {
    const raw: ElfRaw = { header, fields, programHeaders: phdrs };
    if (tags) raw.dynamicTags = tags;
    if (strings) raw.strings = strings;
    info.raw = raw;
  }
  return info;
}

/** Opens, reads and closes one ELF file. Throws UnreadableFileError, NotElfError or ElfFormatError. */
export function readElf(hostPath: string, options: ReadElfOptions = {}): ElfInfo {
  const src = ByteSource.open(hostPath, options.displayPath ?? hostPath);
  try {
    const info = readElfFrom(src, options);
    if (!options.raw) delete info.raw;
    return info;
  } finally {
    src.close();
  }
}

