/** What a resolver run may be told: the root, the environment ld.so would see, the target and how much to keep. */
import type { DlopenPriority } from '../elf/notes.js';
import type { SysRoot } from '../sysroot.js';
import type { MachineDescription, TargetOverrides } from '../target.js';

export interface ResolveOptions {
  /** Sysroot: every file, config and cache is read under it. Default '/'. */
  root?: string | SysRoot;
  /** An LD_LIBRARY_PATH value (never read from the environment implicitly). */
  ldLibraryPath?: string;
  /** Working directory for relative names and empty path elements (default: process.cwd(), '/' under a sysroot). */
  cwd?: string;
  /** Secure-execution mode: 'auto' (default) = on for setuid/setgid inputs. */
  secure?: boolean | 'auto';
  /** Loader target overrides (hwcaps levels, $LIB, $PLATFORM, system dirs, interpreter): they win over the CPU model. */
  target?: TargetOverrides;
  /** The machine the target runs on (another CPU, another vendor); default this host's /proc/cpuinfo. */
  machine?: MachineDescription;
  /**
   * How the inputs are started: 'exec' (default: run directly, $ORIGIN from /proc/self/exe, i.e. the
   * real path) or 'ld.so' (`ld.so PROG`, what ldd does: before glibc 2.42 $ORIGIN is the directory of
   * the path as given, symlinks not resolved).
   */
  invocation?: 'exec' | 'ld.so';
  /** Path of ld.so.cache inside the root (default /etc/ld.so.cache); false to ignore it and use ld.so.conf. */
  ldCache?: string | false;
  /**
   * Also follow `.note.dlopen` metadata: sonames a library declares it dlopen()s, at this priority or
   * above (required < recommended < suggested). Off by default: ld.so does not load them at start.
   */
  dlopen?: DlopenPriority | false;
  /**
   * With no ld.so.cache in the root, predict the cache ldconfig would write from ld.so.conf. Off by
   * default: ld.so never reads ld.so.conf, it goes to the system directories.
   */
  ldConf?: boolean;
  /**
   * 'objects' keeps only each input's object list (what --list needs), dropping per-input edges and
   * loaders as soon as an input is done: a closure of thousands of programs stays small. Its nodes
   * carry no neededBy (an edge too); a missing name still says who needed it.
   */
  detail?: 'full' | 'objects';
  /** Called before each directory argument is walked (inputs.ts collectInputs): the CLI bounds its heap for a batch then. */
  onDirectoryInput?: (dir: string) => void;
}
