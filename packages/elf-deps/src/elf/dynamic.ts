/**
 * The dynamic section: PT_DYNAMIC's (d_tag, d_val) array and the strings DT_NEEDED, DT_SONAME, DT_RPATH
 * and DT_RUNPATH point at, located the way ld.so locates them (DT_STRTAB translated through PT_LOAD).
 */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import {
  DT_AUXILIARY,
  DT_FILTER,
  DT_FLAGS,
  DT_FLAGS_1,
  DT_NEEDED,
  DT_NULL,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
  DT_SYMTAB,
  DT_HASH,
  DT_GNU_HASH,
  SHT_DYNAMIC,
} from './constants.js';
import type { FieldReader } from './fields.js';
import { hex, type ElfHeader } from './header.js';
import { vaddrToOffset, type ProgramHeader } from './program-headers.js';
import { readSectionHeaders } from './section-headers.js';

/** The raw tags elfcopy uses, as found in the dynamic array (string tags as string-table offsets). */
export interface DynamicTags {
  needed: number[];
  soname?: number;
  rpath?: number;
  runpath?: number;
  auxiliary: number[];
  filter: number[];
  strtab?: number;
  strsz?: number;
  flags: number;
  flags1: number;
  verneed?: number;
  verneedNum?: number;
  verdef?: number;
  verdefNum?: number;
  symtab?: number;
  hash?: number;
  gnuHash?: number;
  /** File offset of the dynamic array. */
  offset: number;
  /** The address tags whose value is above 2^53, exactly (the numbers above have lost low bits): for messages. */
  exact?: Partial<Record<AddressTag, bigint>>;
}

export type AddressTag = 'strtab' | 'verneed' | 'verdef' | 'symtab' | 'hash' | 'gnuHash';

/** Where the dynamic string table lies in the file. */
export interface StringTable {
  offset: number;
  size: number;
}

/** Longest string elfcopy reads from a string table: longer is a malformed file, not a library name. */
export const MAX_DYNAMIC_STRING = 65536;
const DYN_CHUNK_ENTRIES = 512;

export function readDynamicTags(src: ByteSource, dynamic: ProgramHeader, fields: FieldReader): DynamicTags {
  const entSize = 2 * fields.word;
  if (!src.contains(dynamic.offset, dynamic.filesz)) {
    throw new ElfFormatError(src.path, 'PT_DYNAMIC', dynamic.offset, `dynamic segment (${dynamic.filesz} bytes at ${dynamic.offset}) extends past the end of the file (${src.size} bytes)`);
  }
  const count = Math.floor(dynamic.filesz / entSize);
  const tags: DynamicTags = { needed: [], auxiliary: [], filter: [], flags: 0, flags1: 0, offset: dynamic.offset };
  for (let first = 0; first < count; first += DYN_CHUNK_ENTRIES) {
    const n = Math.min(DYN_CHUNK_ENTRIES, count - first);
    const buf = src.read(dynamic.offset + first * entSize, n * entSize, 'PT_DYNAMIC');
    for (let i = 0; i < n; i++) {
      const tag = fields.tag(buf, i * entSize);
      const valueAt = i * entSize + fields.word;
      const val = fields.addr(buf, valueAt);
      switch (tag) {
        case DT_NULL:
          return tags;
        case DT_NEEDED:
          tags.needed.push(val);
          break;
        case DT_SONAME:
          tags.soname = val;
          break;
        case DT_RPATH:
          tags.rpath = val;
          break;
        case DT_RUNPATH:
          tags.runpath = val;
          break;
        case DT_AUXILIARY:
          tags.auxiliary.push(val);
          break;
        case DT_FILTER:
          tags.filter.push(val);
          break;
        case DT_STRTAB:
          tags.strtab = addressValue(tags, fields, buf, valueAt, val, 'strtab');
          break;
        case DT_STRSZ:
          tags.strsz = val;
          break;
        // get-dynamic-info.h stores d_val into l_flags / l_flags_1, ElfW(Word) in link.h: ld.so sees the low 32 bits.
        case DT_FLAGS:
          tags.flags = fields.low32(buf, i * entSize + fields.word);
          break;
        case DT_FLAGS_1:
          tags.flags1 = fields.low32(buf, i * entSize + fields.word);
          break;
        case DT_VERNEED:
          tags.verneed = addressValue(tags, fields, buf, valueAt, val, 'verneed');
          break;
        case DT_VERNEEDNUM:
          tags.verneedNum = val;
          break;
        case DT_VERDEF:
          tags.verdef = addressValue(tags, fields, buf, valueAt, val, 'verdef');
          break;
        case DT_VERDEFNUM:
          tags.verdefNum = val;
          break;
        case DT_SYMTAB:
          tags.symtab = addressValue(tags, fields, buf, valueAt, val, 'symtab');
          break;
        case DT_HASH:
          tags.hash = addressValue(tags, fields, buf, valueAt, val, 'hash');
          break;
        case DT_GNU_HASH:
          tags.gnuHash = addressValue(tags, fields, buf, valueAt, val, 'gnuHash');
          break;
        default:
          break;
      }
    }
  }
  return tags;
}

/**
 * An address tag's value; above 2^53 the exact value is kept beside it for messages. A function, not a
 * closure made per entry: the loop above runs for every dynamic entry of every file met.
 */
function addressValue(tags: DynamicTags, fields: FieldReader, buf: Buffer, at: number, val: number, key: AddressTag): number {
  if (!Number.isSafeInteger(val)) (tags.exact ??= {})[key] = fields.addrExact(buf, at);
  return val;
}

/**
 * Finds the dynamic string table. ld.so uses DT_STRTAB's address mapped through PT_LOAD; when that does
 * not translate (a hand-made file), the SHT_DYNAMIC section's sh_link names it.
 */
export function locateStringTable(
  src: ByteSource,
  header: ElfHeader,
  fields: FieldReader,
  loads: readonly ProgramHeader[],
  tags: DynamicTags,
): StringTable | undefined {
  if (tags.strtab !== undefined) {
    const offset = vaddrToOffset(loads, tags.strtab);
    if (offset !== undefined) {
      const size = tags.strsz ?? src.size - offset;
      return { offset, size: Math.min(size, src.size - offset) };
    }
  }
  const sections = readSectionHeaders(src, header, fields);
  const dynSection =
    sections.find((s) => s.type === SHT_DYNAMIC && s.offset === tags.offset) ?? sections.find((s) => s.type === SHT_DYNAMIC);
  const strSection = dynSection ? sections[dynSection.link] : undefined;
  if (strSection && strSection.index !== 0 && src.contains(strSection.offset, strSection.size)) {
    return { offset: strSection.offset, size: strSection.size };
  }
  if (tags.strtab !== undefined) {
    throw new ElfFormatError(src.path, 'DT_STRTAB', tags.offset, `DT_STRTAB address ${hex(tags.exact?.strtab ?? tags.strtab)} is in no PT_LOAD segment`);
  }
  return undefined;
}

export function readDynamicString(src: ByteSource, table: StringTable, index: number, field: string): string {
  if (!Number.isSafeInteger(index) || index < 0 || index >= table.size) {
    throw new ElfFormatError(src.path, field, table.offset, `${field} string index ${index} is outside the dynamic string table (${table.size} bytes)`);
  }
  return src.readCString(table.offset + index, Math.min(table.size - index, MAX_DYNAMIC_STRING), field);
}
