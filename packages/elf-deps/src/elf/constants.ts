/** ELF constants from the System V gABI and glibc's <elf.h>, named as there. */

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

export const ELFOSABI_SYSV = 0;
export const ELFOSABI_GNU = 3;

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;

export const PN_XNUM = 0xffff;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;

export const SHT_STRTAB = 3;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_STRTAB = 5;
export const DT_STRSZ = 10;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;
export const DT_AUXILIARY = 0x7ffffffd;
export const DT_FILTER = 0x7fffffff;

export const DF_ORIGIN = 0x1;
export const DF_SYMBOLIC = 0x2;
export const DF_TEXTREL = 0x4;
export const DF_BIND_NOW = 0x8;
export const DF_STATIC_TLS = 0x10;

export const DF_1_NOW = 0x1;
export const DF_1_GLOBAL = 0x2;
export const DF_1_NODELETE = 0x8;
export const DF_1_ORIGIN = 0x80;
export const DF_1_NODEFLIB = 0x800;
export const DF_1_PIE = 0x08000000;

export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;

import { ELF_MACHINES } from './machines.js';

/** e_machine names: readelf's (machines.ts), the one table of them. */
export const MACHINE_NAMES: ReadonlyMap<number, string> = ELF_MACHINES;

export const EM_SPARC = 2;
export const EM_386 = 3;
export const EM_M68K = 4;
export const EM_MIPS = 8;
export const EM_PARISC = 15;
export const EM_SPARC32PLUS = 18;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_LOONGARCH = 258;
export const EM_ALPHA = 0x9026;

export function machineName(machine: number): string {
  return MACHINE_NAMES.get(machine) ?? `e_machine ${machine}`;
}

export const DT_HASH = 4;
export const DT_SYMTAB = 6;
export const DT_GNU_HASH = 0x6ffffef5;
export const SHN_UNDEF = 0;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
