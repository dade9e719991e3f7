/**
 * Section headers, read only as a fallback: when a dynamic table's addresses do not translate through
 * PT_LOAD (prelinked or hand-made files), the SHT_DYNAMIC section's sh_link names the string table.
 */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError } from '../errors.js';
import { exactWord, headerFieldOffset, hex, SHDR_SIZE, type ElfHeader } from './header.js';
import type { FieldReader } from './fields.js';

export interface SectionHeader {
  index: number;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
}

export const MAX_SECTION_HEADERS = 1 << 18;

export function readSectionHeaders(src: ByteSource, header: ElfHeader, fields: FieldReader): SectionHeader[] {
  const { shoff, shnum, shentsize } = header;
  if (shoff === 0 || shnum === 0) return [];
  const minSize = SHDR_SIZE[header.elfClass];
  if (shentsize < minSize) {
    throw new ElfFormatError(src.path, 'e_shentsize', header.elfClass === 64 ? 58 : 46, `e_shentsize is ${shentsize}, smaller than a section header (${minSize})`);
  }
  if (shnum > MAX_SECTION_HEADERS || !src.contains(shoff, shnum * shentsize)) {
    const at = headerFieldOffset(header.elfClass, 'e_shoff');
    throw new ElfFormatError(src.path, 'e_shoff', at, `section header table (${shnum} × ${shentsize} bytes at ${hex(exactWord(src, header.elfClass, header.byteOrder, at))}) extends past the end of the file (${src.size} bytes)`);
  }
  const out: SectionHeader[] = [];
  const buf = src.read(shoff, shnum * shentsize, 'section header table');
  for (let i = 0; i < shnum; i++) {
    const at = i * shentsize;
    if (header.elfClass === 64) {
      out.push({
        index: i,
        type: fields.u32(buf, at + 4),
        addr: fields.u64(buf, at + 16),
        offset: fields.u64(buf, at + 24),
        size: fields.u64(buf, at + 32),
        link: fields.u32(buf, at + 40),
      });
    } else {
      out.push({
        index: i,
        type: fields.u32(buf, at + 4),
        addr: fields.u32(buf, at + 12),
        offset: fields.u32(buf, at + 16),
        size: fields.u32(buf, at + 20),
        link: fields.u32(buf, at + 24),
      });
    }
  }
  return out;
}
