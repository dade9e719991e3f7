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
import type { LoaderTarget, MachineDescription, TargetOverrides } from '../target.js';

/** What a family needs to describe its loader for one file. */
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
