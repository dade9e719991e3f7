/**
 * dl-load.c _dl_map_object for one name: a DST-expanded path, or the search (RPATH chain, LD_LIBRARY_PATH,
 * RUNPATH, ld.so.cache, system directories, each directory's hwcaps subdirectories), each candidate
 * verified as open_verify does; or the target family's own rules (musl). Memoised per run.
 */
import * as path from 'node:path';
import { PathResolutionError, UnreadableFileError } from '../errors.js';
import { ElfFile, readElfInfo, type ElfInfo } from '../elf/file.js';
import { readHeader } from '../elf/header.js';
import type { FamilySearch, SearchEnv } from '../loader/family.js';
import { openLibraryIndex, type LibraryIndex, type LibraryIndexOptions } from '../library-index.js';
import {
  expandDst,
  expandSearchList,
  relativeDirsOf,
  subdirsFor,
  type DstContext,
  type RejectedCandidate,
  type SearchPath,
} from '../search.js';
import { verifyCandidate, type VerifyOutcome } from '../open-verify.js';
import { fileIdentity, takeIdentityOfRun, type SysRoot } from '../sysroot.js';
import type { LoaderTarget } from '../target.js';
import type { FoundVia, MissingLibrary, TriedDirectory } from './graph.js';
import { libraryObject, registerName, type LoadedObject, type Namespace } from './namespace.js';
import type { ResolveOptions } from './options.js';

/** Maps names to files for one resolver: verified candidates, parsed files, listings and cache hits kept for the run. */
export class ObjectMapper {
  private readonly verified = new Map<string, VerifyOutcome>();
  private readonly files = new Map<string, ElfFile>();
  private readonly subdirCache = new Map<string, string[]>();
  private readonly defaultMemo = new Map<LoaderTarget, Map<string, DefaultSearch>>();
  /** Under --list, each input file of this batch read, by fileIdentity (device, inode, size, mode): a second name for it is not opened. */
  private readonly inputsByIdentity = new Map<string, ElfInfo>();
  private index: LibraryIndex | null | undefined;
  private keepRead: { notes?: boolean; keep: true } | undefined;

  constructor(
    private readonly root: SysRoot,
    private readonly options: ResolveOptions,
    private readonly cwd: string,
    /** The target family's own rules (musl), when it has them. */
    private readonly familySearch: (target: LoaderTarget) => FamilySearch | undefined,
  ) {}

  verify(candidate: string, target: LoaderTarget): VerifyOutcome {
    // Keyed by the path as found, not its real path: a realpath per candidate costs more than the rare
    // second parse of a file reached by two names.
    const key = `${candidate}\0${target.elfClass}\0${target.machine}\0${target.byteOrder}`;
    let v = this.verified.get(key);
    if (!v) {
      // --list's thousands of files are let go of (elfFile() opens one anew); a graph's are kept.
      const keep = this.options.detail !== 'objects' && !this.files.has(candidate);
      v = verifyCandidate(this.root, candidate, target, keep ? (this.keepRead ??= { ...this.readOptions(), keep: true }) : this.readOptions());
      if (v.ok && v.file) {
        this.files.set(candidate, v.file);
        v = { ok: true, info: v.info };
      }
      this.verified.set(key, v);
    }
    return v;
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
      if (this.options.detail !== 'objects') this.files.set(p, file);
    }
    return file;
  }

  /**
   * An input's info; under --list (detail 'objects') read once and let go of, as verified candidates are.
   * `checkedRegular`: the caller has just stat'd it as a regular file (SysRoot.open).
   */
  readInput(p: string, checkedRegular = false): ElfInfo {
    if (this.options.detail !== 'objects' || this.options.dlopen) return this.elfFile(p).snapshot(this.readOptions());
    // _dl_map_object_from_fd: a file is known by its device and inode. An input the stat of this run
    // (collectInputs) shows to be a file already read under another name (a hard link, a link to it) is
    // that file: its info is reused and nothing is opened. A quarter of /usr/bin's programs are such names.
    const seen = checkedRegular ? takeIdentityOfRun(this.root, p) : undefined;
    const known = seen === undefined ? undefined : this.inputsByIdentity.get(seen);
    if (known) return known.path === p ? known : { ...known, path: p };
    const src = this.root.open(p, checkedRegular);
    let info: ElfInfo;
    try {
      info = readElfInfo(src, readHeader(src));
    } finally {
      src.close();
    }
    // Keyed by what the open itself found (fstat), not by the earlier stat.
    const id = fileIdentity(info.dev, info.ino, info.size, info.mode);
    if (id !== undefined && !this.inputsByIdentity.has(id)) this.inputsByIdentity.set(id, info);
    return info;
  }

  /** The end of a batch of inputs: the files read for them are forgotten (a later batch reads its own). */
  forgetInputs(): void {
    this.inputsByIdentity.clear();
  }

  readOptions(): { notes?: boolean } {
    return this.options.dlopen ? { notes: true } : {};
  }

  libraryIndex(target?: LoaderTarget): LibraryIndex | undefined {
    if (this.index === undefined) {
      const opts: LibraryIndexOptions = {};
      if (this.options.ldCache !== undefined) opts.ldCache = this.options.ldCache;
      if (this.options.ldConf) opts.ldConf = true;
      if (target) opts.target = target;
      this.index = openLibraryIndex(this.root, opts) ?? null;
    }
    return this.index ?? undefined;
  }

  loadInterpreter(p: string, target: LoaderTarget): { ok: true; info: ElfInfo } | { ok: false; reason: 'not-found' | 'invalid'; detail: string } {
    if (this.root.realpath(p) === undefined) return { ok: false, reason: 'not-found', detail: 'the interpreter does not exist' };
    const v = this.verify(p, target);
    if (v.ok) return v;
    return { ok: false, reason: 'invalid', detail: v.detail };
  }

  dstContext(obj: LoadedObject, target: LoaderTarget, secure: boolean): DstContext {
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
  mapObject(
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
      return missingResult(name, requester, [], [], 'DST not allowed in SUID/SGID programs');
    }
    name = expanded;
    // _dl_name_match_p: a loaded object answers to the names it was requested as, its path and its
    // SONAME; the first in load order wins, which the namespace's map keeps (first registration wins).
    const known = loaded.byName.get(name);
    if (known) {
      known.names.add(name);
      return (known.reused ??= { kind: 'reused', object: known });
    }
    return this.mapNew(name, requester, loaded, target, secure, llpDirs);
  }

  /**
   * mapObject for a name no loaded object answers to. A function of its own: its closure would make V8
   * allocate a context on every call of mapObject, most of which end above, with a reused object.
   */
  private mapNew(name: string, requester: LoadedObject, loaded: Namespace, target: LoaderTarget, secure: boolean, llpDirs: string[]): MapResult {
    // Most names: no slash, no search path of the requester's chain, no LD_LIBRARY_PATH. Then the outcome
    // is defaultSearch's alone, without the lists and closure the general case below builds per name.
    if (llpDirs.length === 0 && !name.includes('/') && !this.hasOwnSearchPath(requester, target, secure)) {
      const d = this.defaultSearch(name, target, requester.info.dynamic?.nodeflib ?? false);
      if (d.fatal !== undefined) {
        return missingResult(name, requester, d.tried, d.rejected, d.fatal);
      }
      if (!d.found) return missingResult(name, requester, d.tried, d.rejected);
      return this.place(name, d.found, requester, loaded, d.tried, d.rejected);
    }
    // The general case: a name with a slash, or search paths before ld.so.cache (the chain's RPATH,
    // LD_LIBRARY_PATH, the requester's RUNPATH). defaultSearch's lists are shared (read-only) when nothing
    // came before them.
    let tried: TriedDirectory[] = [];
    let rejected: RejectedCandidate[] = [];
    let found: { path: string; via: FoundVia; hwcapsSubdir: string | undefined; variants: string[]; info: ElfInfo } | undefined;

    const fatal = (detail: string): MapResult => missingResult(name, requester, tried, rejected, detail);

    if (name.includes('/')) {
      const p = path.posix.isAbsolute(name) ? name : path.posix.join(this.cwd, name);
      if (this.root.realpath(p) === undefined) {
        return missingResult(name, requester, tried, rejected);
      }
      const v = this.verify(p, target);
      if (!v.ok) {
        if (v.reason === 'invalid') return fatal(v.detail);
        rejected.push({ path: p, reason: v.reason, detail: v.detail });
        return missingResult(name, requester, tried, rejected);
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

      if (searchPaths.length > 0) {
        const outcome = this.searchPaths(name, searchPaths, target, tried, rejected);
        if (outcome.kind === 'fatal') return fatal(outcome.detail);
        if (outcome.kind === 'found') found = outcome.found;
      }

      const nodeflib = requester.info.dynamic?.nodeflib ?? false;
      if (!found) {
        const d = this.defaultSearch(name, target, nodeflib);
        if (tried.length === 0 && rejected.length === 0) {
          tried = d.tried;
          rejected = d.rejected;
        } else {
          tried.push(...d.tried);
          rejected.push(...d.rejected);
        }
        if (d.fatal !== undefined) return fatal(d.fatal);
        found = d.found;
      }
    }
    if (!found) return missingResult(name, requester, tried, rejected);
    return this.place(name, found, requester, loaded, tried, rejected);
  }

  /** True when a DT_RPATH of the requester's chain or its own DT_RUNPATH gives it directories to search (mapNew). */
  private hasOwnSearchPath(requester: LoadedObject, target: LoaderTarget, secure: boolean): boolean {
    if (requester.info.dynamic?.runpath === undefined) {
      for (let l: LoadedObject | undefined = requester; l; l = l.loader) if (this.rpathDirs(l, target, secure).length > 0) return true;
    }
    return this.runpathDirs(requester, target, secure).length > 0;
  }

  /** The file found for `name`: a loaded object when it is one by device and inode, else a new one. */
  private place(name: string, found: FoundFile, requester: LoadedObject, loaded: Namespace, tried: TriedDirectory[], rejected: RejectedCandidate[]): MapResult {
    // _dl_map_object_from_fd: the same file (device and inode) already loaded under another name is reused.
    const { dev, ino } = found.info;
    const objects = loaded.objects;
    for (let i = 0; i < objects.length; i++) {
      const obj = objects[i] as LoadedObject;
      if (obj.info.ino === ino && obj.info.dev === dev) {
        obj.names.add(name);
        registerName(loaded, name, obj);
        return (obj.reused ??= { kind: 'reused', object: obj });
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
  searchPaths(
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

export type MapResult =
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

export type SearchOutcome =
  | { kind: 'found'; found: { path: string; via: FoundVia; hwcapsSubdir: string | undefined; variants: string[]; info: ElfInfo } }
  | { kind: 'fatal'; detail: string }
  | { kind: 'none' };

/**
 * `name` missing for `requester`: not found, or, with `fatal`, a candidate or rule that stops the search
 * (reason 'invalid', as _dl_map_object's _dl_signal_error ends the load).
 */
function missingResult(name: string, requester: LoadedObject, tried: TriedDirectory[], rejected: RejectedCandidate[], fatal?: string): MapResult {
  const neededBy = [requester.path];
  return {
    kind: 'missing',
    missing: fatal === undefined ? { name, neededBy, reason: 'not-found', tried, rejected } : { name, neededBy, reason: 'invalid', detail: fatal, tried, rejected },
  };
}
