/**
 * The loader-family seam. A family is one implementation of the dynamic loader (glibc's ld.so, musl's
 * ldso/dynlink.c) with its own search rules. A target's family is chosen from the target's own
 * PT_INTERP — never from the host — and, for a file without one (a library given as input), from the
 * libc its DT_NEEDED names, else from the loaders the root actually holds for the file's architecture.
 *
 * Adding a family: write an object of this shape (loader/<name>.ts) and add it to LOADER_FAMILIES
 * (glibc, the fallback for an interpreter no family claims, stays first). A family whose rules differ
 * from glibc's dl-load.c gives `search`: the resolver then asks it to map every name of a namespace of
 * that target, and keeps only what is common to every loader (the breadth-first walk, the graph).
 */
import type { ArchRow } from '../arch/table.js';
import type { ElfInfo } from '../elf/file.js';
import type { VerifyOutcome } from '../open-verify.js';
import type { RejectedCandidate, SearchSource } from '../search.js';
import type { SysRoot } from '../sysroot.js';
import type { CpuDescription, X86VendorKind } from '../cpu/x86.js';
import type { ByteOrder, ElfClass } from '../elf/fields.js';
import type { GlibcRules } from './glibc-rules.js';

/** What a family needs to describe its loader for one file. */

/**
 * The machine a target runs on, where it is not this one. Precedence, lowest first: this host's
 * /proc/cpuinfo (x86 hosts only) < `cpu` < `vendor`; the CPU model then computes `$PLATFORM`, the
 * legacy hwcap names and the glibc-hwcaps levels; TargetOverrides (`platform`, `hwcaps`,
 * `legacyHwcapDirs`) replace what the model computed, each on its own.
 */
export interface MachineDescription {
  /** The CPU as another machine's /proc/cpuinfo describes it (parseCpuinfo). */
  cpu?: CpuDescription;
  /** Replaces the CPU's vendor_id: a CPUID vendor string, or intel, amd, hygon, centaur, zhaoxin, other. */
  vendor?: string;
}

/** The CPU the model used for a target (x86 targets only): what a cache of its results must key on. */
export interface CpuUsed {
  vendorId: string;
  kind: X86VendorKind;
  /** Feature flags, sorted. */
  flags: string[];
  /** 'host' (/proc/cpuinfo), 'given' (MachineDescription.cpu) or 'baseline' (no CPU known: x86-64 baseline assumed). */
  source: 'host' | 'given' | 'baseline';
}

export interface LoaderTarget {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
  /** The architecture row everything per-architecture comes from. */
  arch: ArchRow;
  /** The loader family whose rules apply (chosen from PT_INTERP). */
  family: LoaderFamily;
  /** The loader a file without PT_INTERP is run with (ldd's RTLD). */
  interpreter: string;
  /** `$LIB` */
  lib: string;
  /** `$PLATFORM` (glibc's GLRO(dl_platform)). */
  platform: string;
  /** The built-in search path after ld.so.cache (rtld_search_dirs). */
  systemDirs: string[];
  /** Active glibc-hwcaps subdirectory names, best first (x86-64-v4, v3, v2 …). */
  hwcaps: string[];
  /** Every glibc-hwcaps name this machine has, active or not: variants in all of them are reported. */
  allHwcaps: string[];
  /** Legacy hwcap subdirectories (tls, platform, hwcap names) in search order, glibc ≤ 2.36. */
  legacyHwcapDirs: string[];
  /** The glibc release's rules (glibc family only). */
  glibc?: GlibcRules;
  /** The CPU the model used (x86 targets only). */
  cpu?: CpuUsed;
  /** What was assumed for lack of information (an unknown machine, an unreadable glibc version). */
  warnings: TargetWarning[];
}

/** Something a target had to assume, as one line for the user. */
export interface TargetWarning {
  kind: 'unknown-machine' | 'glibc-version';
  message: string;
}

export type TargetOverrides = Partial<Omit<LoaderTarget, 'elfClass' | 'machine' | 'byteOrder' | 'arch' | 'family' | 'glibc' | 'cpu' | 'warnings'>>;

/** What picks a target: the file's ELF identity, and its PT_INTERP and e_flags where known. */
export interface TargetKey {
  elfClass: ElfClass;
  machine: number;
  byteOrder: ByteOrder;
  flags?: number;
  interpreter?: string;
  /** DT_NEEDED: for a file without PT_INTERP, the libc it names tells the family. */
  needed?: readonly string[];
}

export interface FamilyContext {
  /** The root the target lives in (its libc, loader and configuration are read there). */
  root?: SysRoot;
  /** The interpreter the file names (PT_INTERP), if any. */
  interpreter?: string;
  overrides: TargetOverrides;
  /** The machine the target runs on, where not this one. */
  machine: MachineDescription;
}

/** One object of a namespace as a family's rules see it (the resolver's loaded objects fit this shape). */
export interface LoadedView {
  readonly path: string;
  readonly info: ElfInfo;
  /** The object that loaded it (its first requester); undefined for the namespace's main object. */
  readonly loader: LoadedView | undefined;
  readonly isMain: boolean;
  /** The loader itself (PT_INTERP's object). */
  readonly isInterpreter: boolean;
  /** What $ORIGIN stands for in this object's search path (the main program's: its real directory). */
  origin(): string | undefined;
  /** The name later requests are matched against, where a family keeps one (musl's dso->shortname). */
  shortname?: string;
  /** The name the loader opened it by, as it built it (musl's dso->name: maybe relative); default `path`. */
  readonly openedAs?: string;
}

/** What the resolver lends a family's rules for one name. */
export interface SearchEnv {
  root: SysRoot;
  /** Working directory for relative names and search-path entries. */
  cwd: string;
  /** The LD_LIBRARY_PATH value given as an option (never the environment). */
  ldLibraryPath: string | undefined;
  /** Secure-execution mode (setuid/setgid main program). */
  secure: boolean;
  /** The loader's path as the namespace names it (PT_INTERP of the main object). */
  interpreter: string;
  /** The resolver's cached ELF check of a candidate for this target. */
  verify(candidate: string): VerifyOutcome;
}

/** A directory searched for a name, with the rule it came from. */
export interface FamilyTried {
  dir: string;
  source: SearchSource;
}

/** How a family's rules answered one request. */
export type FamilyMapResult<T extends LoadedView> =
  /** The loader itself answers (musl's reserved names): no file to find or copy. */
  | { kind: 'loader'; detail: string }
  | { kind: 'reused'; object: T }
  | { kind: 'missing'; reason: 'not-found' | 'invalid'; detail?: string; tried: FamilyTried[]; rejected: RejectedCandidate[] }
  | {
      kind: 'found';
      path: string;
      info: ElfInfo;
      via: SearchSource | { kind: 'path' };
      tried: FamilyTried[];
      rejected: RejectedCandidate[];
      /** The name the new object answers to later (musl: the basename of a searched name). */
      shortname?: string;
      /** The name it was opened by, as the loader built it (a relative search-path entry stays relative). */
      openedAs?: string;
    };

/** Something about a loader's configuration the user should know: the file and what it means. */
export interface LoaderWarning {
  path: string;
  message: string;
}

/** A family's own mapping of names to files for one target (see LoaderFamily.search). */
export interface FamilySearch {
  mapName<T extends LoadedView>(name: string, requester: T, loaded: readonly T[], env: SearchEnv): FamilyMapResult<T>;
  /** What the user should know about the loader's configuration (a path file that cannot be read). */
  readonly warnings: readonly LoaderWarning[];
  /** Files this loader reads at start that a jail must hold (in-root paths), each with its reason. */
  readonly loaderFiles: readonly { path: string; reason: string }[];
}

export interface LoaderFamily {
  /** 'glibc', 'musl', … */
  readonly name: string;
  /** The family's loader for this architecture, as PT_INTERP names it; undefined where it has no port. */
  interpreterFor(arch: ArchRow): string | undefined;
  /** Whether a PT_INTERP value names this family's loader (for a file of this architecture). */
  ownsInterpreter(interpreter: string, arch: ArchRow): boolean;
  /** Whether a file without PT_INTERP that needs these names is built for this family's libc. */
  claimsNeeded?(needed: readonly string[]): boolean;
  /** The loader target a file of this architecture is resolved for. */
  target(arch: ArchRow, ctx: FamilyContext): LoaderTarget;
  /**
   * What besides the architecture tells two targets of this family apart (musl: the loader's path,
   * whose prefix locates the path file). Targets with the same key share one LoaderTarget.
   */
  targetVariant?(arch: ArchRow, interpreter: string | undefined): string;
  /** The family's own search rules for a target; undefined: glibc's (dl-load.c, in the resolver). */
  search?(target: LoaderTarget, root: SysRoot): FamilySearch;
}
