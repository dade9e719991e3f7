export * from './errors.js';
export { ByteSource } from './bytes.js';
export * from './elf/constants.js';
export { ELF_MACHINES, readelfMachineName } from './elf/machines.js';
export type { ElfClass, ByteOrder } from './elf/fields.js';
export { FieldReader } from './elf/fields.js';
export { readHeader, readIdent, type ElfHeader, type ElfIdent } from './elf/header.js';
export { readProgramHeaders, vaddrToOffset, type ProgramHeader } from './elf/program-headers.js';
export type { VersionNeed, VersionDefinition } from './elf/versions.js';
export { readElf, readElfFrom, type ElfInfo, type DynamicInfo, type ElfKind, type ReadElfOptions, type ElfRaw } from './elf/file.js';
export { SysRoot, type SysRootOptions, type Resolution, type ResolvedLink, type TraceEntry, MAX_SYMLINKS } from './sysroot.js';
export { targetFor, machineKey, hostX86Levels, hostCpuFlags, legacyHwcapSubdirs, type LoaderTarget, type TargetOverrides, type TargetKey, type MachineDescription, type CpuUsed, type TargetWarning } from './target.js';
export {
  parseCpuinfo,
  hostCpu,
  vendorKind,
  x86IsaLevel,
  x86_64ActiveHwcaps,
  x86_64LoaderCpu,
  i386LoaderCpu,
  x86LegacyDirs,
  VENDOR_IDS,
  X86_64_HWCAPS,
  type CpuDescription,
  type X86VendorKind,
  type X86LoaderCpu,
} from './cpu/x86.js';
export { readGlibcRelease, compareRelease, type GlibcRelease, type ReleaseReading } from './loader/glibc-release.js';
export { glibcRules, formatRelease, DEFAULT_GLIBC_RELEASE, GLIBC_2_36_RULES, type GlibcRules } from './loader/glibc-rules.js';
export { ARCH_TABLE, archFor, archByName, genericArch, describeGenericRules, cacheFlagsFor, type ArchRow, type ArchKey, type CpuModelKind } from './arch/table.js';
export type { LdconfigPort } from './arch/ldconfig-port.js';
export { LOADER_FAMILIES, familyFor } from './loader/families.js';
export type { LoaderFamily, FamilyContext, FamilySearch, FamilyMapResult, LoadedView, LoaderWarning, SearchEnv } from './loader/family.js';
export { MUSL_FAMILY, MUSL_LDSO_ARCH, muslLdsoArch } from './loader/musl.js';
export { isMuslReservedName, expandMuslOrigin } from './loader/musl-search.js';
export { readMuslSystemPath, muslPathFileFor, MUSL_DEFAULT_PATH, type MuslSystemPath } from './loader/musl-path-file.js';
export { expandDst, expandSearchList, splitLdLibraryPath, verifyCandidate, type SearchPath, type SearchSource, type RejectedCandidate, type DstContext } from './search.js';
export {
  Resolver,
  resolveClosure,
  analyzeDeps,
  whyChains,
  type ClosureGraph,
  type ClosureNode,
  type RootClosure,
  type MissingLibrary,
  type FoundVia,
  type EdgeVia,
  type TriedDirectory,
  type ResolveOptions,
} from './resolve.js';
export { collectInputs, expandGlob, hasElfMagic, type InputSet } from './inputs.js';
export { openLibraryIndex, type LibraryIndex, type IndexHit, type LibraryIndexOptions } from './library-index.js';
export {
  LD_SO_CACHE,
  parseLdCache,
  readLdCache,
  lookupLdCache,
  buildLdCache,
  serializeLdCache,
  writeLdCache,
  expectedCacheFlags,
  describeCacheFlags,
  formatCacheEntry,
  dlCacheLibcmp,
  LdCacheFormatError,
  LdCacheWriteError,
  type LdCache,
  type LdCacheEntry,
  type LdCacheInput,
  type LdCacheTarget,
} from './ldcache.js';
export { readLdConf, buildCacheFromLdConf, LD_SO_CONF, type LdConf, type LdConfDirectory } from './ldconf.js';
export { S_ISUID_BIT, S_ISGID_BIT, S_ISVTX_BIT } from './modes.js';
export { readDlopenNotes, parseDlopenJson, NT_FDO_DLOPEN_METADATA, type DlopenNote, type DlopenPriority } from './elf/notes.js';
export { globComponentRegExp, globInRoot, hasGlobChars, matchesGlobPath, type RootGlobOptions } from './glob.js';
export { readDynamicSymbols, type DynamicSymbol } from './elf/symbols.js';
