/**
 * The dynamic symbol table (DT_SYMTAB), located as ld.so locates it, its size taken from DT_HASH's
 * nchain or by walking DT_GNU_HASH's chains (dl-lookup.c) — read only for `verify --symbols`.
 */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { SHN_UNDEF, STB_GLOBAL, STB_GNU_UNIQUE, STB_WEAK } from './constants.js';
import { readDynamicString, type DynamicTags, type StringTable } from './dynamic.js';
import type { FieldReader } from './fields.js';
import { tableOffset, type ProgramHeader } from './program-headers.js';

export interface DynamicSymbol {
  name: string;
  defined: boolean;
  weak: boolean;
}

/** More symbols than any real library exports (libicudata has a handful, libLLVM ~100k). */
export const MAX_SYMBOLS = 2_000_000;


/** Number of entries of DT_SYMTAB: DT_HASH's nchain, or one past the highest index DT_GNU_HASH reaches. */
function symbolCount(src: ByteSource, fields: FieldReader, loads: readonly ProgramHeader[], tags: DynamicTags): number {
  if (tags.hash !== undefined) {
    const at = tableOffset(src, loads, tags.hash, 'DT_HASH', tags.offset, tags.exact?.hash);
    return fields.u32(src.read(at, 8, 'DT_HASH'), 4);
  }
  if (tags.gnuHash === undefined) return 0;
  const at = tableOffset(src, loads, tags.gnuHash, 'DT_GNU_HASH', tags.offset, tags.exact?.gnuHash);
  const head = src.read(at, 16, 'DT_GNU_HASH');
  const nbuckets = fields.u32(head, 0);
  const symoffset = fields.u32(head, 4);
  const bloomSize = fields.u32(head, 8);
  if (nbuckets > MAX_SYMBOLS || bloomSize > MAX_SYMBOLS) throw new ElfFormatError(src.path, 'DT_GNU_HASH', at, 'hash table sizes are out of range');
  const bucketsAt = at + 16 + bloomSize * fields.word;
  const buckets = src.read(bucketsAt, nbuckets * 4, 'DT_GNU_HASH buckets');
  let max = 0;
  for (let i = 0; i < nbuckets; i++) max = Math.max(max, fields.u32(buckets, i * 4));
  if (max < symoffset) return symoffset;
  const chainsAt = bucketsAt + nbuckets * 4;
  // Walk the last chain to its end (the entry with the low bit set).
  for (let i = max; i - symoffset < MAX_SYMBOLS; i++) {
    const v = fields.u32(src.read(chainsAt + (i - symoffset) * 4, 4, 'DT_GNU_HASH chains'), 0);
    if (v & 1) return i + 1;
  }
  throw new ElfFormatError(src.path, 'DT_GNU_HASH', at, 'hash chain does not end');
}

export function readDynamicSymbols(
  src: ByteSource,
  fields: FieldReader,
  loads: readonly ProgramHeader[],
  tags: DynamicTags,
  strings: StringTable,
): DynamicSymbol[] {
  if (tags.symtab === undefined) return [];
  const count = symbolCount(src, fields, loads, tags);
  if (count > MAX_SYMBOLS) throw new ElfFormatError(src.path, 'DT_SYMTAB', tags.offset, `${count} dynamic symbols is more than ${MAX_SYMBOLS}`);
  const at = tableOffset(src, loads, tags.symtab, 'DT_SYMTAB', tags.offset, tags.exact?.symtab);
  const size = fields.elfClass === 64 ? 24 : 16;
  const table = src.read(at, count * size, 'DT_SYMTAB');
  const out: DynamicSymbol[] = [];
  for (let i = 1; i < count; i++) {
    const e = i * size;
    const nameIdx = fields.u32(table, e);
    const info = table.readUInt8(fields.elfClass === 64 ? e + 4 : e + 12);
    const shndx = fields.elfClass === 64 ? fields.u16(table, e + 6) : fields.u16(table, e + 14);
    const bind = info >> 4;
    if (bind !== STB_GLOBAL && bind !== STB_WEAK && bind !== STB_GNU_UNIQUE) continue;
    if (nameIdx === 0) continue;
    out.push({ name: readDynamicString(src, strings, nameIdx, 'st_name'), defined: shndx !== SHN_UNDEF, weak: bind === STB_WEAK });
  }
  return out;
}
