/**
 * musl's ldso/dynlink.c as a loader family: a program whose PT_INTERP is `ld-musl-ARCH.so.1`, or a
 * library that needs musl's libc (`libc.so`, Alpine's `libc.musl-ARCH.so.1`). Its search rules are in
 * musl-search.ts, its system path in musl-path-file.ts.
 */
import * as path from 'node:path';
import type { ArchRow } from '../arch/table.js';
import type { FamilyContext, LoaderFamily, LoaderTarget } from './family.js';
import { MuslSearch } from './musl-search.js';
import { MUSL_DEFAULT_PATH, splitMuslPath } from './musl-path-file.js';

/**
 * The family's table: musl's LDSO_ARCH (arch/<arch>/reloc.h, with its endian, ISA and float-ABI
 * suffixes) for each row of the architecture table that musl has a port for. It names the loader
 * (/lib/ld-musl-LDSO_ARCH.so.1) and its path file (etc/ld-musl-LDSO_ARCH.path).
 */
export const MUSL_LDSO_ARCH: Readonly<Record<string, string>> = {
  amd64: 'x86_64',
  i386: 'i386',
  x32: 'x32',
  arm64: 'aarch64',
  armhf: 'armhf',
  armel: 'arm',
  riscv64: 'riscv64',
  'riscv64-lp64': 'riscv64-sf',
  ppc64el: 'powerpc64le',
  ppc64: 'powerpc64',
  powerpc: 'powerpc',
  s390x: 's390x',
  mipsel: 'mipsel',
  mipsn32el: 'mipsn32el',
  mipsr6el: 'mipsr6el',
  mipsn32r6el: 'mipsn32r6el',
  mips64el: 'mips64el',
  mips64r6el: 'mips64r6el',
  loong64: 'loongarch64',
};

const LOADER_RE = /^ld-musl-([A-Za-z0-9_-]+)\.so\.1$/;

/** LDSO_ARCH of the loader: the table's, else what the loader's own name says (a port the table lacks). */
export function muslLdsoArch(arch: ArchRow, interpreter: string | undefined): string | undefined {
  const fromTable = MUSL_LDSO_ARCH[arch.name];
  if (fromTable !== undefined && !arch.generic) return fromTable;
  const m = interpreter === undefined ? null : LOADER_RE.exec(path.posix.basename(interpreter));
  return m?.[1] ?? fromTable;
}

function interpreterFor(arch: ArchRow): string | undefined {
  const a = MUSL_LDSO_ARCH[arch.name];
  return a === undefined || arch.generic ? undefined : `/lib/ld-musl-${a}.so.1`;
}

export const MUSL_FAMILY: LoaderFamily = {
  name: 'musl',
  interpreterFor,
  ownsInterpreter(interpreter) {
    return LOADER_RE.test(path.posix.basename(interpreter));
  },
  claimsNeeded(needed) {
    return needed.some((n) => n === 'libc.so' || n.startsWith('libc.musl-'));
  },
  target(arch, ctx: FamilyContext): LoaderTarget {
    // No cache, no hwcaps, no $LIB or $PLATFORM: of the overrides only the interpreter means anything.
    const interpreter = ctx.overrides.interpreter ?? ctx.interpreter ?? interpreterFor(arch) ?? `/lib/ld-musl-${arch.name}.so.1`;
    return {
      elfClass: arch.elfClass,
      machine: arch.machine,
      byteOrder: arch.byteOrder,
      arch,
      family: MUSL_FAMILY,
      interpreter,
      lib: arch.lib,
      platform: arch.platform,
      systemDirs: splitMuslPath(MUSL_DEFAULT_PATH),
      hwcaps: [],
      allHwcaps: [],
      legacyHwcapDirs: [],
      warnings: [],
    };
  },
  targetVariant(arch, interpreter) {
    return interpreter ?? interpreterFor(arch) ?? '';
  },
  search(target, root) {
    return new MuslSearch(root, target.interpreter, muslLdsoArch(target.arch, target.interpreter) ?? target.arch.name);
  },
};
