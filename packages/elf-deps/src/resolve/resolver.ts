/**
 * The closure: a breadth-first walk of DT_NEEDED that maps names to files exactly as glibc's ld.so would
 * (dl-deps.c _dl_map_object_deps; the mapping itself is map-object.ts), one namespace per input, without
 * executing anything.
 */
import * as path from 'node:path';
import { ElfDepsError } from '../errors.js';
import type { ElfFile, ElfInfo } from '../elf/file.js';
import type { DlopenPriority } from '../elf/notes.js';
import { S_ISGID_BIT, S_ISUID_BIT } from '../modes.js';
import { expandSearchList, relativeDirsOf, splitLdLibraryPath, type DstContext, type RejectedCandidate } from '../search.js';
import { recordIdentities, SysRoot } from '../sysroot.js';
import { targetFor, type LoaderTarget, type TargetKey } from '../target.js';
import { archFor } from '../arch/table.js';
import { familyFor } from '../loader/families.js';
import type { FamilySearch } from '../loader/family.js';
import { collectInputs } from '../inputs.js';
import type { ClosureGraph, ClosureNode, FoundVia, MissingLibrary, RootClosure, TriedDirectory } from './graph.js';
import { ObjectMapper } from './map-object.js';
import { addToNamespace, type LoadedObject, type Namespace } from './namespace.js';
import type { ResolveOptions } from './options.js';

const PRIORITY_RANK: Record<DlopenPriority, number> = { required: 0, recommended: 1, suggested: 2 };
const NONE: readonly string[] = [];

/** Where and why an object was placed in a namespace: what its graph node records (a MapResult of kind 'new' is one). */
interface Placement {
  readonly via: FoundVia;
  readonly tried: TriedDirectory[];
  readonly rejected: RejectedCandidate[];
  readonly hwcapsSubdir: string | undefined;
  readonly variants: string[];
}

/** The placements of every input and of its interpreter: one each, never copied per input (record gives a new node lists of its own). */
const INPUT: Placement = Object.freeze({ via: Object.freeze({ kind: 'input' }), tried: [], rejected: [], hwcapsSubdir: undefined, variants: [] });
const INTERPRETER: Placement = Object.freeze({ via: Object.freeze({ kind: 'interpreter' }), tried: [], rejected: [], hwcapsSubdir: undefined, variants: [] });

let resolveCollected: (resolver: Resolver, inputs: readonly string[]) => ClosureGraph;

/** Resolves many inputs in one run: files are parsed once (by real path), directories listed once. */
export class Resolver {
  readonly root: SysRoot;
  private readonly options: ResolveOptions;
  private readonly cwd: string;
  private readonly targets = new Map<string, LoaderTarget>();
  private readonly familySearches = new Map<LoaderTarget, FamilySearch | null>();
  /** Namespaces other inputs can replay (templateKeyOf), per target; null: that namespace cannot stand for another. */
  private readonly templates = new Map<LoaderTarget, Map<string, NamespaceTemplate | null>>();
  private readonly mapper: ObjectMapper;
  /** Every target's warnings, each once, in the order met. */
  readonly warnings: string[] = [];
  private versionWarned = false;

  constructor(options: ResolveOptions = {}) {
    this.options = options;
    this.root = options.root instanceof SysRoot ? options.root : new SysRoot(options.root ?? '/');
    this.cwd = options.cwd ?? (this.root.isHost ? process.cwd() : '/');
    this.mapper = new ObjectMapper(this.root, options, this.cwd, (target) => this.familySearch(target));
  }


  /** Reads an input: throws UnreadableFileError / NotElfError / ElfFormatError for bad input. */
  readInput(p: string): ElfInfo {
    return this.mapper.readInput(p);
  }

  /**
   * The ElfFile of in-root path `p`, opened once for the resolver's life (its descriptor freed after the
   * opening read), so a caller asking later for versions or symbols of a file in the graph parses nothing
   * twice. Throws UnreadableFileError / NotElfError / ElfFormatError.
   */
  elfFile(p: string): ElfFile {
    return this.mapper.elfFile(p);
  }

  resolve(inputs: readonly string[]): ClosureGraph {
    return this.resolveInputs(inputs, false);
  }

  static {
    // analyzeDeps (below) hands over inputs collectInputs has just stat'd as regular files.
    resolveCollected = (resolver, inputs) => resolver.resolveInputs(inputs, true);
  }

  /** `checkedRegular`: every input was just seen to be a regular file (collectInputs), so open() need not look again. */
  private resolveInputs(inputs: readonly string[], checkedRegular: boolean): ClosureGraph {
    // A template names nodes of the graph it was walked in.
    this.templates.clear();
    const graph: ClosureGraph = { roots: [], nodes: new Map(), missing: [], index: 'none', inputErrors: [], warnings: this.warnings };
    const missingByKey = new Map<string, MissingLibrary>();
    for (const input of inputs) {
      let rc: RootClosure;
      try {
        rc = this.resolveOne(input, graph, checkedRegular);
      } catch (err) {
        if (err instanceof ElfDepsError) {
          graph.inputErrors.push(err);
          continue;
        }
        throw err;
      }
      if (this.options.detail === 'objects') rc.edges = [];
      for (let i = 0; i < rc.missing.length; i++) {
        const m = rc.missing[i] as MissingLibrary;
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
    this.mapper.forgetInputs();
    const idx = this.mapper.libraryIndex();
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
      const r = this.mapper.searchPaths(name, [{ source: { kind: 'ld_library_path' }, dirs }], target, tried, rejected);
      if (r.kind === 'found') return { path: r.found.path, info: r.found.info };
    }
    const idx = this.mapper.libraryIndex(target);
    const hit = idx?.lookup(name, target);
    if (hit) {
      const v = this.mapper.verify(hit.path, target);
      if (v.ok) return { path: hit.path, info: v.info };
    }
    const r = this.mapper.searchPaths(name, [{ source: { kind: 'system-dir' }, dirs: target.systemDirs }], target, tried, rejected);
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

  /** The sonames `info` declares in .note.dlopen at the chosen priority: each entry's first alternative that resolves wins. */
  private dlopenGroups(info: ElfInfo): string[][] {
    const limit = this.options.dlopen;
    if (!limit || !info.dlopenNotes) return [];
    return info.dlopenNotes.filter((n) => PRIORITY_RANK[n.priority] <= PRIORITY_RANK[limit]).map((n) => n.sonames);
  }

  private resolveOne(input: string, graph: ClosureGraph, checkedRegular: boolean): RootClosure {
    const abs = path.posix.isAbsolute(input) ? path.posix.normalize(input) : path.posix.join(this.cwd, input);
    const mainInfo = this.mapper.readInput(abs, checkedRegular);
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
    this.record(graph, rc, abs, abs, mainInfo, INPUT, undefined);
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
    const interp = this.mapper.loadInterpreter(interpPath, target);
    if (interp.ok) {
      this.record(graph, rc, interpPath, interpPath, interp.info, INTERPRETER, abs);
      if (full) rc.edges.push({ from: abs, name: interpPath, to: interpPath, via: { kind: 'interpreter' } });
    } else {
      rc.missing.push({ name: interpPath, neededBy: [abs], reason: interp.reason, detail: interp.detail, tried: [], rejected: [] });
      if (full) rc.edges.push({ from: abs, name: interpPath, to: undefined, via: { kind: 'interpreter' } });
    }

    // A program whose namespace another input of this run already had: replayed, not walked again.
    const templateKey = familySearch ? undefined : this.templateKeyOf(mainInfo, secure, interpPath, abs, target);
    const templates = templateKey === undefined ? undefined : this.templatesOf(target);
    if (templateKey !== undefined && templates) {
      const known = templates.get(templateKey);
      if (known && this.replay(known, graph, rc, abs, mainInfo)) return rc;
    }

    // The walk: the program's and the interpreter's maps first, in that order.
    const main: LoadedObject = {
      path: abs,
      names: new Set<string>().add(abs),
      firstName: abs,
      info: mainInfo,
      loader: undefined,
      isMain: true,
      isInterpreter: false,
      origin: () => this.mainOrigin(abs, mainTarget),
    };
    const loaded: Namespace = { objects: [], byName: new Map() };
    addToNamespace(loaded, main);
    if (interp.ok) {
      addToNamespace(loaded, {
        path: interpPath,
        names: new Set([interpPath, ...(interp.info.dynamic?.soname ? [interp.info.dynamic.soname] : [])]),
        firstName: interpPath,
        info: interp.info,
        loader: main,
        isMain: false,
        isInterpreter: true,
        origin: () => path.posix.dirname(interpPath),
      });
    }
    const objectsStart = rc.objects.length;
    const missingStart = rc.missing.length;
    let mainAnswered = false;

    const llp = this.options.ldLibraryPath;
    const mainCtx = this.mapper.dstContext(main, target, secure);
    const llpDirs = llp !== undefined && !secure ? expandSearchList(splitLdLibraryPath(llp), mainCtx, this.cwd) : [];

    // dl-deps.c: breadth first; the queue is the list of objects in load order. Indexed loops, not
    // for…of: this runs mostly before V8 optimises it, where each iterator step allocates.
    const queue: LoadedObject[] = [main];
    // The index loop sees the objects pushed while it runs.
    for (let q = 0; q < queue.length; q++) {
      const requester = queue[q] as LoadedObject;
      const needed = requester.info.dynamic?.needed ?? NONE;
      // A node's dependencies are the same in every namespace it is met in: recorded the first time.
      const node = graph.nodes.get(requester.path);
      const deps: { name: string; path: string | undefined }[] | undefined = node && node.dependencies.length === 0 ? [] : undefined;
      for (let k = 0; k < needed.length; k++) {
        const name = needed[k] as string;
        const result = this.mapper.mapObject(name, requester, loaded, target, secure, llpDirs, interpPath);
        if (result.kind === 'loader') {
          deps?.push({ name, path: interpPath });
          if (full) rc.edges.push({ from: requester.path, name, to: interpPath, via: { kind: 'loader-itself', detail: result.detail } });
          this.addNeededBy(graph, interpPath, requester.path);
          continue;
        }
        if (result.kind === 'reused') {
          if (result.object === main) mainAnswered = true;
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
        this.record(graph, rc, obj.path, obj.firstName, obj.info, result, requester.path);
      }
      if (this.options.dlopen) this.mapDlopenGroups(requester, loaded, queue, target, secure, llpDirs, interpPath, rc, graph);
      if (node && deps) node.dependencies = deps;
    }
    if (templateKey !== undefined && templates && !templates.has(templateKey)) {
      templates.set(templateKey, mainAnswered ? null : templateOf(graph, rc, loaded, objectsStart, missingStart));
    }
    return rc;
  }

  /**
   * The key under which an input's namespace can stand for another's, or undefined when it cannot. Under
   * --list only (the objects, the missing names and the graph's needed-by links are what a replay
   * rebuilds), for glibc's rules without LD_LIBRARY_PATH or .note.dlopen, and for a program whose
   * DT_NEEDED names hold neither a slash nor a DST (both depend on the program's own path): then the
   * walk depends only on these names, its DF_1_NODEFLIB, its SONAME (a name it answers to), the
   * interpreter, secure mode and its DT_RUNPATH or DT_RPATH as expanded for it ($ORIGIN is its own
   * directory; a relative element is marked: it ends a search path differently, open_path). Its RPATH
   * reaches every library's search, its RUNPATH its own names: in the key, two programs with the same
   * tags in different directories are two keys. A replay names the program as the owner of what it
   * tried (replay).
   */
  private templateKeyOf(info: ElfInfo, secure: boolean, interpreter: string, abs: string, target: LoaderTarget): string | undefined {
    const dyn = info.dynamic;
    if (this.options.detail !== 'objects' || this.options.dlopen || this.options.ldLibraryPath !== undefined) return undefined;
    if (!dyn || !plainNames(dyn.needed)) return undefined;
    let paths = '';
    if (dyn.runpath !== undefined || dyn.rpath !== undefined) {
      // dl-load.c: DT_RUNPATH present, DT_RPATH is ignored (decompose_rpath: an empty string is no path).
      const runpath = dyn.runpath !== undefined;
      const value = runpath ? dyn.runpath : dyn.rpath;
      const ctx: DstContext = { origin: () => this.mainOrigin(abs, target), lib: target.lib, platform: target.platform, secure, trusted: target.systemDirs };
      const dirs = value === '' ? [] : expandSearchList(runpath ? dyn.runpathList : dyn.rpathList, ctx, this.cwd);
      const relative = relativeDirsOf(dirs);
      paths = runpath ? 'U' : 'P';
      for (let i = 0; i < dirs.length; i++) {
        const d = dirs[i] as string;
        paths += `${relative?.has(d) ? 'r' : 'a'}${d}\0`;
      }
    }
    return `${secure ? 's' : ''}\0${dyn.nodeflib ? 'n' : ''}\0${interpreter}\0${dyn.soname ?? ''}\0${paths}\0${dyn.needed.join('\0')}`;
  }

  private templatesOf(target: LoaderTarget): Map<string, NamespaceTemplate | null> {
    let t = this.templates.get(target);
    if (!t) {
      t = new Map();
      this.templates.set(target, t);
    }
    return t;
  }

  /**
   * Puts `template`'s namespace under the input `abs`: its objects, its missing names (needed by `abs`
   * where they were needed by the template's program) and the program's needed-by links, in the order a
   * walk would add them. False (nothing changed) when one of its libraries is `abs` itself by device
   * and inode: the walk would reuse the program there.
   */
  private replay(template: NamespaceTemplate, graph: ClosureGraph, rc: RootClosure, abs: string, info: ElfInfo): boolean {
    const infos = template.infos;
    for (let i = 0; i < infos.length; i++) {
      const other = infos[i] as ElfInfo;
      if (other.ino === info.ino && other.dev === info.dev) return false;
    }
    for (let i = 0; i < template.objects.length; i++) rc.objects.push(template.objects[i] as string);
    // Indexed loops: a replay runs for most of a batch's programs, mostly before V8 optimises it, where
    // each for…of step allocates.
    const missing = template.missing;
    for (let i = 0; i < missing.length; i++) {
      const m = missing[i] as MissingLibrary;
      const copy = { ...m, neededBy: m.neededBy.map((by) => (by === template.main ? abs : by)) };
      // The program's own RPATH or RUNPATH was tried for it: the program owns those directories.
      if (template.ownsTried) copy.tried = m.tried.map((t) => (ownerOf(t) === template.main ? { dir: t.dir, source: { ...t.source, owner: abs } } : t));
      rc.missing.push(copy);
    }
    const deps = template.mainDependencies;
    const node = graph.nodes.get(abs);
    if (node && node.dependencies.length === 0 && deps.length > 0) node.dependencies = deps.map((d) => ({ ...d }));
    for (let i = 0; i < deps.length; i++) {
      const to = (deps[i] as { path: string | undefined }).path;
      if (to !== undefined) this.addNeededBy(graph, to, abs);
    }
    return true;
  }

  /** The .note.dlopen groups of `requester`, after its DT_NEEDED names: each group's first name that resolves is loaded. */
  private mapDlopenGroups(
    requester: LoadedObject,
    loaded: Namespace,
    queue: LoadedObject[],
    target: LoaderTarget,
    secure: boolean,
    llpDirs: string[],
    interpPath: string,
    rc: RootClosure,
    graph: ClosureGraph,
  ): void {
    for (const group of this.dlopenGroups(requester.info)) {
      let done = false;
      let lastMissing: MissingLibrary | undefined;
      for (const name of group) {
        const result = this.mapper.mapObject(name, requester, loaded, target, secure, llpDirs, interpPath);
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
        this.record(graph, rc, result.object.path, result.object.firstName, result.object.info, result, requester.path);
        break;
      }
      if (!done && lastMissing) {
        rc.edges.push({ from: requester.path, name: group.join('|'), to: undefined, via: { kind: 'path' }, dlopen: true });
        rc.missing.push({ ...lastMissing, name: group.join('|'), detail: 'declared in .note.dlopen' });
      }
    }
  }

  /** Adds `obj` to the input's object list and, the first time it is met in any namespace, to the graph. */
  private record(graph: ClosureGraph, rc: RootClosure, p: string, name: string, info: ElfInfo, placed: Placement, loader: string | undefined): void {
    rc.objects.push(p);
    // --list (detail 'objects') keeps no loaders: the map would be dropped when the input is done.
    if (this.options.detail !== 'objects') rc.loaders.set(p, loader);
    let node = graph.nodes.get(p);
    if (!node) {
      node = new GraphNode(this.root, p, name, info, placed, rc.family);
      graph.nodes.set(p, node);
    }
    if (loader !== undefined) this.addNeededBy(graph, p, loader);
  }


  /**
   * neededBy with a set beside it: libc is needed by nearly everything, an array scan per add is quadratic.
   * Not under detail 'objects' (--list): a node's neededBy is one of the edges that detail drops.
   */
  private addNeededBy(graph: ClosureGraph, p: string, by: string): void {
    if (this.options.detail === 'objects') return;
    const node = graph.nodes.get(p);
    if (node instanceof GraphNode) node.addNeededBy(by);
  }
}

/**
 * A graph node: one class, so every node has one shape (an object literal with a getter made V8 build
 * each node as a slow object, migrated on every property added).
 */
class GraphNode implements ClosureNode {
  readonly path: string;
  readonly name: string;
  declare soname?: string;
  readonly info: ElfInfo;
  readonly foundVia: FoundVia;
  readonly loader: string;
  declare hwcapsSubdir?: string;
  readonly variants: string[];
  readonly tried: TriedDirectory[];
  readonly rejected: RejectedCandidate[];
  readonly neededBy: string[] = [];
  dependencies: { name: string; path: string | undefined }[] = [];
  readonly #root: SysRoot;
  /** neededBy as a set: libc is needed by nearly everything, an array scan per add is quadratic. */
  readonly #neededBy = new Set<string>();

  constructor(root: SysRoot, p: string, name: string, info: ElfInfo, placed: Placement, loader: string) {
    this.#root = root;
    this.path = p;
    this.name = name;
    this.info = info;
    this.foundVia = placed.via;
    this.loader = loader;
    // A node's lists are its own, never a shared placement's (INPUT, INTERPRETER).
    this.variants = placed.variants.length > 0 ? placed.variants : [];
    this.tried = placed.tried.length > 0 ? placed.tried : [];
    this.rejected = placed.rejected.length > 0 ? placed.rejected : [];
    if (info.dynamic?.soname !== undefined) this.soname = info.dynamic.soname;
    if (placed.hwcapsSubdir) this.hwcapsSubdir = placed.hwcapsSubdir;
  }

  addNeededBy(by: string): void {
    if (this.#neededBy.has(by)) return;
    this.#neededBy.add(by);
    this.neededBy.push(by);
  }

  /** Resolved on first use: --list and the tree never need it, and realpath costs a syscall per component. */
  get realPath(): string {
    return this.#root.realpath(this.path) ?? this.path;
  }
}

/** One input's namespace, as another input with the same key (templateKeyOf) would have it. */
interface NamespaceTemplate {
  /** The program it was walked for. */
  main: string;
  /** The objects after the program and its interpreter, in load order. */
  objects: string[];
  /** Their files, for the device and inode test. */
  infos: ElfInfo[];
  missing: MissingLibrary[];
  /** The program's DT_NEEDED names and what each resolved to. */
  mainDependencies: { name: string; path: string | undefined }[];
  /** True when a missing name's tried directories name the program as their owner (its RPATH or RUNPATH). */
  ownsTried: boolean;
}

/** The object whose DT_RPATH or DT_RUNPATH a tried directory came from, if any. */
function ownerOf(t: TriedDirectory): string | undefined {
  return t.source.kind === 'rpath' || t.source.kind === 'runpath' ? t.source.owner : undefined;
}

/** True when no name holds a slash or a DST: each is looked up by the search rules alone. */
function plainNames(names: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) {
    const n = names[i] as string;
    if (n.includes('/') || n.includes('$')) return false;
  }
  return true;
}

/**
 * The template of a namespace just walked, or null when a library's own names hold a slash or a DST
 * (their lookup could meet the program's path).
 */
function templateOf(graph: ClosureGraph, rc: RootClosure, loaded: Namespace, objectsStart: number, missingStart: number): NamespaceTemplate | null {
  const infos: ElfInfo[] = [];
  for (let i = 1; i < loaded.objects.length; i++) {
    const o = loaded.objects[i] as LoadedObject;
    if (!plainNames(o.info.dynamic?.needed ?? NONE)) return null;
    if (!o.isInterpreter) infos.push(o.info);
  }
  const mainNode = graph.nodes.get(rc.path);
  const missing = rc.missing.slice(missingStart).map((m) => ({ ...m, neededBy: [...m.neededBy] }));
  return {
    main: rc.path,
    objects: rc.objects.slice(objectsStart),
    infos,
    missing,
    mainDependencies: (mainNode?.dependencies ?? []).map((d) => ({ ...d })),
    ownsTried: missing.some((m) => m.tried.some((t) => ownerOf(t) === rc.path)),
  };
}

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

/** What `elfcopy deps` computes: inputs expanded (files, directories, globs), then their closure. */
export function analyzeDeps(args: readonly string[], options: ResolveOptions = {}): ClosureGraph {
  const resolver = new Resolver(options);
  // Under --list, what collectInputs' stat of each input found spares the resolver the open of a second
  // name for a file already read (ObjectMapper.readInput); nothing is kept past the batch.
  const record = options.detail === 'objects' && !options.dlopen;
  if (record) recordIdentities(resolver.root, true);
  try {
    const inputs = collectInputs(resolver.root, args, options.cwd, options.onDirectoryInput);
    const graph = resolveCollected(resolver, inputs.files);
    graph.inputErrors.unshift(...inputs.errors);
    return graph;
  } finally {
    if (record) recordIdentities(resolver.root, false);
  }
}
