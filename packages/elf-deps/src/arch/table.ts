/**
 * The architecture table: one row per ABI glibc's loader exists for on Debian, holding everything that
 * varies by architecture — the ELF identity (class, machine, byte order, the e_flags that tell ABIs of
 * one machine apart), the loader's path, `$LIB`, the built-in search path, the ld.so.cache flags the
 * loader accepts, the glibc-hwcaps names it knows, the C `char` signedness its cache sort uses, the
 * default AT_PLATFORM, which CPU model decides its hwcaps, and its ldconfig port. Code asks the row; it
 * does not switch on e_machine.
 *
 * Sources (glibc 2.36 as Debian 12 builds it): sysdeps/unix/sysv/linux/<arch>/dl-cache.h (cache flags),
 * sysdeps/<arch>/dl-hwcaps-subdirs.c (glibc-hwcaps names), shlib-versions (loader names), Debian's
 * debian/sysdeps/<arch>.mk (multiarch triplets, slibdir/rtlddir of the biarch packages).
 */
import {
  FLAG_AARCH64_LIB64,
  FLAG_ARM_LIBHF,
  FLAG_ARM_LIBSF,
  FLAG_ELF,
  FLAG_ELF_LIBC6,
  FLAG_IA64_LIB64,
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
import {
  EM_386,
  EM_AARCH64,
  EM_ARM,
  EM_IA_64,
  EM_LOONGARCH,
  EM_MIPS,
  EM_PPC,
  EM_PPC64,
  EM_RISCV,
  EM_S390,
  EM_SPARCV9,
  EM_X86_64,
  machineName,
} from '../elf/constants.js';
import type { ByteOrder, ElfClass } from '../elf/fields.js';
import { ARM_PORT, GENERIC_PORT, I386_PORT, MIPS_PORT, PPC_PORT, RISCV_PORT, S390_PORT, SPARC_PORT, X86_PORT, type LdconfigPort } from './ldconfig-port.js';

/** Which ld.so.cache flags one ld.so accepts (its _dl_cache_check_flags) and which one ends a search at once. */
export interface CacheFlagsRule {
  /** _DL_CACHE_DEFAULT_ID: an accepted, non-hwcaps entry with these flags ends the search. */
  defaultId: number;
  /** Every flags value _dl_cache_check_flags accepts. */
  accepted: readonly number[];
}

/** ABI details the class and machine do not carry. Defaults are Debian's ports (armhf, lp64d, legacy NaN). */
export interface AbiVariant {
  /** ARM soft-float (armel) or RISC-V soft-float ABI. */
  softFloat?: boolean;
  /** MIPS NaN2008 encoding. */
  nan2008?: boolean;
  /** MIPS n32 (a 32-bit class with the 64-bit ISA). */
  mipsN32?: boolean;
}

/** The CPU model that decides hwcaps, `$PLATFORM` and legacy hwcap subdirectories (cpu/x86.ts). */
export type CpuModelKind = 'x86-64' | 'i386';

export interface ArchRow {
  /** Debian's architecture name (dpkg --print-architecture). */
  readonly name: string;
  readonly elfClass: ElfClass;
  readonly machine: number;
  readonly byteOrder: ByteOrder;
  readonly abi: AbiVariant;
  /** True when e_flags say an object is built for this ABI (only where one machine has several). */
  readonly matchesFlags?: (eflags: number) => boolean;
  /** The multiarch triplet. */
  readonly triplet: string;
  /** glibc's loader, as PT_INTERP names it (and ldd's RTLD for a file without PT_INTERP). */
  readonly interpreter: string;
  /** `$LIB` on a multiarch root. */
  readonly lib: string;
  /** The built-in search path after ld.so.cache (rtld_search_dirs) on a multiarch root. */
  readonly systemDirs: readonly string[];
  /**
   * Debian's biarch package of this ABI for another architecture's root (libc6-i386 on amd64: /lib32):
   * used when the root holds its libc at `probe` rather than in the multiarch directory.
   */
  readonly biarch?: { readonly probe: readonly string[]; readonly lib: string; readonly systemDirs: readonly string[] };
  readonly cacheFlags: CacheFlagsRule;
  /** C `char` is unsigned: _dl_cache_libcmp (and ldconfig's sort) compare bytes above 0x7f so. */
  readonly unsignedChar: boolean;
  /** dl-hwcaps-subdirs.c _dl_hwcaps_subdirs: every glibc-hwcaps name this loader knows, best first. */
  readonly hwcapsSubdirs: readonly string[];
  /** AT_PLATFORM (GLRO(dl_platform)) when no CPU model says otherwise. */
  readonly platform: string;
  /** The CPU model that decides active hwcaps, platform and legacy subdirectories; none: only `tls`. */
  readonly cpu?: CpuModelKind;
  /** The ldconfig whose cache this loader reads. */
  readonly port: LdconfigPort;
  /** The OCI image platform (image-spec config.md, after Go's GOARCH/GOARM), where there is one. */
  readonly oci?: { readonly architecture: string; readonly variant?: string };
  /** True for the row made up for a machine the table does not know (see genericArch). */
  readonly generic?: true;
}

const GENERIC_FLAGS: CacheFlagsRule = { defaultId: FLAG_ELF_LIBC6, accepted: [FLAG_ELF, FLAG_ELF_LIBC6] };

function only(id: number): CacheFlagsRule {
  return { defaultId: id, accepted: [id] };
}

function multiarchDirs(triplet: string): { lib: string; systemDirs: string[] } {
  return { lib: `lib/${triplet}`, systemDirs: [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'] };
}

function biarch(dir: string): NonNullable<ArchRow['biarch']> {
  return { probe: [`/${dir}/libc.so.6`, `/usr/${dir}/libc.so.6`], lib: dir, systemDirs: [`/${dir}`, `/usr/${dir}`, '/lib', '/usr/lib'] };
}

type RowSpec = Omit<ArchRow, 'lib' | 'systemDirs' | 'abi'> & { abi?: AbiVariant };

function row(spec: RowSpec): ArchRow {
  return { abi: {}, ...multiarchDirs(spec.triplet), ...spec };
}

// e_flags tests: arm EF_ARM_ABI_FLOAT_HARD (0x400) in an EABI5 object; RISC-V EF_RISCV_FLOAT_ABI
// (bits 1-2: 0 soft, 2 single, 4 double); MIPS EF_MIPS_ABI2 (n32, 0x20) and EF_MIPS_NAN2008 (0x400).
const armHard = (f: number): boolean => (f & 0x400) !== 0;
const riscvDouble = (f: number): boolean => (f & 0x6) === 0x4;
const mipsAbi = (n32: boolean, nan2008: boolean) => (f: number) => ((f & 0x20) !== 0) === n32 && ((f & 0x400) !== 0) === nan2008;

/** One row per ABI; the first row of a machine and class is its default. */
export const ARCH_TABLE: readonly ArchRow[] = [
  row({
    name: 'amd64',
    elfClass: 64,
    machine: EM_X86_64,
    byteOrder: 'little',
    triplet: 'x86_64-linux-gnu',
    interpreter: '/lib64/ld-linux-x86-64.so.2',
    cacheFlags: only(FLAG_X8664_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: ['x86-64-v4', 'x86-64-v3', 'x86-64-v2'],
    platform: 'x86_64',
    cpu: 'x86-64',
    port: X86_PORT,
    oci: { architecture: 'amd64' },
  }),
  row({
    name: 'i386',
    elfClass: 32,
    machine: EM_386,
    byteOrder: 'little',
    triplet: 'i386-linux-gnu',
    interpreter: '/lib/ld-linux.so.2',
    biarch: biarch('lib32'),
    cacheFlags: GENERIC_FLAGS,
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'i686',
    cpu: 'i386',
    port: I386_PORT,
    oci: { architecture: '386' },
  }),
  row({
    name: 'x32',
    elfClass: 32,
    machine: EM_X86_64,
    byteOrder: 'little',
    triplet: 'x86_64-linux-gnux32',
    interpreter: '/libx32/ld-linux-x32.so.2',
    biarch: biarch('libx32'),
    // x32/dl-cache.h redefines the id for the 32-bit class.
    cacheFlags: only(FLAG_X8664_LIBX32 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    // x32 builds sysdeps/x86_64's dl-hwcaps-subdirs.c and cpu-features.c (__x86_64__ is defined).
    hwcapsSubdirs: ['x86-64-v4', 'x86-64-v3', 'x86-64-v2'],
    platform: 'x86_64',
    cpu: 'x86-64',
    port: X86_PORT,
  }),
  row({
    name: 'arm64',
    elfClass: 64,
    machine: EM_AARCH64,
    byteOrder: 'little',
    triplet: 'aarch64-linux-gnu',
    interpreter: '/lib/ld-linux-aarch64.so.1',
    cacheFlags: only(FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'aarch64',
    port: ARM_PORT,
    oci: { architecture: 'arm64', variant: 'v8' },
  }),
  row({
    name: 'armhf',
    elfClass: 32,
    machine: EM_ARM,
    byteOrder: 'little',
    matchesFlags: armHard,
    triplet: 'arm-linux-gnueabihf',
    interpreter: '/lib/ld-linux-armhf.so.3',
    // arm/dl-cache.h accepts unmarked libc6 objects too, and keeps the generic default id.
    cacheFlags: { defaultId: FLAG_ELF_LIBC6, accepted: [FLAG_ARM_LIBHF | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6] },
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'v7l',
    port: ARM_PORT,
    oci: { architecture: 'arm', variant: 'v7' },
  }),
  row({
    name: 'armel',
    elfClass: 32,
    machine: EM_ARM,
    byteOrder: 'little',
    abi: { softFloat: true },
    matchesFlags: (f) => !armHard(f),
    triplet: 'arm-linux-gnueabi',
    interpreter: '/lib/ld-linux.so.3',
    cacheFlags: { defaultId: FLAG_ELF_LIBC6, accepted: [FLAG_ARM_LIBSF | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6] },
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'v5l',
    port: ARM_PORT,
    oci: { architecture: 'arm', variant: 'v5' },
  }),
  row({
    name: 'riscv64',
    elfClass: 64,
    machine: EM_RISCV,
    byteOrder: 'little',
    matchesFlags: riscvDouble,
    triplet: 'riscv64-linux-gnu',
    interpreter: '/lib/ld-linux-riscv64-lp64d.so.1',
    // riscv/dl-cache.h: the float ABI only, the same for both classes.
    cacheFlags: only(FLAG_RISCV_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6),
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'riscv64',
    port: RISCV_PORT,
    oci: { architecture: 'riscv64' },
  }),
  row({
    name: 'riscv64-lp64',
    elfClass: 64,
    machine: EM_RISCV,
    byteOrder: 'little',
    abi: { softFloat: true },
    matchesFlags: (f) => (f & 0x6) === 0,
    triplet: 'riscv64-linux-gnu',
    interpreter: '/lib/ld-linux-riscv64-lp64.so.1',
    cacheFlags: only(FLAG_RISCV_FLOAT_ABI_SOFT | FLAG_ELF_LIBC6),
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'riscv64',
    port: RISCV_PORT,
    oci: { architecture: 'riscv64' },
  }),
  row({
    name: 'ppc64el',
    elfClass: 64,
    machine: EM_PPC64,
    byteOrder: 'little',
    triplet: 'powerpc64le-linux-gnu',
    interpreter: '/lib64/ld64.so.2',
    cacheFlags: only(FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: true,
    // powerpc64/le/dl-hwcaps-subdirs.c
    hwcapsSubdirs: ['power10', 'power9'],
    platform: 'power8',
    port: PPC_PORT,
    oci: { architecture: 'ppc64le' },
  }),
  row({
    name: 'ppc64',
    elfClass: 64,
    machine: EM_PPC64,
    byteOrder: 'big',
    triplet: 'powerpc64-linux-gnu',
    interpreter: '/lib64/ld64.so.1',
    cacheFlags: only(FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'power8',
    port: PPC_PORT,
    oci: { architecture: 'ppc64' },
  }),
  row({
    name: 'powerpc',
    elfClass: 32,
    machine: EM_PPC,
    byteOrder: 'big',
    triplet: 'powerpc-linux-gnu',
    interpreter: '/lib/ld.so.1',
    cacheFlags: GENERIC_FLAGS,
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'ppc',
    port: PPC_PORT,
  }),
  row({
    name: 's390x',
    elfClass: 64,
    machine: EM_S390,
    byteOrder: 'big',
    triplet: 's390x-linux-gnu',
    interpreter: '/lib/ld64.so.1',
    cacheFlags: only(FLAG_S390_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: true,
    // s390/s390-64/dl-hwcaps-subdirs.c
    hwcapsSubdirs: ['z16', 'z15', 'z14', 'z13'],
    platform: 'z900',
    port: S390_PORT,
    oci: { architecture: 's390x' },
  }),
  row({
    name: 's390',
    elfClass: 32,
    machine: EM_S390,
    byteOrder: 'big',
    triplet: 's390-linux-gnu',
    interpreter: '/lib/ld.so.1',
    cacheFlags: GENERIC_FLAGS,
    unsignedChar: true,
    hwcapsSubdirs: [],
    platform: 'z900',
    port: S390_PORT,
  }),
  row({
    name: 'sparc64',
    elfClass: 64,
    machine: EM_SPARCV9,
    byteOrder: 'big',
    triplet: 'sparc64-linux-gnu',
    interpreter: '/lib64/ld-linux.so.2',
    cacheFlags: only(FLAG_SPARC_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'sparcv9',
    port: SPARC_PORT,
  }),
  row({
    name: 'ia64',
    elfClass: 64,
    machine: EM_IA_64,
    byteOrder: 'little',
    triplet: 'ia64-linux-gnu',
    interpreter: '/lib/ld-linux-ia64.so.2',
    cacheFlags: only(FLAG_IA64_LIB64 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'ia64',
    port: GENERIC_PORT,
  }),
  row({
    name: 'mipsel',
    elfClass: 32,
    machine: EM_MIPS,
    byteOrder: 'little',
    matchesFlags: mipsAbi(false, false),
    triplet: 'mipsel-linux-gnu',
    interpreter: '/lib/ld.so.1',
    // Legacy-NaN o32 keeps the generic check.
    cacheFlags: GENERIC_FLAGS,
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'mipsn32el',
    elfClass: 32,
    machine: EM_MIPS,
    byteOrder: 'little',
    abi: { mipsN32: true },
    matchesFlags: mipsAbi(true, false),
    triplet: 'mips64el-linux-gnuabin32',
    interpreter: '/lib32/ld.so.1',
    cacheFlags: only(FLAG_MIPS64_LIBN32 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'mipsr6el',
    elfClass: 32,
    machine: EM_MIPS,
    byteOrder: 'little',
    abi: { nan2008: true },
    matchesFlags: mipsAbi(false, true),
    triplet: 'mipsisa32r6el-linux-gnu',
    interpreter: '/lib/ld-linux-mipsn8.so.1',
    cacheFlags: only(FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'mipsn32r6el',
    elfClass: 32,
    machine: EM_MIPS,
    byteOrder: 'little',
    abi: { mipsN32: true, nan2008: true },
    matchesFlags: mipsAbi(true, true),
    triplet: 'mipsisa64r6el-linux-gnuabin32',
    interpreter: '/lib32/ld-linux-mipsn8.so.1',
    cacheFlags: only(FLAG_MIPS64_LIBN32_NAN2008 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'mips64el',
    elfClass: 64,
    machine: EM_MIPS,
    byteOrder: 'little',
    matchesFlags: (f) => (f & 0x400) === 0,
    triplet: 'mips64el-linux-gnuabi64',
    interpreter: '/lib64/ld.so.1',
    cacheFlags: only(FLAG_MIPS64_LIBN64 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'mips64r6el',
    elfClass: 64,
    machine: EM_MIPS,
    byteOrder: 'little',
    abi: { nan2008: true },
    matchesFlags: (f) => (f & 0x400) !== 0,
    triplet: 'mipsisa64r6el-linux-gnuabi64',
    interpreter: '/lib64/ld-linux-mipsn8.so.1',
    cacheFlags: only(FLAG_MIPS64_LIBN64_NAN2008 | FLAG_ELF_LIBC6),
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'mips',
    port: MIPS_PORT,
  }),
  row({
    name: 'loong64',
    elfClass: 64,
    machine: EM_LOONGARCH,
    byteOrder: 'little',
    triplet: 'loongarch64-linux-gnu',
    interpreter: '/lib64/ld-linux-loongarch-lp64d.so.1',
    cacheFlags: GENERIC_FLAGS,
    unsignedChar: false,
    hwcapsSubdirs: [],
    platform: 'loongarch',
    port: GENERIC_PORT,
  }),
];

/** What picks a row: the ELF identity, and where known the loader asked for and the ABI flags. */
export interface ArchKey {
  elfClass: ElfClass;
  machine: number;
  /** Undefined: any (a cache lookup knows no byte order; only ppc64 and ppc64el differ by it alone). */
  byteOrder?: ByteOrder;
  /** e_flags */
  flags?: number;
  /** PT_INTERP */
  interpreter?: string;
}

const genericRows = new Map<string, ArchRow>();

/**
 * The row for a machine the table does not know: glibc's generic rules (sysdeps/generic dl-cache.h:
 * FLAG_ELF or FLAG_ELF_LIBC6; no glibc-hwcaps; a signed `char`), a non-multiarch layout.
 */
export function genericArch(elfClass: ElfClass, machine: number, byteOrder: ByteOrder): ArchRow {
  const key = `${elfClass}\0${machine}\0${byteOrder}`;
  let r = genericRows.get(key);
  if (!r) {
    r = {
      name: `generic-${machine}-${elfClass}${byteOrder === 'big' ? 'be' : 'le'}`,
      elfClass,
      machine,
      byteOrder,
      abi: {},
      triplet: '',
      interpreter: elfClass === 64 ? '/lib64/ld.so' : '/lib/ld.so',
      lib: elfClass === 64 ? 'lib64' : 'lib',
      systemDirs: elfClass === 64 ? ['/lib64', '/usr/lib64', '/lib', '/usr/lib'] : ['/lib', '/usr/lib'],
      cacheFlags: GENERIC_FLAGS,
      unsignedChar: false,
      hwcapsSubdirs: [],
      platform: '',
      port: GENERIC_PORT,
      generic: true,
    };
    genericRows.set(key, r);
  }
  return r;
}

/** One line naming the rules a generic row assumes (the warning for an unknown e_machine). */
export function describeGenericRules(arch: ArchRow): string {
  return (
    `${machineName(arch.machine)} (e_machine ${arch.machine}, ELF${arch.elfClass} ${arch.byteOrder}-endian) is not in the architecture table: ` +
    `generic glibc rules assumed ($LIB=${arch.lib}, system directories ${arch.systemDirs.join(':')}, ld.so.cache flags libc6 or ELF, no hwcaps, signed char)`
  );
}

let byMachine: Map<number, ArchRow[]> | undefined;

/** The table's rows for one e_machine, indexed on first use: every file a run reads asks for its row. */
function rowsOfMachine(machine: number): readonly ArchRow[] {
  if (!byMachine) {
    byMachine = new Map();
    for (const r of ARCH_TABLE) {
      const rows = byMachine.get(r.machine);
      if (rows) rows.push(r);
      else byMachine.set(r.machine, [r]);
    }
  }
  return byMachine.get(machine) ?? [];
}

function sameLoader(a: string, b: string): boolean {
  return a === b || a.slice(a.lastIndexOf('/')) === b.slice(b.lastIndexOf('/'));
}

/**
 * The row for a file: among the rows of its class and machine (and byte order), the one whose loader
 * its PT_INTERP names, else the one its e_flags fit, else the first. A machine the table lacks gets
 * genericArch's row.
 */
export function archFor(key: ArchKey): ArchRow {
  const order = key.byteOrder;
  const same = rowsOfMachine(key.machine).filter((r) => r.elfClass === key.elfClass && (order === undefined || r.byteOrder === order));
  const fallback = (): ArchRow => genericArch(key.elfClass, key.machine, order ?? 'little');
  if (same.length === 0) return fallback();
  if (same.length === 1) return same[0] ?? fallback();
  const interp = key.interpreter;
  const byInterp = interp === undefined ? undefined : (same.find((r) => r.interpreter === interp) ?? same.find((r) => sameLoader(r.interpreter, interp)));
  if (byInterp) return byInterp;
  const flags = key.flags;
  const byFlags = flags === undefined ? undefined : same.find((r) => r.matchesFlags?.(flags) ?? false);
  return byFlags ?? same[0] ?? fallback();
}

/** The row a loader description names: its own `arch` when it has one (LoaderTarget does), else archFor's. */
export function archOfLoader(t: { arch?: ArchRow; elfClass: ElfClass; machine: number; interpreter?: string; byteOrder?: ByteOrder }): ArchRow {
  if (t.arch) return t.arch;
  const key: ArchKey = { elfClass: t.elfClass, machine: t.machine };
  if (t.interpreter !== undefined) key.interpreter = t.interpreter;
  if (t.byteOrder !== undefined) key.byteOrder = t.byteOrder;
  return archFor(key);
}

/**
 * The cache flags the ld.so for this class, machine and ABI accepts: the row's, or the generic rule
 * (FLAG_ELF or FLAG_ELF_LIBC6) for ABIs without a dl-cache.h of their own.
 */
export function cacheFlagsFor(elfClass: ElfClass, machine: number, variant: AbiVariant = {}): CacheFlagsRule {
  const want = (v: AbiVariant): string => `${v.softFloat === true}${v.nan2008 === true}${v.mipsN32 === true}`;
  const r = ARCH_TABLE.find((x) => x.machine === machine && x.elfClass === elfClass && want(x.abi) === want(variant));
  return r?.cacheFlags ?? GENERIC_FLAGS;
}
