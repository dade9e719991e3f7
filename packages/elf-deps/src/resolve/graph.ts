/**
 * The closure graph: what the resolver finds for each input, one namespace per input, with the reason
 * each object is there (the reason is data, as libtree keeps it).
 */
import type { ElfInfo } from '../elf/file.js';
import type { LibraryIndex } from '../library-index.js';
import type { LoaderWarning } from '../loader/family.js';
import type { ElfDepsError } from '../errors.js';
import type { RejectedCandidate, SearchSource } from '../search.js';

/** How an object came to be in the closure. */
export type FoundVia =
  | { kind: 'input' }
  | { kind: 'interpreter' }
  | { kind: 'path' }
  | { kind: 'rpath'; owner: string }
  | { kind: 'ld_library_path' }
  | { kind: 'runpath'; owner: string }
  | { kind: 'ld.so.cache' }
  | { kind: 'ld.so.conf' }
  | { kind: 'system-dir' }
  | { kind: 'path-file'; file: string };

/** How one request of a namespace was answered: a file found, one already loaded, or the loader itself. */
export type EdgeVia = FoundVia | { kind: 'reused' } | { kind: 'loader-itself'; detail: string };

/** A directory searched for a name, with the rule it came from. */
export interface TriedDirectory {
  dir: string;
  source: SearchSource | { kind: 'ld.so.cache' } | { kind: 'ld.so.conf' };
}

export interface ClosureNode {
  /** The path the loader finds it as (in-root, not resolved: what ldd prints after `=>`). */
  path: string;
  /** Every symlink resolved. */
  realPath: string;
  /** The first name it was requested as. */
  name: string;
  soname?: string;
  info: ElfInfo;
  foundVia: FoundVia;
  /** The loader family whose rules found it ('glibc', 'musl'): the family of the first namespace it is met in. */
  loader: string;
  /** The glibc-hwcaps or legacy subdirectory it was found in, when not the directory itself. */
  hwcapsSubdir?: string;
  /** Other files with the same name in the hwcaps subdirectories and the baseline directory. */
  variants: string[];
  /** Directories searched before it was found (empty for reused or path names). */
  tried: TriedDirectory[];
  /** Candidates met and skipped on the way (wrong class or machine). */
  rejected: RejectedCandidate[];
  /** Paths of the objects whose DT_NEEDED (or PT_INTERP) names it, across every input. */
  neededBy: string[];
  /** Its DT_NEEDED names mapped to the paths they resolved to (undefined: missing). */
  dependencies: { name: string; path: string | undefined }[];
}

export interface MissingLibrary {
  name: string;
  neededBy: string[];
  /** not-found: nowhere on the search path; invalid: a candidate that ld.so would refuse (fatal). */
  reason: 'not-found' | 'invalid';
  detail?: string;
  tried: TriedDirectory[];
  rejected: RejectedCandidate[];
}

export interface RootClosure {
  /** The input as given (in-root). */
  path: string;
  kind: ElfInfo['kind'];
  /** The loader family whose rules this namespace follows ('glibc', 'musl'; 'none' for a static program). */
  family: string;
  /** Files its loader reads at start that a jail must hold too (musl's path file), with their reasons. */
  loaderFiles: { path: string; reason: string }[];
  /** What its loader's configuration makes of the search (a path file that cannot be read), by file. */
  loaderWarnings: LoaderWarning[];
  /** The interpreter it runs with (PT_INTERP, or the target's default for a library), if dynamic. */
  interpreter?: string;
  /** Every object of this input's namespace, in load order, the input first. */
  objects: string[];
  /** For each object path, the object that loaded it (first to need it): the chain for `why`. */
  loaders: Map<string, string | undefined>;
  missing: MissingLibrary[];
  /** The name → path requests of this namespace, each with the reason (for tree output). */
  edges: { from: string; name: string; to: string | undefined; via: EdgeVia; dlopen?: boolean }[];
}

export interface ClosureGraph {
  roots: RootClosure[];
  /** Every object of every input, keyed by its path (as found). */
  nodes: Map<string, ClosureNode>;
  missing: MissingLibrary[];
  /** Which index stood in for ld.so.cache ('none' when neither a cache nor ld.so.conf was found). */
  index: LibraryIndex['source'] | 'none';
  /** Inputs that could not be analysed (not ELF, unreadable, malformed), each a typed error. */
  inputErrors: ElfDepsError[];
  /** What the loader model had to assume (an unknown e_machine, an unreadable glibc version): one line each, once. */
  warnings: string[];
}
