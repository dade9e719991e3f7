/**
 * The closure graph: a breadth-first walk of DT_NEEDED that maps names to files exactly as glibc's ld.so
 * would (dl-deps.c _dl_map_object_deps, dl-load.c _dl_map_object), one namespace per input, without
 * executing anything.
 */
import * as path from 'node:path';
import { ElfDepsError, PathResolutionError, UnreadableFileError } from './errors.js';
import { ElfFile, type ElfInfo } from './elf/file.js';
import type { DlopenPriority } from './elf/notes.js';
import { S_ISGID_BIT, S_ISUID_BIT } from './modes.js';
import {
  expandDst,
  expandSearchList,
  relativeDirsOf,
  splitLdLibraryPath,
  subdirsFor,
  verifyCandidate,
  type DstContext,
  type RejectedCandidate,
  type SearchPath,
  type SearchSource,
  type VerifyOutcome,
} from './search.js';
import { SysRoot } from './sysroot.js';
import { targetFor, type LoaderTarget, type MachineDescription, type TargetKey, type TargetOverrides } from './target.js';
import { archFor } from './arch/table.js';
import { familyFor } from './loader/families.js';
import type { FamilySearch, LoaderWarning, SearchEnv } from './loader/family.js';
import { openLibraryIndex, type LibraryIndex, type LibraryIndexOptions } from './library-index.js';
import { collectInputs } from './inputs.js';

/** How an object came to be in the closure: the reason is data, not a log line. */
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
   * loaders as soon as an input is done: a closure of thousands of programs stays small.
   */
  detail?: 'full' | 'objects';
}

const PRIORITY_RANK: Record<DlopenPriority, number> = { required: 0, recommended: 1, suggested: 2 };

interface LoadedObject {
  path: string;
  names: Set<string>;
  info: ElfInfo;
  loader: LoadedObject | undefined;
  isMain: boolean;
  isInterpreter: boolean;
  origin: () => string | undefined;
  /** The name a family that keeps one matches later requests against (musl's shortname). */
  shortname?: string;
  /** The name the loader opened it by, where a family keeps it as built (musl's dso->name). */
  openedAs?: string;
  rpathDirs?: string[];
  runpathDirs?: string[];
}

/** Resolves many inputs in one run: files are parsed once (by real path), directories listed once. */
export class Resolver {
  readonly root: SysRoot;
  private readonly options: ResolveOptions;
  private readonly cwd: string;
  private readonly verified = new Map<string, VerifyOutcome>();
  private readonly files = new Map<string, ElfFile>();
  private readonly subdirCache = new Map<string, string[]>();
  private readonly targets = new Map<string, LoaderTarget>();
  private readonly defaultMemo = new Map<LoaderTarget, Map<string, DefaultSearch>>();
  private readonly familySearches = new Map<LoaderTarget, FamilySearch | null>();
  private readonly neededBySets = new WeakMap<ClosureNode, Set<string>>();
  private index: LibraryIndex | null | undefined;
  /** Every target's warnings, each once, in the order met. */
  readonly warnings: string[] = [];
  private versionWarned = false;

  constructor(options: ResolveOptions = {}) {
    this.options = options;
    this.root = options.root instanceof SysRoot ? options.root : new SysRoot(options.root ?? '/');
    this.cwd = options.cwd ?? (this.root.isHost ? process.cwd() : '/');
  }

  /** Reads an input: throws UnreadableFileError / NotElfError / ElfFormatError for bad input. */
  readInput(p: string): ElfInfo {
    return this.elfFile(p).snapshot(this.readOptions());
  }

  /**
   * The ElfFile of in-root path `p`, opened once for the resolver's life (its descriptor freed after the
   * opening read), so a caller asking later for versions or symbols of a file in the graph parses nothing
   * twice. Throws UnreadableFileError / NotElfError / ElfFormatError.
   */
  elfFile(p: string): ElfFile {
    let file = this.files.get(p);
    if (!file) {
      file = ElfFile.using(() => this.root.open(p));
      try {
        if (this.options.dlopen) file.dlopenNotes();
      } finally {
        file.close();
      }
      this.files.set(p, file);
    }
    return file;
  }

  resolve(inputs: readonly string[]): ClosureGraph {
    const graph: ClosureGraph = { roots: [], nodes: new Map(), missing: [], index: 'none', inputErrors: [], warnings: this.warnings };
    const missingByKey = new Map<string, MissingLibrary>();
    for (const input of inputs) {
      let rc: RootClosure;
      try {
        rc = this.resolveOne(input, graph);
      } catch (err) {
        if (err instanceof ElfDepsError) {
          graph.inputErrors.push(err);
          continue;
        }
        throw err;
      }
      if (this.options.detail === 'objects') {
        rc.edges = [];
        rc.loaders = new Map();
      }
      for (const m of rc.missing) {
        const key = `${m.name}\0${m.reason}`;
        const prev = missingByKey.get(key);
        if (prev) {
          for (const n of m.neededBy) if (!prev.neededBy.includes(n)) prev.neededBy.push(n);
        } else {
          const copy = { ...m, neededBy: [...m.neededBy] };
          missingByKey.set(key, copy);
          graph.missing.push(copy);
        }
      }
      graph.roots.push(rc);
    }
    const idx = this.libraryIndex();
    graph.index = idx ? idx.source : 'none';
    return graph;
  }

  /**
   * Finds a library the way a dlopen() from libc finds it (NSS modules, libgcc_s): LD_LIBRARY_PATH (the
   * option), ld.so.cache, then the system directories of the target of `like` (an ELF of the program).
   * Nothing of RPATH/RUNPATH: libc has neither.
   */
  locate(name: string, like: ElfInfo): { path: string; info: ElfInfo } | undefined {
    const target = this.targetOf(like);
    const tried: TriedDirectory[] = [];
    const rejected: RejectedCandidate[] = [];
    const llp = this.options.ldLibraryPath;
    if (llp !== undefined) {
      const ctx: DstContext = { origin: () => undefined, lib: target.lib, platform: target.platform, secure: false, trusted: target.systemDirs };
      const dirs = expandSearchList(splitLdLibraryPath(llp), ctx, this.cwd);
      const r = this.searchPaths(name, [{ source: { kind: 'ld_library_path' }, dirs }], target, tried, rejected);
      if (r.kind === 'found') return { path: r.found.path, info: r.found.info };
    }
    const idx = this.libraryIndex(target);
    const hit = idx?.lookup(name, target);
    if (hit) {
      const v = this.verify(hit.path, target);
      if (v.ok) return { path: hit.path, info: v.info };
    }
    const r = this.searchPaths(name, [{ source: { kind: 'system-dir' }, dirs: target.systemDirs }], target, tried, rejected);
    return r.kind === 'found' ? { path: r.found.path, info: r.found.info } : undefined;
  }

  /**
   * One LoaderTarget object per (architecture row, loader family): its identity keys the index memo.
   * The family comes from the file's PT_INTERP (or, for a library input, the loaders in the root).
   */
  private targetOf(info: ElfInfo): LoaderTarget {
    const arch = archFor(info);
    const needed = info.dynamic?.needed;
    const family = familyFor(arch, info.interpreter, this.root, needed);
    const key = `${arch.name}\0${family.name}\0${family.targetVariant?.(arch, info.interpreter) ?? ''}`;
    let t = this.targets.get(key);
    if (!t) {
      t = targetFor(targetKeyOf(info), this.root, this.options.target, this.options.machine);
      this.targets.set(key, t);
      // One line each; an unreadable glibc version once per run (each target would name its own files).
      for (const w of t.warnings) {
        if (this.warnings.includes(w.message)) continue;
        if (w.kind === 'glibc-version' && this.versionWarned) continue;
        if (w.kind === 'glibc-version') this.versionWarned = true;
        this.warnings.push(w.message);
      }
    }
    return t;
  }

  /** The target family's own rules, made once per target (musl reads its path file then); none for glibc's. */
  private familySearch(target: LoaderTarget): FamilySearch | undefined {
    let s = this.familySearches.get(target);
    if (s === undefined) {
      s = target.family.search?.(target, this.root) ?? null;
      this.familySearches.set(target, s);
    }
    return s ?? undefined;
  }

  /**
   * dl-origin.c: run directly, the executable's origin is the directory of its real path
   * (/proc/self/exe). Run as `ld.so PROG`, rtld.c takes the path as given — until glibc 2.42 resolves
   * it too (BZ 25263).
   */
  private mainOrigin(abs: string, target: LoaderTarget | undefined): string {
    const resolved = this.options.invocation !== 'ld.so' || (target?.glibc?.explicitLoaderResolvesOrigin ?? false);
    return path.posix.dirname(resolved ? (this.root.realpath(abs) ?? abs) : abs);
  }

  private readOptions(): { notes?: boolean } {
    return this.options.dlopen ? { notes: true } : {};
  }

  /** The sonames `info` declares in .note.dlopen at the chosen priority: each entry's first alternative that resolves wins. */
  private dlopenGroups(info: ElfInfo): string[][] {
    const limit = this.options.dlopen;
    if (!limit || !info.dlopenNotes) return [];
    return info.dlopenNotes.filter((n) => PRIORITY_RANK[n.priority] <= PRIORITY_RANK[limit]).map((n) => n.sonames);
  }

  private libraryIndex(target?: LoaderTarget): LibraryIndex | undefined {
    if (this.index === undefined) {
      const opts: LibraryIndexOptions = {};
      if (this.options.ldCache !== undefined) opts.ldCache = this.options.ldCache;
      if (this.options.ldConf) opts.ldConf = true;
      if (target) opts.target = target;
      this.index = openLibraryIndex(this.root, opts) ?? null;
    }
    return this.index ?? undefined;
  }

  private resolveOne(input: string, graph: ClosureGraph): RootClosure {
    const abs = path.posix.isAbsolute(input) ? path.posix.normalize(input) : path.posix.join(this.cwd, input);
    const mainInfo = this.readInput(abs);
    const secure =
      this.options.secure === 'auto' || this.options.secure === undefined
        ? (mainInfo.mode & (S_ISUID_BIT | S_ISGID_BIT)) !== 0
        : this.options.secure;
    // A static executable, or a static PIE (PT_DYNAMIC for its own relocation, no PT_INTERP): no loader.
    const isStatic = !mainInfo.dynamic || mainInfo.kind === 'static-pie';
    // Only a program that has a loader has a loader target (and its warnings).
    const mainTarget = isStatic ? undefined : this.targetOf(mainInfo);
    const rc: RootClosure = { path: abs, kind: mainInfo.kind, family: mainTarget?.family.name ?? 'none', loaderFiles: [], loaderWarnings: [], objects: [], loaders: new Map(), missing: [], edges: [] };
    // --list needs the objects only: no edges to build and throw away for each of thousands of inputs.
    const full = this.options.detail !== 'objects';
    const main: LoadedObject = {
      path: abs,
      names: new Set([abs]),
      info: mainInfo,
      loader: undefined,
      isMain: true,
      isInterpreter: false,
      origin: () => this.mainOrigin(abs, mainTarget),
    };
    const loaded: Namespace = { objects: [], byName: new Map() };
    addToNamespace(loaded, main);
    this.record(graph, rc, main, { kind: 'input' }, undefined, [], [], undefined, []);
    if (!mainTarget) return rc;
    const target = mainTarget;

    // rtld's own map is in the namespace from the start, named by PT_INTERP and by its DT_SONAME.
    const interpPath = mainInfo.interpreter ?? target.interpreter;
    rc.interpreter = interpPath;
    const familySearch = this.familySearch(target);
    if (familySearch) {
      rc.loaderFiles = [...familySearch.loaderFiles];
      rc.loaderWarnings = [...familySearch.warnings];
      for (const w of familySearch.warnings) {
        const line = `${w.path}: ${w.message}`;
        if (!this.warnings.includes(line)) this.warnings.push(line);
      }
    }
    const interp = this.loadInterpreter(interpPath, target);
    if (interp.ok) {
      const obj: LoadedObject = {
        path: interpPath,
        names: new Set([interpPath, ...(interp.info.dynamic?.soname ? [interp.info.dynamic.soname] : [])]),
        info: interp.info,
        loader: main,
        isMain: false,
        isInterpreter: true,
        origin: () => path.posix.dirname(interpPath),
      };
      addToNamespace(loaded, obj);
      this.record(graph, rc, obj, { kind: 'interpreter' }, main, [], [], undefined, []);
      if (full) rc.edges.push({ from: abs, name: interpPath, to: interpPath, via: { kind: 'interpreter' } });
    } else {
      rc.missing.push({ name: interpPath, neededBy: [abs], reason: interp.reason, detail: interp.detail, tried: [], rejected: [] });
      if (full) rc.edges.push({ from: abs, name: interpPath, to: undefined, via: { kind: 'interpreter' } });
    }

    const llp = this.options.ldLibraryPath;
    const mainCtx = this.dstContext(main, target, secure);
    const llpDirs = llp !== undefined && !secure ? expandSearchList(splitLdLibraryPath(llp), mainCtx, this.cwd) : [];

    // dl-deps.c: breadth first; the queue is the list of objects in load order.
    const queue: LoadedObject[] = [main];
    for (let qi = 0; qi < queue.length; qi++) {
      const requester = queue[qi]!;
      const needed = requester.info.dynamic?.needed ?? [];
      // A node's dependencies are the same in every namespace it is met in: recorded the first time.
      const node = graph.nodes.get(requester.path);
      const deps: { name: string; path: string | undefined }[] | undefined = node && node.dependencies.length === 0 ? [] : undefined;
      for (const name of needed) {
        const result = this.mapObject(name, requester, loaded, target, secure, llpDirs, interpPath);
        if (result.kind === 'loader') {
          deps?.push({ name, path: interpPath });
          if (full) rc.edges.push({ from: requester.path, name, to: interpPath, via: { kind: 'loader-itself', detail: result.detail } });
          this.addNeededBy(graph, interpPath, requester.path);
          continue;
        }
        if (result.kind === 'reused') {
          deps?.push({ name, path: result.object.path });
          if (full) rc.edges.push({ from: requester.path, name, to: result.object.path, via: { kind: 'reused' } });
          this.addNeededBy(graph, result.object.path, requester.path);
          continue;
        }
        if (result.kind === 'missing') {
          deps?.push({ name, path: undefined });
          if (full) rc.edges.push({ from: requester.path, name, to: undefined, via: { kind: 'path' } });
          const prev = rc.missing.find((m) => m.name === name && m.reason === result.missing.reason);
          if (prev) {
            if (!prev.neededBy.includes(requester.path)) prev.neededBy.push(requester.path);
          } else rc.missing.push(result.missing);
          continue;
        }
        const obj = result.object;
        addToNamespace(loaded, obj);
        queue.push(obj);
        deps?.push({ name, path: obj.path });
        if (full) rc.edges.push({ from: requester.path, name, to: obj.path, via: result.via });
        this.record(graph, rc, obj, result.via, requester, result.tried, result.rejected, result.hwcapsSubdir, result.variants);
      }
      for (const group of this.dlopenGroups(requester.info)) {
        let done = false;
        let lastMissing: MissingLibrary | undefined;
        for (const name of group) {
          const result = this.mapObject(name, requester, loaded, target, secure, llpDirs, interpPath);
          if (result.kind === 'missing') {
            lastMissing = result.missing;
            continue;
          }
          done = true;
          if (result.kind === 'loader') {
            rc.edges.push({ from: requester.path, name, to: interpPath, via: { kind: 'loader-itself', detail: result.detail }, dlopen: true });
            break;
          }
          if (result.kind === 'reused') {
            rc.edges.push({ from: requester.path, name, to: result.object.path, via: { kind: 'reused' }, dlopen: true });
            break;
          }
          addToNamespace(loaded, result.object);
          queue.push(result.object);
          rc.edges.push({ from: requester.path, name, to: result.object.path, via: result.via, dlopen: true });
          this.record(graph, rc, result.object, result.via, requester, result.tried, result.rejected, result.hwcapsSubdir, result.variants);
          break;
        }
        if (!done && lastMissing) {
          rc.edges.push({ from: requester.path, name: group.join('|'), to: undefined, via: { kind: 'path' }, dlopen: true });
          rc.missing.push({ ...lastMissing, name: group.join('|'), detail: 'declared in .note.dlopen' });
        }
      }
      if (node && deps) node.dependencies = deps;
    }
    return rc;
  }

  private record(
    graph: ClosureGraph,
    rc: RootClosure,
    obj: LoadedObject,
    via: FoundVia,
    loader: LoadedObject | undefined,
    tried: TriedDirectory[],
    rejected: RejectedCandidate[],
    hwcapsSubdir: string | undefined,
    variants: string[],
  ): void {
    rc.objects.push(obj.path);
    rc.loaders.set(obj.path, loader?.path);
    let node = graph.nodes.get(obj.path);
    if (!node) {
      const root = this.root;
      const p = obj.path;
      node = {
        path: obj.path,
        // Resolved on first use: --list and the tree never need it, and realpath costs a syscall per component.
        get realPath(): string {
          return root.realpath(p) ?? p;
        },
        name: [...obj.names][0] ?? obj.path,
        info: obj.info,
        foundVia: via,
        loader: rc.family,
        variants,
        tried,
        rejected,
        neededBy: [],
        dependencies: [],
      };
      if (obj.info.dynamic?.soname !== undefined) node.soname = obj.info.dynamic.soname;
      if (hwcapsSubdir) node.hwcapsSubdir = hwcapsSubdir;
      graph.nodes.set(obj.path, node);
    }
    if (loader) this.addNeededBy(graph, obj.path, loader.path);
  }

  /** neededBy with a set beside it: libc is needed by nearly everything, an array scan per add is quadratic. */
  private addNeededBy(graph: ClosureGraph, p: string, by: string): void {
    const node = graph.nodes.get(p);
    if (!node) return;
    let seen = this.neededBySets.get(node);
    if (!seen) {
      seen = new Set(node.neededBy);
      this.neededBySets.set(node, seen);
    }
    if (seen.has(by)) return;
    seen.add(by);
    node.neededBy.push(by);
  }

  private loadInterpreter(p: string, target: LoaderTarget): { ok: true; info: ElfInfo } | { ok: false; reason: 'not-found' | 'invalid'; detail: string } {
    if (this.root.realpath(p) === undefined) return { ok: false, reason: 'not-found', detail: 'the interpreter does not exist' };
    const v = this.verify(p, target);
    if (v.ok) return v;
    return { ok: false, reason: 'invalid', detail: v.detail };
  }

  private verify(candidate: string, target: LoaderTarget): VerifyOutcome {
    // Keyed by the path as found, not its real path: a realpath per candidate costs more than the rare
    // second parse of a file reached by two names.
    const key = `${candidate}\0${target.elfClass}\0${target.machine}\0${target.byteOrder}`;
    let v = this.verified.get(key);
    if (!v) {
      v = verifyCandidate(this.root, candidate, target, this.readOptions());
      this.verified.set(key, v);
      if (v.ok && !this.files.has(candidate)) this.files.set(candidate, v.file);
    }
    return v;
  }

  private dstContext(obj: LoadedObject, target: LoaderTarget, secure: boolean): DstContext {
    return { origin: obj.origin, lib: target.lib, platform: target.platform, secure, trusted: target.systemDirs };
  }

  private rpathDirs(obj: LoadedObject, target: LoaderTarget, secure: boolean): string[] {
    // dl-load.c: an object with DT_RUNPATH has its DT_RPATH ignored, as requester and as ancestor;
    // decompose_rpath: an empty string is no path at all (not the working directory).
    if (obj.rpathDirs === undefined) {
      const dyn = obj.info.dynamic;
      obj.rpathDirs = dyn && dyn.rpath !== undefined && dyn.rpath !== '' && dyn.runpath === undefined ? expandSearchList(dyn.rpathList, this.dstContext(obj, target, secure), this.cwd) : [];
    }
    return obj.rpathDirs;
  }

  private runpathDirs(obj: LoadedObject, target: LoaderTarget, secure: boolean): string[] {
    if (obj.runpathDirs === undefined) {
      const dyn = obj.info.dynamic;
      obj.runpathDirs = dyn && dyn.runpath !== undefined && dyn.runpath !== '' ? expandSearchList(dyn.runpathList, this.dstContext(obj, target, secure), this.cwd) : [];
    }
    return obj.runpathDirs;
  }

  /** dl-load.c _dl_map_object for one DT_NEEDED name of `requester`. */
  private mapObject(
    name: string,
    requester: LoadedObject,
    loaded: Namespace,
    target: LoaderTarget,
    secure: boolean,
    llpDirs: string[],
    interpreter: string,
  ): MapResult {
    const familySearch = this.familySearch(target);
    if (familySearch) return this.mapByFamily(familySearch, name, requester, loaded, target, secure, interpreter);
    // dl-deps.c expand_dst: a DT_NEEDED name has its DSTs replaced (the requester's $ORIGIN) before
    // anything else, and a DST in a setuid program is fatal.
    const expanded = name.includes('$') ? (expandDst(name, this.dstContext(requester, target, false)) ?? name) : name;
    if (expanded !== name && secure) {
      return { kind: 'missing', missing: { name, neededBy: [requester.path], reason: 'invalid', detail: 'DST not allowed in SUID/SGID programs', tried: [], rejected: [] } };
    }
    name = expanded;
    // _dl_name_match_p: a loaded object answers to the names it was requested as, its path and its
    // SONAME; the first in load order wins, which the namespace's map keeps (first registration wins).
    const known = loaded.byName.get(name);
    if (known) {
      known.names.add(name);
      return { kind: 'reused', object: known };
    }
    const tried: TriedDirectory[] = [];
    const rejected: RejectedCandidate[] = [];
    let found: { path: string; via: FoundVia; hwcapsSubdir: string | undefined; variants: string[]; info: ElfInfo } | undefined;

    const fatal = (detail: string): MapResult => ({
      kind: 'missing',
      missing: { name, neededBy: [requester.path], reason: 'invalid', detail, tried, rejected },
    });

    if (name.includes('/')) {
      const p = path.posix.isAbsolute(name) ? name : path.posix.join(this.cwd, name);
      if (this.root.realpath(p) === undefined) {
        return { kind: 'missing', missing: { name, neededBy: [requester.path], reason: 'not-found', tried, rejected } };
      }
      const v = this.verify(p, target);
      if (!v.ok) {
        if (v.reason === 'invalid') return fatal(v.detail);
        rejected.push({ path: p, reason: v.reason, detail: v.detail });
        return { kind: 'missing', missing: { name, neededBy: [requester.path], reason: 'not-found', tried, rejected } };
      }
      found = { path: p, via: { kind: 'path' }, hwcapsSubdir: undefined, variants: [], info: v.info };
    } else {
      const searchPaths: SearchPath[] = [];
      if (requester.info.dynamic?.runpath === undefined) {
        for (let l: LoadedObject | undefined = requester; l; l = l.loader) {
          const dirs = this.rpathDirs(l, target, secure);
          if (dirs.length > 0) searchPaths.push({ source: { kind: 'rpath', owner: l.path }, dirs });
        }
      }
      if (llpDirs.length > 0) searchPaths.push({ source: { kind: 'ld_library_path' }, dirs: llpDirs });
      const runpath = this.runpathDirs(requester, target, secure);
      if (runpath.length > 0) searchPaths.push({ source: { kind: 'runpath', owner: requester.path }, dirs: runpath });

      const outcome = this.searchPaths(name, searchPaths, target, tried, rejected);
      if (outcome.kind === 'fatal') return fatal(outcome.detail);
      if (outcome.kind === 'found') found = outcome.found;

      const nodeflib = requester.info.dynamic?.nodeflib ?? false;
      if (!found) {
        const d = this.defaultSearch(name, target, nodeflib);
        tried.push(...d.tried);
        rejected.push(...d.rejected);
        if (d.fatal !== undefined) return fatal(d.fatal);
        found = d.found;
      }
    }
    if (!found) return { kind: 'missing', missing: { name, neededBy: [requester.path], reason: 'not-found', tried, rejected } };

    // _dl_map_object_from_fd: the same file (device and inode) already loaded under another name is reused.
    for (const obj of loaded.objects) {
      if (obj.info.dev === found.info.dev && obj.info.ino === found.info.ino) {
        obj.names.add(name);
        registerName(loaded, name, obj);
        return { kind: 'reused', object: obj };
      }
    }
    const object = libraryObject(found.path, name, found.info, requester);
    return { kind: 'new', object, via: found.via, tried, rejected, hwcapsSubdir: found.hwcapsSubdir, variants: found.variants };
  }

  /** mapObject for a target whose family has its own rules (musl): the family maps, the resolver records. */
  private mapByFamily(
    search: FamilySearch,
    name: string,
    requester: LoadedObject,
    loaded: Namespace,
    target: LoaderTarget,
    secure: boolean,
    interpreter: string,
  ): MapResult {
    const env: SearchEnv = {
      root: this.root,
      cwd: this.cwd,
      ldLibraryPath: this.options.ldLibraryPath,
      secure,
      interpreter,
      verify: (candidate) => this.verify(candidate, target),
    };
    const r = search.mapName(name, requester, loaded.objects, env);
    if (r.kind === 'loader' || r.kind === 'reused') return r;
    if (r.kind === 'missing') {
      const missing: MissingLibrary = { name, neededBy: [requester.path], reason: r.reason, tried: r.tried, rejected: r.rejected };
      if (r.detail !== undefined) missing.detail = r.detail;
      return { kind: 'missing', missing };
    }
    const object = libraryObject(r.path, name, r.info, requester);
    if (r.shortname !== undefined) object.shortname = r.shortname;
    if (r.openedAs !== undefined) object.openedAs = r.openedAs;
    return { kind: 'new', object, via: r.via, tried: r.tried, rejected: r.rejected, hwcapsSubdir: undefined, variants: [] };
  }

  /**
   * ld.so.cache, then the system directories. The outcome depends only on the name, the target and
   * DF_1_NODEFLIB, so a batch of programs asks the file system once per name.
   */
  private defaultSearch(name: string, target: LoaderTarget, nodeflib: boolean): DefaultSearch {
    let byName = this.defaultMemo.get(target);
    if (!byName) {
      byName = new Map();
      this.defaultMemo.set(target, byName);
    }
    // A name never holds a NUL: the prefix keeps the NODEFLIB outcome apart.
    const key = nodeflib ? `\0${name}` : name;
    const known = byName.get(key);
    if (known) return known;
    const tried: TriedDirectory[] = [];
    const rejected: RejectedCandidate[] = [];
    const done = (r: Omit<DefaultSearch, 'tried' | 'rejected'>): DefaultSearch => {
      const out: DefaultSearch = { ...r, tried, rejected };
      byName.set(key, out);
      return out;
    };
    const idx = this.libraryIndex(target);
    if (idx) {
      tried.push({ dir: idx.location, source: { kind: idx.source } });
      const hit = idx.lookup(name, target);
      // dl-load.c _dl_map_object: DF_1_NODEFLIB of the requester drops a cache entry that lies in a system
      // directory (a prefix test), then skips the system directories; other entries are still used.
      if (hit && !(nodeflib && target.systemDirs.some((d) => hit.path.startsWith(d.endsWith('/') ? d : `${d}/`)))) {
        const v = this.verify(hit.path, target);
        if (v.ok) {
          return done({ found: { path: hit.path, via: { kind: idx.source }, hwcapsSubdir: hit.hwcaps, variants: hit.variants.filter((p) => p !== hit.path), info: v.info } });
        } else if (v.reason === 'invalid') {
          if (this.root.realpath(hit.path) !== undefined) return done({ fatal: v.detail });
        } else rejected.push({ path: hit.path, reason: v.reason, detail: v.detail });
      }
    }
    if (nodeflib) return done({});
    const sys = this.searchPaths(name, [{ source: { kind: 'system-dir' }, dirs: target.systemDirs }], target, tried, rejected);
    if (sys.kind === 'fatal') return done({ fatal: sys.detail });
    if (sys.kind === 'found') return done({ found: sys.found });
    return done({});
  }

  /** open_path over several search paths: the first directory (and hwcaps subdirectory) holding a loadable file wins. */
  private searchPaths(
    name: string,
    searchPaths: SearchPath[],
    target: LoaderTarget,
    tried: TriedDirectory[],
    rejected: RejectedCandidate[],
  ): SearchOutcome {
    const endsOnNonDir = target.glibc?.nonDirectoryEndsSearchPath ?? true;
    for (const sp of searchPaths) {
      const relative = endsOnNonDir ? relativeDirsOf(sp.dirs) : undefined;
      for (const dir of sp.dirs) {
        tried.push({ dir, source: sp.source });
        // open_path: when the last probe of a directory fails with an errno other than ENOENT or EACCES
        // (a symlink loop: ELOOP), the rest of this search path is given up; the next one is still tried.
        let looped = false;
        for (const sub of this.existingSubdirs(dir, target)) {
          const d = sub ? `${dir}/${sub}` : dir;
          looped = false;
          if (!this.root.hasEntry(d, name)) continue;
          const candidate = `${d}/${name}`;
          const v = this.verify(candidate, target);
          if (v.ok) {
            const via: FoundVia = sp.source;
            return { kind: 'found', found: { path: candidate, via, hwcapsSubdir: sub || undefined, variants: this.variantsIn(dir, name, target, candidate), info: v.info } };
          }
          if (v.reason === 'invalid') {
            // A dangling link or unreadable entry is "not there" for open(); anything else is fatal.
            if (v.error instanceof UnreadableFileError && (v.error.kind === 'not-found' || v.error.kind === 'permission')) continue;
            looped = v.error instanceof PathResolutionError || (v.error instanceof UnreadableFileError && v.error.kind === 'symlink-loop');
            if (looped) continue;
            return { kind: 'fatal', detail: `${candidate}: ${v.detail}` };
          }
          rejected.push({ path: candidate, reason: v.reason, detail: v.detail });
        }
        if (looped) break;
        // open_path before glibc 2.39: a relative element naming a non-directory makes the last probe
        // fail with ENOTDIR, which ends this search path (a8dcffb30680, BZ 31035, made it a skip).
        if (relative?.has(dir) && this.notADirectoryPath(dir)) break;
      }
    }
    return { kind: 'none' };
  }

  /** True when opening DIR/NAME fails with ENOTDIR: the longest existing prefix of `dir` is not a directory. */
  private notADirectoryPath(dir: string): boolean {
    for (let p = dir; p !== '/' && p !== ''; p = path.posix.dirname(p)) {
      const st = this.root.stat(p);
      if (st) return !st.isDirectory();
    }
    return false;
  }

  /**
   * The hwcaps subdirectories of `dir` that exist ('' for `dir` itself), in search order. Like
   * r_search_path_elem's status array, a directory that does not exist is never probed again.
   */
  private existingSubdirs(dir: string, target: LoaderTarget): string[] {
    const key = `${dir}\0${target.hwcaps.join(',')}\0${target.legacyHwcapDirs.length}`;
    let subs = this.subdirCache.get(key);
    if (!subs) {
      subs = subdirsFor(target).filter((sub) => this.root.listDir(sub ? `${dir}/${sub}` : dir) !== undefined);
      this.subdirCache.set(key, subs);
    }
    return subs;
  }

  /** Every copy of `name` in `dir`'s glibc-hwcaps subdirectories (all levels) and `dir` itself. */
  private variantsIn(dir: string, name: string, target: LoaderTarget, chosen: string): string[] {
    const out: string[] = [];
    for (const level of target.allHwcaps) {
      const d = `${dir}/glibc-hwcaps/${level}`;
      if (this.root.hasEntry(d, name) && `${d}/${name}` !== chosen) out.push(`${d}/${name}`);
    }
    if (this.root.hasEntry(dir, name) && `${dir}/${name}` !== chosen) out.push(`${dir}/${name}`);
    return out;
  }
}

/** A library newly mapped at `found` for `name`, loaded by `requester`. */
function libraryObject(found: string, name: string, info: ElfInfo, requester: LoadedObject): LoadedObject {
  return {
    path: found,
    names: new Set([name]),
    info,
    loader: requester,
    isMain: false,
    isInterpreter: false,
    // dl-object.c: a library's origin is the directory of the name it was found under, unresolved.
    origin: () => path.posix.dirname(found),
  };
}

/** One input's link map: the objects in load order and every name each answers to. */
interface Namespace {
  objects: LoadedObject[];
  /** Requested names, paths and SONAMEs, each to the first object (in load order) answering to it. */
  byName: Map<string, LoadedObject>;
}

function registerName(ns: Namespace, name: string, obj: LoadedObject): void {
  if (!ns.byName.has(name)) ns.byName.set(name, obj);
}

function addToNamespace(ns: Namespace, obj: LoadedObject): void {
  ns.objects.push(obj);
  registerName(ns, obj.path, obj);
  for (const n of obj.names) registerName(ns, n, obj);
  const soname = obj.info.dynamic?.soname;
  if (soname !== undefined) registerName(ns, soname, obj);
}

type MapResult =
  | { kind: 'loader'; detail: string }
  | { kind: 'reused'; object: LoadedObject }
  | { kind: 'missing'; missing: MissingLibrary }
  | {
      kind: 'new';
      object: LoadedObject;
      via: FoundVia;
      tried: TriedDirectory[];
      rejected: RejectedCandidate[];
      hwcapsSubdir: string | undefined;
      variants: string[];
    };

interface FoundFile {
  path: string;
  via: FoundVia;
  hwcapsSubdir: string | undefined;
  variants: string[];
  info: ElfInfo;
}

interface DefaultSearch {
  found?: FoundFile;
  fatal?: string;
  tried: TriedDirectory[];
  rejected: RejectedCandidate[];
}

type SearchOutcome =
  | { kind: 'found'; found: { path: string; via: FoundVia; hwcapsSubdir: string | undefined; variants: string[]; info: ElfInfo } }
  | { kind: 'fatal'; detail: string }
  | { kind: 'none' };

/** What picks a file's target: its identity, PT_INTERP and, for a file without one, the libc it needs. */
function targetKeyOf(info: ElfInfo): TargetKey {
  const key: TargetKey = { elfClass: info.elfClass, machine: info.machine, byteOrder: info.byteOrder, flags: info.flags };
  if (info.interpreter !== undefined) key.interpreter = info.interpreter;
  if (info.dynamic) key.needed = info.dynamic.needed;
  return key;
}

/** One-call form: resolve the closure of `inputs`. */
export function resolveClosure(inputs: readonly string[], options: ResolveOptions = {}): ClosureGraph {
  return new Resolver(options).resolve(inputs);
}

/**
 * Why is `query` (a soname, a name, or a path) in the closure: for each input that loads it, the chain of
 * loaders from the input down to it.
 */
export function whyChains(graph: ClosureGraph, query: string): { root: string; chain: string[] }[] {
  const out: { root: string; chain: string[] }[] = [];
  const matches = (p: string): boolean => {
    const node = graph.nodes.get(p);
    if (!node) return false;
    return p === query || node.realPath === query || node.soname === query || node.name === query || path.posix.basename(p) === query;
  };
  for (const rc of graph.roots) {
    for (const p of rc.objects) {
      if (!matches(p) || p === rc.path) continue;
      const chain: string[] = [p];
      let cur = rc.loaders.get(p);
      const seen = new Set<string>([p]);
      while (cur !== undefined && !seen.has(cur)) {
        chain.unshift(cur);
        seen.add(cur);
        cur = rc.loaders.get(cur);
      }
      out.push({ root: rc.path, chain });
    }
  }
  return out;
}

/** What `elfcopy deps` computes: inputs expanded (files, directories, globs), then their closure. */
export function analyzeDeps(args: readonly string[], options: ResolveOptions = {}): ClosureGraph {
  const resolver = new Resolver(options);
  const inputs = collectInputs(resolver.root, args, options.cwd);
  const graph = resolver.resolve(inputs.files);
  graph.inputErrors.unshift(...inputs.errors);
  return graph;
}
