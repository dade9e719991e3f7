/** Program headers (Elf32_Phdr / Elf64_Phdr): the segments ld.so maps, the only view it trusts. */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { PHDR_SIZE, type ElfHeader } from './header.js';
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

export function readProgramHeaders(src: ByteSource, header: ElfHeader, fields: FieldReader): ProgramHeader[] {
  const { phnum, phoff, phentsize } = header;
  if (phnum === 0) return [];
  const minSize = PHDR_SIZE[header.elfClass];
  if (phentsize < minSize) {
    throw new ElfFormatError(src.path, 'e_phentsize', header.elfClass === 64 ? 54 : 42, `e_phentsize is ${phentsize}, smaller than a ${header.elfClass}-bit program header (${minSize})`);
  }
  if (phnum > MAX_PROGRAM_HEADERS) {
    throw new ElfFormatError(src.path, 'e_phnum', phoff, `${phnum} program headers is more than ${MAX_PROGRAM_HEADERS}`);
  }
  if (!src.contains(phoff, phnum * phentsize)) {
    throw new ElfFormatError(src.path, 'e_phoff', phoff, `program header table (${phnum} × ${phentsize} bytes at ${phoff}) extends past the end of the file (${src.size} bytes)`);
  }
  const out: ProgramHeader[] = [];
  for (let first = 0; first < phnum; first += CHUNK_ENTRIES) {
    const count = Math.min(CHUNK_ENTRIES, phnum - first);
    const buf = src.read(phoff + first * phentsize, count * phentsize, 'program header table');
    for (let i = 0; i < count; i++) {
      const at = i * phentsize;
      if (header.elfClass === 64) {
        out.push({
          type: fields.u32(buf, at),
          flags: fields.u32(buf, at + 4),
          offset: fields.u64(buf, at + 8),
          vaddr: fields.u64(buf, at + 16),
          filesz: fields.u64(buf, at + 32),
          memsz: fields.u64(buf, at + 40),
          align: fields.u64(buf, at + 48),
        });
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
 * Translates a virtual address to a file offset through the PT_LOAD segments, as the loader's mapping
 * would place it. Undefined when no segment holds file bytes at that address.
 */
export function vaddrToOffset(loads: readonly ProgramHeader[], vaddr: number): number | undefined {
  for (const seg of loads) {
    if (vaddr >= seg.vaddr && vaddr < seg.vaddr + seg.filesz) return seg.offset + (vaddr - seg.vaddr);
  }
  return undefined;
}
