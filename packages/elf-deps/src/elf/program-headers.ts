/** Program headers (Elf32_Phdr / Elf64_Phdr): the segments ld.so maps, the only view it trusts. */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { ET_DYN, ET_EXEC, PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_NOTE } from './constants.js';
import { exactWord, headerFieldOffset, hex, PHDR_SIZE, type ElfHeader } from './header.js';
import type { FieldReader } from './fields.js';

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

/** More program headers than any linker writes; a count above it is a malformed (or hostile) file. */
export const MAX_PROGRAM_HEADERS = 65536;
const CHUNK_ENTRIES = 256;

/** The segments whose file bytes are read (here or by the loader): their offset and size must be exact. */
const READ_SEGMENTS: ReadonlyMap<number, string> = new Map([
  [PT_LOAD, 'PT_LOAD'],
  [PT_DYNAMIC, 'PT_DYNAMIC'],
  [PT_INTERP, 'PT_INTERP'],
  [PT_NOTE, 'PT_NOTE'],
]);

/**
 * The program headers, in file order. With `only`, just the entries of those types are made (the rest
 * are still checked as they would be): a reader that needs three kinds of thirteen allocates no more.
 */
export function readProgramHeaders(src: ByteSource, header: ElfHeader, fields: FieldReader, only?: ReadonlySet<number>): ProgramHeader[] {
  const { phnum, phoff, phentsize } = header;
  if (phnum === 0) {
    // The kernel's load_elf_binary and ld.so's _dl_map_object_from_fd ("object file has no loadable
    // segments") refuse an executable or library without program headers; a relocatable object or a
    // core file may have none.
    if (header.type === ET_EXEC || header.type === ET_DYN) {
      const why = header.phnumExtended ? "e_phnum is PN_XNUM and section header 0's sh_info is 0" : 'e_phnum is 0';
      throw new ElfFormatError(src.path, 'e_phnum', headerFieldOffset(header.elfClass, 'e_phnum'), `not loadable: ${why}, so the file has no program headers`);
    }
    return [];
  }
  const minSize = PHDR_SIZE[header.elfClass];
  if (phentsize < minSize) {
    throw new ElfFormatError(src.path, 'e_phentsize', headerFieldOffset(header.elfClass, 'e_phentsize'), `e_phentsize is ${phentsize}, smaller than a ${header.elfClass}-bit program header (${minSize})`);
  }
  if (phnum > MAX_PROGRAM_HEADERS) {
    throw new ElfFormatError(src.path, 'e_phnum', headerFieldOffset(header.elfClass, 'e_phnum'), `${phnum} program headers is more than ${MAX_PROGRAM_HEADERS}`);
  }
  if (!src.contains(phoff, phnum * phentsize)) {
    // e_phoff as the file holds it: above 2^53 the number in the header is only its nearest double.
    const at = headerFieldOffset(header.elfClass, 'e_phoff');
    const exact = exactWord(src, header.elfClass, header.byteOrder, at);
    throw new ElfFormatError(src.path, 'e_phoff', at, `program header table (${phnum} × ${phentsize} bytes at ${hex(exact)}) extends past the end of the file (${src.size} bytes)`);
  }
  const out: ProgramHeader[] = [];
  for (let first = 0; first < phnum; first += CHUNK_ENTRIES) {
    const count = Math.min(CHUNK_ENTRIES, phnum - first);
    const tableAt = phoff + first * phentsize;
    const buf = src.read(tableAt, count * phentsize, 'program header table');
    for (let i = 0; i < count; i++) {
      const at = i * phentsize;
      if (only && !only.has(fields.u32(buf, at))) {
        if (header.elfClass === 64 && READ_SEGMENTS.has(fields.u32(buf, at))) {
          const offset = fields.u64(buf, at + 8);
          const filesz = fields.u64(buf, at + 32);
          if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(filesz)) {
            checkExact(src, header, { type: fields.u32(buf, at), flags: 0, offset, vaddr: 0, filesz, memsz: 0, align: 0 }, tableAt + at);
          }
        }
        continue;
      }
      if (header.elfClass === 64) {
        const ph: ProgramHeader = {
          type: fields.u32(buf, at),
          flags: fields.u32(buf, at + 4),
          offset: fields.u64(buf, at + 8),
          vaddr: fields.u64(buf, at + 16),
          filesz: fields.u64(buf, at + 32),
          memsz: fields.u64(buf, at + 40),
          align: fields.u64(buf, at + 48),
        };
        if (!Number.isSafeInteger(ph.offset) || !Number.isSafeInteger(ph.filesz)) checkExact(src, header, ph, tableAt + at);
        out.push(ph);
      } else {
        out.push({
          type: fields.u32(buf, at),
          offset: fields.u32(buf, at + 4),
          vaddr: fields.u32(buf, at + 8),
          filesz: fields.u32(buf, at + 16),
          memsz: fields.u32(buf, at + 20),
          flags: fields.u32(buf, at + 24),
          align: fields.u32(buf, at + 28),
        });
      }
    }
  }
  return out;
}

/**
 * An ELF64 segment that is read from the file with an offset or size above 2^53 lies past the end of
 * any file (and the loader's mmap fails on it): refused here, at the boundary, with the exact value, so
 * that nothing later computes or prints with a rounded one.
 */
function checkExact(src: ByteSource, header: ElfHeader, ph: ProgramHeader, entryAt: number): void {
  const name = READ_SEGMENTS.get(ph.type);
  if (name === undefined) return;
  for (const [field, rel, value] of [['p_offset', 8, ph.offset], ['p_filesz', 32, ph.filesz]] as const) {
    if (Number.isSafeInteger(value)) continue;
    const exact = exactWord(src, 64, header.byteOrder, entryAt + rel);
    throw new ElfFormatError(src.path, `${name} ${field}`, entryAt + rel, `${name} ${field} is ${hex(exact)}, past the end of the file (${src.size} bytes)`);
  }
}

/**
 * Translates a virtual address to a file offset through the PT_LOAD segments, as the loader's mapping
 * would place it. Undefined when no segment holds file bytes at that address.
 */
export function vaddrToOffset(loads: readonly ProgramHeader[], vaddr: number): number | undefined {
  for (let i = 0; i < loads.length; i++) {
    const seg = loads[i] as ProgramHeader;
    if (vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz) return seg.offset + (vaddr - seg.vaddr);
  }
  return undefined;
}

/**
 * vaddrToOffset for a table a dynamic tag points at, or an ElfFormatError naming the tag; `exact` is the
 * tag's value when it is above 2^53 (DynamicTags.exact), so the message prints what the file says.
 */
export function tableOffset(src: ByteSource, loads: readonly ProgramHeader[], vaddr: number, field: string, at: number, exact?: bigint): number {
  const off = vaddrToOffset(loads, vaddr);
  if (off === undefined) throw new ElfFormatError(src.path, field, at, `${field} address ${hex(exact ?? vaddr)} is in no PT_LOAD segment`);
  return off;
}
