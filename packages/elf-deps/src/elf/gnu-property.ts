/**
 * The GNU property note (PT_GNU_PROPERTY, NT_GNU_PROPERTY_TYPE_0), read for the one property ldconfig
 * records: the x86 ISA level a library needs (GNU_PROPERTY_X86_ISA_1_NEEDED).
 */
import type { ByteSource } from '../bytes.js';
import type { FieldReader } from './fields.js';
import type { ProgramHeader } from './program-headers.js';

const PT_GNU_PROPERTY = 0x6474e553;
const NT_GNU_PROPERTY_TYPE_0 = 5;
const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
/** A property note larger than this is not one a linker wrote. */
const MAX_PROPERTY_NOTE = 64 * 1024;

function alignUp(v: number, a: number): number {
  return a > 1 ? Math.ceil(v / a) * a : v;
}

/**
 * readelflib.c (PT_GNU_PROPERTY) with sysdeps/unix/sysv/linux/x86/elf-read-prop.h: the highest bit of
 * GNU_PROPERTY_X86_ISA_1_NEEDED in the first NT_GNU_PROPERTY_TYPE_0 note, 0 when absent or ill-formed.
 */
export function readX86IsaLevel(src: ByteSource, fields: FieldReader, programHeaders: readonly ProgramHeader[]): number {
  const word = fields.word;
  let level = 0;
  for (const ph of programHeaders) {
    if (ph.type !== PT_GNU_PROPERTY || ph.align !== word || ph.filesz > MAX_PROPERTY_NOTE || !src.contains(ph.offset, ph.filesz)) continue;
    const buf = src.read(ph.offset, ph.filesz, 'PT_GNU_PROPERTY');
    const u32 = (at: number): number => (at + 4 <= buf.length ? fields.u32(buf, at) : 0);
    let pos = 0;
    notes: while (pos + 12 < buf.length) {
      const namesz = u32(pos);
      const descsz = u32(pos + 4);
      if (namesz === 4 && u32(pos + 8) === NT_GNU_PROPERTY_TYPE_0 && buf.toString('latin1', pos + 12, pos + 16) === 'GNU\0') {
        if (descsz < 8 || descsz % word !== 0) break;
        let ptr = pos + 16;
        const end = ptr + descsz;
        let lastType = 0;
        do {
          if (ptr + 8 > buf.length) break notes;
          const type = u32(ptr);
          const datasz = u32(ptr + 4);
          if (type < lastType) break notes;
          ptr += 8;
          if (ptr + datasz > end) break notes;
          lastType = type;
          if (type > GNU_PROPERTY_X86_ISA_1_NEEDED) break notes;
          if (type === GNU_PROPERTY_X86_ISA_1_NEEDED) {
            const needed = datasz === 4 ? u32(ptr) : 0;
            if (needed !== 0) level = 31 - Math.clz32(needed);
            break notes;
          }
          ptr += alignUp(datasz, word);
        } while (end - ptr >= 8);
        break;
      }
      pos += alignUp(alignUp(12 + namesz, ph.align) + descsz, ph.align);
    }
  }
  return level;
}
