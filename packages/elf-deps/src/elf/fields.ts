/**
 * Endianness and class as parameters, not copies of the code: a FieldReader decodes the integer widths of
 * one ELF flavour out of a buffer.
 */
import { ELFCLASS64, ELFDATA2MSB } from './constants.js';

export type ElfClass = 32 | 64;
export type ByteOrder = 'little' | 'big';

export class FieldReader {
  readonly elfClass: ElfClass;
  readonly byteOrder: ByteOrder;
  /** Size in bytes of an address / offset / Xword (4 or 8). */
  readonly word: 4 | 8;
  /** Little-endian: decoded from the bytes inline (Buffer's readUInt32LE validates its argument on every call, slow before V8 optimises it). */
  private readonly little: boolean;

  constructor(elfClass: ElfClass, byteOrder: ByteOrder) {
    this.elfClass = elfClass;
    this.byteOrder = byteOrder;
    this.word = elfClass === 64 ? 8 : 4;
    this.little = byteOrder === 'little';
  }

  static fromIdent(eiClass: number, eiData: number): FieldReader {
    return new FieldReader(eiClass === ELFCLASS64 ? 64 : 32, eiData === ELFDATA2MSB ? 'big' : 'little');
  }

  u16(buf: Buffer, at: number): number {
    if (this.little && at >= 0 && at + 2 <= buf.length) return (buf[at] as number) | ((buf[at + 1] as number) << 8);
    return this.byteOrder === 'little' ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
  }

  u32(buf: Buffer, at: number): number {
    if (this.little && at >= 0 && at + 4 <= buf.length) return le32(buf, at);
    return this.byteOrder === 'little' ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
  }

  i32(buf: Buffer, at: number): number {
    return this.byteOrder === 'little' ? buf.readInt32LE(at) : buf.readInt32BE(at);
  }

  /**
   * An unsigned 64-bit value as a number. Exact below 2^53; larger values stay larger than any file
   * size, so every bounds check that uses them fails as it should.
   */
  u64(buf: Buffer, at: number): number {
    if (this.little && at >= 0 && at + 8 <= buf.length) {
      const l = le32(buf, at);
      const h = le32(buf, at + 4);
      return h === 0 ? l : h * 0x1_0000_0000 + l;
    }
    const lo = this.byteOrder === 'little' ? buf.readUInt32LE(at) : buf.readUInt32BE(at + 4);
    const hi = this.byteOrder === 'little' ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at);
    // The common case without the multiplication, whose double result V8 boxes on the heap.
    return hi === 0 ? lo : hi * 0x1_0000_0000 + lo;
  }

  /**
   * An address, offset or Xword exactly, for messages: addr() of an ELF64 value above 2^53 has lost its
   * low bits, and an error must print what the file says.
   */
  addrExact(buf: Buffer, at: number): bigint {
    if (this.word === 4) return BigInt(this.u32(buf, at));
    return this.byteOrder === 'little' ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
  }

  /** An address, offset or Xword: 4 bytes in ELF32, 8 in ELF64. */
  addr(buf: Buffer, at: number): number {
    return this.word === 8 ? this.u64(buf, at) : this.u32(buf, at);
  }

  /**
   * The low 32 bits of an address-sized field, exactly. For fields the loader keeps in an ElfW(Word)
   * (DT_FLAGS, DT_FLAGS_1): addr() of an ELF64 value above 2^53 rounds away low bits.
   */
  low32(buf: Buffer, at: number): number {
    if (this.word === 4) return this.u32(buf, at);
    return this.byteOrder === 'little' ? buf.readUInt32LE(at) : buf.readUInt32BE(at + 4);
  }

  /** A signed d_tag (Elf32_Sword / Elf64_Sxword) reduced to the values tags use. */
  tag(buf: Buffer, at: number): number {
    if (this.word === 4) return this.u32(buf, at);
    if (this.little && at >= 0 && at + 8 <= buf.length) return le32(buf, at + 4) === 0 ? le32(buf, at) : -1;
    const lo = this.byteOrder === 'little' ? buf.readUInt32LE(at) : buf.readUInt32BE(at + 4);
    const hi = this.byteOrder === 'little' ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at);
    // Every tag glibc knows fits in 32 bits; a tag with high bits set is one we do not know.
    return hi === 0 ? lo : -1;
  }
}

/** An unsigned little-endian 32-bit value at `at`, which the caller has checked lies inside `buf`. */
function le32(buf: Buffer, at: number): number {
  return ((buf[at] as number) | ((buf[at + 1] as number) << 8) | ((buf[at + 2] as number) << 16)) + (buf[at + 3] as number) * 0x100_0000;
}
