/** The ELF file header (Elf32_Ehdr / Elf64_Ehdr), read and checked against the file size. */
import type { ByteSource } from '../bytes.js';
import { ElfFormatError, NotElfError } from '../errors.js';
import { ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, PN_XNUM } from './constants.js';
import { FieldReader, type ByteOrder, type ElfClass } from './fields.js';

export interface ElfIdent {
  elfClass: ElfClass;
  byteOrder: ByteOrder;
  /** EI_VERSION */
  identVersion: number;
  osAbi: number;
  abiVersion: number;
  /** True when the EI_PAD bytes are all zero (ld.so refuses files where they are not). */
  padZero: boolean;
}

export interface ElfHeader extends ElfIdent {
  type: number;
  machine: number;
  version: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  /** The real number of program headers (PN_XNUM resolved through section header 0). */
  phnum: number;
  /** e_phnum was PN_XNUM: `phnum` is section header 0's sh_info. */
  phnumExtended: boolean;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

const MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const EHDR_SIZE: Record<ElfClass, number> = { 32: 52, 64: 64 };
export const PHDR_SIZE: Record<ElfClass, number> = { 32: 32, 64: 56 };
export const SHDR_SIZE: Record<ElfClass, number> = { 32: 40, 64: 64 };

/** Reads e_ident only: enough to tell ELF from not-ELF, and the class and byte order. */
export function readIdent(src: ByteSource): ElfIdent {
  if (src.size === 0) throw new NotElfError(src.path, 'not an ELF file: the file is empty (0 bytes)');
  if (src.size < 16) {
    const head = src.read(0, Math.min(4, src.size), 'e_ident');
    if (head.length === 4 && head.equals(MAGIC)) {
      throw new ElfFormatError(src.path, 'e_ident', 0, `truncated ELF header: the file has only ${src.size} bytes`);
    }
    throw new NotElfError(src.path, 'not an ELF file (no ELF magic)');
  }
  const ident = src.read(0, 16, 'e_ident');
  if (ident[0] !== 0x7f || ident[1] !== 0x45 || ident[2] !== 0x4c || ident[3] !== 0x46) throw new NotElfError(src.path, 'not an ELF file (no ELF magic)');
  const eiClass = ident.readUInt8(4);
  const eiData = ident.readUInt8(5);
  if (eiClass !== ELFCLASS32 && eiClass !== ELFCLASS64) {
    throw new ElfFormatError(src.path, 'e_ident[EI_CLASS]', 4, `invalid ELF class ${eiClass}`);
  }
  if (eiData !== ELFDATA2LSB && eiData !== ELFDATA2MSB) {
    throw new ElfFormatError(src.path, 'e_ident[EI_DATA]', 5, `invalid ELF byte order ${eiData}`);
  }
  let padZero = true;
  for (let i = 9; i < 16; i++) if (ident[i] !== 0) padZero = false;
  return {
    elfClass: eiClass === ELFCLASS64 ? 64 : 32,
    byteOrder: eiData === ELFDATA2MSB ? 'big' : 'little',
    identVersion: ident.readUInt8(6),
    osAbi: ident.readUInt8(7),
    abiVersion: ident.readUInt8(8),
    padZero,
  };
}

/** Where e_phoff and e_phnum sit in the header of this class. */
export function headerFieldOffset(elfClass: ElfClass, field: 'e_phoff' | 'e_shoff' | 'e_phnum' | 'e_phentsize'): number {
  const w = elfClass === 64 ? 8 : 4;
  const afterEntry = 24 + w;
  if (field === 'e_phoff') return afterEntry;
  if (field === 'e_shoff') return afterEntry + w;
  return afterEntry + 2 * w + (field === 'e_phentsize' ? 6 : 8);
}

/**
 * An address-sized field exactly, as a bigint: the numbers the rest of the reader uses round above
 * 2^53, and an error message must show the value the file holds, not its nearest double.
 */
export function exactWord(src: ByteSource, elfClass: ElfClass, byteOrder: ByteOrder, at: number): bigint {
  const b = src.read(at, elfClass === 64 ? 8 : 4, 'Elf_Ehdr');
  if (elfClass === 32) return BigInt(byteOrder === 'little' ? b.readUInt32LE(0) : b.readUInt32BE(0));
  return byteOrder === 'little' ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
}

/** `0x…` for a file offset or size, exact for every value a field can hold. */
export function hex(value: bigint | number): string {
  return `0x${(typeof value === 'bigint' ? value : BigInt(value)).toString(16)}`;
}

export function readHeader(src: ByteSource): { header: ElfHeader; fields: FieldReader } {
  const ident = readIdent(src);
  const fields = new FieldReader(ident.elfClass, ident.byteOrder);
  const size = EHDR_SIZE[ident.elfClass];
  if (src.size < size) {
    throw new ElfFormatError(src.path, 'Elf_Ehdr', 0, `truncated ELF header: ${src.size} bytes, a ${ident.elfClass}-bit header needs ${size}`);
  }
  const b = src.read(0, size, 'Elf_Ehdr');
  const w = fields.word;
  // Offsets of the fields after e_entry shift by the word size.
  const afterEntry = 24 + w;
  // Every field written out: an object spread here made V8 keep each header as a slow dictionary object,
  // which cost ~9 µs per file on every later property read (measured on a closure of /usr/bin).
  const header: ElfHeader = {
    elfClass: ident.elfClass,
    byteOrder: ident.byteOrder,
    identVersion: ident.identVersion,
    osAbi: ident.osAbi,
    abiVersion: ident.abiVersion,
    padZero: ident.padZero,
    type: fields.u16(b, 16),
    machine: fields.u16(b, 18),
    version: fields.u32(b, 20),
    entry: fields.addr(b, 24),
    phoff: fields.addr(b, afterEntry),
    shoff: fields.addr(b, afterEntry + w),
    flags: fields.u32(b, afterEntry + 2 * w),
    ehsize: fields.u16(b, afterEntry + 2 * w + 4),
    phentsize: fields.u16(b, afterEntry + 2 * w + 6),
    phnum: fields.u16(b, afterEntry + 2 * w + 8),
    phnumExtended: false,
    shentsize: fields.u16(b, afterEntry + 2 * w + 10),
    shnum: fields.u16(b, afterEntry + 2 * w + 12),
    shstrndx: fields.u16(b, afterEntry + 2 * w + 14),
  };
  if (header.phnum === PN_XNUM) {
    // gABI: with PN_XNUM the real count is sh_info of section header 0.
    if (header.shoff === 0) {
      throw new ElfFormatError(src.path, 'e_phnum', afterEntry + 2 * w + 8, 'e_phnum is PN_XNUM but there is no section header 0 to hold the count');
    }
    const sh0 = src.read(header.shoff, SHDR_SIZE[ident.elfClass], 'e_shoff (section header 0)');
    const shInfoAt = ident.elfClass === 64 ? 44 : 28;
    header.phnum = fields.u32(sh0, shInfoAt);
    header.phnumExtended = true;
  }
  if (header.shnum === 0 && header.shoff !== 0 && src.contains(header.shoff, SHDR_SIZE[ident.elfClass])) {
    // gABI: e_shnum 0 with a section table means the count is sh_size of section header 0.
    const sh0 = src.read(header.shoff, SHDR_SIZE[ident.elfClass], 'e_shoff (section header 0)');
    const shSizeAt = ident.elfClass === 64 ? 32 : 20;
    header.shnum = fields.addr(sh0, shSizeAt);
  }
  return { header, fields };
}
