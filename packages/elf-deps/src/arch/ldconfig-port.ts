/**
 * How one port's ldconfig classifies a library: glibc's readlib.c process_file with the port's
 * readelflib.c process_elf_file and its ldconfig.h SYSDEP_KNOWN_INTERPRETER_NAMES / _LIBRARY_NAMES.
 * Several architectures share one port (x86-64, x32 and i386 use sysdeps/unix/sysv/linux/x86's), so a
 * row of the architecture table names its port instead of carrying the code itself.
 */
import {
  FLAG_AARCH64_LIB64,
  FLAG_ARM_LIBHF,
  FLAG_ARM_LIBSF,
  FLAG_ELF_LIBC5,
  FLAG_ELF_LIBC6,
  FLAG_MIPS64_LIBN32,
  FLAG_MIPS64_LIBN32_NAN2008,
  FLAG_MIPS64_LIBN64,
  FLAG_MIPS64_LIBN64_NAN2008,
  FLAG_MIPS_LIB32_NAN2008,
  FLAG_POWERPC_LIB64,
  FLAG_RISCV_FLOAT_ABI_DOUBLE,
  FLAG_RISCV_FLOAT_ABI_SOFT,
  FLAG_S390_LIB64,
  FLAG_SPARC_LIB64,
  FLAG_X8664_LIB64,
  FLAG_X8664_LIBX32,
} from '../ldcache/flags.js';
import { EM_386, EM_X86_64 } from '../elf/constants.js';
import type { ElfClass } from '../elf/fields.js';

/** What a port's classification reads of an object. */
export interface PortObject {
  elfClass: ElfClass;
  machine: number;
  /** e_flags */
  flags: number;
}

export type PortVerdict = { flag: number } | { skip: string };

export interface LdconfigPort {
  readonly name: 'x86' | 'arm' | 'ppc' | 's390' | 'sparc' | 'riscv' | 'mips' | 'generic';
  /** ldconfig.h SYSDEP_KNOWN_INTERPRETER_NAMES (readlib.c interpreters[] adds nothing on Linux). */
  readonly interpreters: ReadonlyMap<string, number>;
  /** readlib.c known_libs[] with SYSDEP_KNOWN_LIBRARY_NAMES. */
  readonly libs: ReadonlyMap<string, number>;
  /**
   * ldconfig.c is_hwcap_platform (glibc ≤ 2.36): legacy hwcap subdirectory names and their hwcap bit.
   * Only x86's are known here; elsewhere only "tls" is recognised (their names are CPU-feature strings
   * Debian no longer uses).
   */
  readonly hwcapNames: ReadonlyMap<string, bigint>;
  /** readelflib.c reads GNU_PROPERTY_X86_ISA_1_NEEDED for the cache's ISA level (x86 only). */
  readonly readsIsaLevel: boolean;
  /** process_elf_file's first test: why an ldconfig of class `targetClass` leaves the object out, if it does. */
  refuse(obj: PortObject, targetClass: ElfClass): string | undefined;
  /**
   * process_elf_file: the FLAG_* value of an object whose generic type (FLAG_ELF, or what its
   * interpreter and DT_NEEDED names made it) is `generic`, or why it is left out.
   */
  classify(obj: PortObject, generic: number): PortVerdict;
}

const LIBC6_LIBS: ReadonlyMap<string, number> = new Map([
  ['libc.so.6', FLAG_ELF_LIBC6],
  ['libm.so.6', FLAG_ELF_LIBC6],
]);
const NO_HWCAP_NAMES: ReadonlyMap<string, bigint> = new Map();

function interpreters(...paths: string[]): ReadonlyMap<string, number> {
  return new Map(paths.map((p) => [p, FLAG_ELF_LIBC6]));
}

/** The ports without a readelflib.c of their own: only an object of ldconfig's own class is taken. */
function generic(name: LdconfigPort['name'], lib64Flag?: number): LdconfigPort {
  return {
    name,
    interpreters: new Map(),
    libs: LIBC6_LIBS,
    hwcapNames: NO_HWCAP_NAMES,
    readsIsaLevel: false,
    refuse(obj, targetClass) {
      return lib64Flag === undefined && obj.elfClass !== targetClass ? `${obj.elfClass}-bit object` : undefined;
    },
    classify(obj, flag) {
      // sparc64, powerpc64 and s390x readelflib.c: a 64-bit object is tagged, a 32-bit one stays generic.
      return { flag: lib64Flag !== undefined && obj.elfClass === 64 ? lib64Flag | FLAG_ELF_LIBC6 : flag };
    },
  };
}

// sysdeps/x86/dl-hwcap.h as ldconfig sees it (all of i386's and x86-64's names), dl-procinfo.c's platforms.
const X86_HWCAP_NAMES: ReadonlyMap<string, bigint> = new Map([
  ['sse2', 0n],
  ['x86_64', 1n],
  ['avx512_1', 2n],
  ['i586', 48n],
  ['i686', 49n],
  ['haswell', 50n],
  ['xeon_phi', 51n],
]);

export const X86_PORT: LdconfigPort = {
  name: 'x86',
  interpreters: interpreters('/lib/ld-linux.so.2', '/libx32/ld-linux-x32.so.2', '/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-x86-64.so.2'),
  libs: LIBC6_LIBS,
  hwcapNames: X86_HWCAP_NAMES,
  readsIsaLevel: true,
  refuse(obj) {
    // sysdeps/unix/sysv/linux/x86/readelflib.c: x86-64 objects of either class and i386 objects only.
    return obj.machine === EM_X86_64 || (obj.machine === EM_386 && obj.elfClass === 32) ? undefined : `unknown machine ${obj.machine}`;
  },
  classify(obj, flag) {
    if (obj.machine === EM_X86_64) return { flag: (obj.elfClass === 64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32) | FLAG_ELF_LIBC6 };
    return { flag };
  },
};

/** i386's own ldconfig (a native i386 system) also knows libc5. */
export const I386_PORT: LdconfigPort = {
  ...X86_PORT,
  interpreters: new Map([
    ['/lib/ld-linux.so.2', FLAG_ELF_LIBC6],
    ['/lib/ld-linux.so.1', FLAG_ELF_LIBC5],
  ]),
  libs: new Map([...LIBC6_LIBS, ['libc.so.5', FLAG_ELF_LIBC5], ['libm.so.5', FLAG_ELF_LIBC5]]),
};

export const ARM_PORT: LdconfigPort = {
  name: 'arm',
  interpreters: interpreters(
    ...['ld-linux-aarch64.so.1', 'ld-linux-aarch64_be.so.1', 'ld-linux-aarch64_ilp32.so.1', 'ld-linux-aarch64_be_ilp32.so.1', 'ld-linux.so.3', 'ld-linux-armhf.so.3'].map((n) => `/lib/${n}`),
  ),
  libs: LIBC6_LIBS,
  hwcapNames: NO_HWCAP_NAMES,
  readsIsaLevel: false,
  refuse: () => undefined,
  classify(obj, flag) {
    if (obj.elfClass === 64) return { flag: FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6 };
    // arm/readelflib.c, EABI5: EF_ARM_ABI_FLOAT_HARD / _SOFT; unmarked objects suit both.
    if ((obj.flags & 0xff000000) >>> 0 === 0x05000000) {
      return { flag: obj.flags & 0x400 ? FLAG_ARM_LIBHF | FLAG_ELF_LIBC6 : obj.flags & 0x200 ? FLAG_ARM_LIBSF | FLAG_ELF_LIBC6 : FLAG_ELF_LIBC6 };
    }
    return { flag };
  },
};

export const PPC_PORT: LdconfigPort = generic('ppc', FLAG_POWERPC_LIB64);
export const S390_PORT: LdconfigPort = generic('s390', FLAG_S390_LIB64);
export const SPARC_PORT: LdconfigPort = generic('sparc', FLAG_SPARC_LIB64);
export const GENERIC_PORT: LdconfigPort = generic('generic');

export const RISCV_PORT: LdconfigPort = {
  name: 'riscv',
  interpreters: new Map(),
  libs: LIBC6_LIBS,
  hwcapNames: NO_HWCAP_NAMES,
  readsIsaLevel: false,
  refuse: () => undefined,
  classify(obj, flag) {
    // riscv/readelflib.c ORs the float ABI onto the generic type: a library that needs no libc is 0x1001.
    const abi = obj.flags & 0x6;
    if (abi !== 0 && abi !== 0x4) return { skip: 'unsupported RISC-V float ABI' };
    if (obj.flags & ~0x7) return { skip: 'unsupported RISC-V ELF flags' };
    return { flag: flag | (abi === 0 ? FLAG_RISCV_FLOAT_ABI_SOFT : FLAG_RISCV_FLOAT_ABI_DOUBLE) };
  },
};

export const MIPS_PORT: LdconfigPort = {
  name: 'mips',
  interpreters: new Map(),
  libs: LIBC6_LIBS,
  hwcapNames: NO_HWCAP_NAMES,
  readsIsaLevel: false,
  refuse: () => undefined,
  classify(obj, flag) {
    const nan2008 = (obj.flags & 0x400) !== 0;
    if (obj.elfClass === 64) return { flag: (nan2008 ? FLAG_MIPS64_LIBN64_NAN2008 : FLAG_MIPS64_LIBN64) | FLAG_ELF_LIBC6 };
    if (obj.flags & 0x20) return { flag: (nan2008 ? FLAG_MIPS64_LIBN32_NAN2008 : FLAG_MIPS64_LIBN32) | FLAG_ELF_LIBC6 };
    if (nan2008) return { flag: FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6 };
    return { flag };
  },
};
