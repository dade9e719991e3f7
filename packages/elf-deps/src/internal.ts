/**
 * @elfcopy/elf-deps/internal: the public API (index.ts) and the internals the sibling packages
 * (jail-copy, the cli) and the tests use. Names beyond index.ts's may change in any release.
 */
export * from './index.js';

export { ByteSource } from './bytes.js';
export * from './elf/constants.js';
export { ELF_MACHINES } from './elf/machines.js';

export { readHeader, readIdent, type ElfIdent } from './elf/header.js';
export { readProgramHeaders, vaddrToOffset } from './elf/program-headers.js';

export { MAX_SYMLINKS } from './sysroot.js';
export { machineKey, type CpuUsed } from './target.js';
export {
  hostCpu,
  vendorKind,
  x86IsaLevel,
  x86_64ActiveHwcaps,
  x86_64LoaderCpu,
  i386LoaderCpu,
  x86LegacyDirs,
  VENDOR_IDS,
  X86_64_HWCAPS,
  type X86VendorKind,
  type X86LoaderCpu,
} from './cpu/x86.js';
export { compareRelease, type ReleaseReading } from './loader/glibc-release.js';
export { glibcRules, formatRelease, DEFAULT_GLIBC_RELEASE, type GlibcRules } from './loader/glibc-rules.js';
export { genericArch, describeGenericRules, cacheFlagsFor, type ArchKey, type CpuModelKind } from './arch/table.js';
export type { LdconfigPort } from './arch/ldconfig-port.js';
export { LOADER_FAMILIES, familyFor } from './loader/families.js';
export type {
  LoaderFamily,
  FamilyContext,
  FamilySearch,
  FamilyMapResult,
  LoadedView,
  LoaderWarning,
  SearchEnv,
} from './loader/family.js';
export { MUSL_FAMILY, MUSL_LDSO_ARCH, muslLdsoArch } from './loader/musl.js';
export { isMuslReservedName, expandMuslOrigin } from './loader/musl-search.js';
export { muslPathFileFor, MUSL_DEFAULT_PATH } from './loader/musl-path-file.js';
export {
  expandDst,
  expandSearchList,
  splitLdLibraryPath,
  type SearchPath,
  type DstContext,
} from './search.js';
export { verifyCandidate, type VerifyOutcome } from './open-verify.js';

export { expandGlob } from './inputs.js';
export { openLibraryIndex, type LibraryIndex, type IndexHit, type LibraryIndexOptions } from './library-index.js';
export { expectedCacheFlags, dlCacheLibcmp } from './ldcache/index.js';

export { S_ISUID_BIT, S_ISGID_BIT } from './modes.js';
export { readDlopenNotes, parseDlopenJson, NT_FDO_DLOPEN_METADATA } from './elf/notes.js';
export { globComponentRegExp, globInRoot, hasGlobChars, matchesGlobPath, type RootGlobOptions } from './glob.js';
export { readDynamicSymbols } from './elf/symbols.js';
