/**
 * @elfcopy/elf-deps: the public API, documented in README.md. Internals the sibling packages need are
 * in @elfcopy/elf-deps/internal (internal.ts).
 */

// Errors: every failure a user's input can cause is one of these.
export { ElfDepsError, NotElfError, ElfFormatError, UnreadableFileError, PathResolutionError, type UnreadableKind } from './errors.js';

// One ELF file.
export { readElf, ElfFile, type ElfInfo, type DynamicInfo, type ElfKind, type ReadElfOptions, type ElfRaw } from './elf/file.js';
export type { ElfClass, ByteOrder, FieldReader } from './elf/fields.js';
export type { ElfHeader, ElfIdent } from './elf/header.js';
export { ByteSource } from './bytes.js';
export type { ProgramHeader } from './elf/program-headers.js';
export type { AddressTag, DynamicTags, StringTable } from './elf/dynamic.js';
export type { VersionNeed, VersionDefinition } from './elf/versions.js';
export type { DynamicSymbol } from './elf/symbols.js';
export type { DlopenNote, DlopenPriority } from './elf/notes.js';
export { readelfMachineName } from './elf/machines.js';

// A root to read under, and its observer.
export { SysRoot, type SysRootOptions, type SysRootObserver, type Resolution, type ResolvedLink, type PathComponent } from './sysroot.js';

// The closure: what the target's loader would load, and why.
export {
  Resolver,
  resolveClosure,
  analyzeDeps,
  whyChains,
  type ResolveOptions,
  type ClosureGraph,
  type ClosureNode,
  type RootClosure,
  type MissingLibrary,
  type FoundVia,
  type EdgeVia,
  type TriedDirectory,
} from './resolve/index.js';
export type { RejectedCandidate, SearchSource } from './search.js';
export type { VerifyOutcome, VerifyTarget } from './open-verify.js';
export { collectInputs, hasElfMagic, type InputSet } from './inputs.js';
export { readShebang, scriptNeeds, ScriptError, SCRIPT_PATH, type Shebang, type ScriptNeeds } from './script.js';

// The loader a file runs with.
export { targetFor, type LoaderTarget, type TargetOverrides, type TargetKey, type MachineDescription, type TargetWarning, type CpuUsed } from './target.js';
export type { LoaderFamily, LoaderWarning, FamilyContext, FamilySearch, FamilyMapResult, FamilyTried, LoadedView, SearchEnv } from './loader/family.js';
export type { GlibcRules } from './loader/glibc-rules.js';
export type { LdconfigPort, PortObject, PortVerdict } from './arch/ldconfig-port.js';
export type { LibraryIndex, IndexHit } from './library-index.js';
export { ARCH_TABLE, archFor, type ArchRow, type ArchKey, type CpuModelKind } from './arch/table.js';
export { parseCpuinfo, type CpuDescription, type X86VendorKind } from './cpu/x86.js';
export { readGlibcRelease, type GlibcRelease, type ReleaseReading } from './loader/glibc-release.js';
export { readMuslSystemPath, type MuslSystemPath } from './loader/musl-path-file.js';

// ld.so.cache and ld.so.conf.
export {
  LD_SO_CACHE,
  readLdCache,
  parseLdCache,
  lookupLdCache,
  buildLdCache,
  serializeLdCache,
  ldCacheBytes,
  formatCacheEntry,
  describeCacheFlags,
  LdCacheFormatError,
  LdCacheWriteError,
  type LdCache,
  type LdCacheEntry,
  type LdCacheInput,
  type LdCacheTarget,
  type LdCacheLookup,
  type ParseLdCacheOptions,
  type BuildLdCacheOptions,
  type LookupLdCacheOptions,
  type LdCacheFormat,
  type CacheFlagsRule,
  type AbiVariant,
  type LegacyHwcapRule,
} from './ldcache/index.js';
export { LD_SO_CONF, readLdConf, type LdConf, type LdConfDirectory, type LdConfNote, type ReadLdConfOptions } from './ldconf.js';
export { buildCacheFromLdConf, type LdConfCache, type LdConfCacheTarget } from './ldconfig-cache.js';
