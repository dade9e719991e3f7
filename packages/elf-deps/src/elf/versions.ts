/**
 * Symbol versioning: DT_VERNEED (which version names each needed file must define) and DT_VERDEF (which
 * version names this file defines). `verify` uses them to catch "version `GLIBC_2.xx' not found" before
 * anything runs.
 */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { VER_FLG_BASE, VER_FLG_WEAK } from './constants.js';
import type { DynamicTags, StringTable } from './dynamic.js';
import { readDynamicString } from './dynamic.js';
import type { FieldReader } from './fields.js';
import { tableOffset, type ProgramHeader } from './program-headers.js';

export interface VersionNeed {
  /** vn_file: the DT_NEEDED name these versions are required from. */
  file: string;
  versions: { name: string; weak: boolean; hash: number }[];
}

export interface VersionDefinition {
  name: string;
  /** VER_FLG_BASE: the entry naming the file itself, not a version. */
  base: boolean;
  index: number;
}

/** More entries than any real file has; protects against next-pointer loops in hostile files. */
const MAX_VERSION_ENTRIES = 100_000;


export function readVersionNeeds(
  src: ByteSource,
  fields: FieldReader,
  loads: readonly ProgramHeader[],
  tags: DynamicTags,
  strings: StringTable,
): VersionNeed[] {
  if (tags.verneed === undefined) return [];
  const out: VersionNeed[] = [];
  let at = tableOffset(src, loads, tags.verneed, 'DT_VERNEED', tags.offset, tags.exact?.verneed);
  const limit = Math.min(tags.verneedNum ?? MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES);
  let total = 0;
  for (let i = 0; i < limit; i++) {
    const vn = src.read(at, 16, 'Elf_Verneed');
    const cnt = fields.u16(vn, 2);
    const file = readDynamicString(src, strings, fields.u32(vn, 4), 'vn_file');
    const aux = fields.u32(vn, 8);
    const next = fields.u32(vn, 12);
    const need: VersionNeed = { file, versions: [] };
    let auxAt = at + aux;
    for (let j = 0; j < cnt; j++) {
      if (++total > MAX_VERSION_ENTRIES) throw new ElfFormatError(src.path, 'Elf_Vernaux', auxAt, 'too many version entries');
      const va = src.read(auxAt, 16, 'Elf_Vernaux');
      const hash = fields.u32(va, 0);
      const flags = fields.u16(va, 4);
      const name = readDynamicString(src, strings, fields.u32(va, 8), 'vna_name');
      need.versions.push({ name, weak: (flags & VER_FLG_WEAK) !== 0, hash });
      const vnaNext = fields.u32(va, 12);
      if (vnaNext === 0) break;
      auxAt += vnaNext;
    }
    out.push(need);
    if (next === 0) break;
    at += next;
  }
  return out;
}

export function readVersionDefinitions(
  src: ByteSource,
  fields: FieldReader,
  loads: readonly ProgramHeader[],
  tags: DynamicTags,
  strings: StringTable,
): VersionDefinition[] {
  if (tags.verdef === undefined) return [];
  const out: VersionDefinition[] = [];
  let at = tableOffset(src, loads, tags.verdef, 'DT_VERDEF', tags.offset, tags.exact?.verdef);
  const limit = Math.min(tags.verdefNum ?? MAX_VERSION_ENTRIES, MAX_VERSION_ENTRIES);
  for (let i = 0; i < limit; i++) {
    const vd = src.read(at, 20, 'Elf_Verdef');
    const flags = fields.u16(vd, 2);
    const index = fields.u16(vd, 4);
    const cnt = fields.u16(vd, 6);
    const aux = fields.u32(vd, 12);
    const next = fields.u32(vd, 16);
    if (cnt > 0) {
      // The first Verdaux names the version; later ones name its parents.
      const vda = src.read(at + aux, 8, 'Elf_Verdaux');
      const name = readDynamicString(src, strings, fields.u32(vda, 0), 'vda_name');
      out.push({ name, base: (flags & VER_FLG_BASE) !== 0, index });
    }
    if (next === 0) break;
    at += next;
  }
  return out;
}
