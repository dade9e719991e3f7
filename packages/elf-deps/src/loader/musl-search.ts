/**
 * musl's rules for mapping a DT_NEEDED name to a file (ldso/dynlink.c 1.2.x: load_library, path_open,
 * fixup_rpath, map_library), for one target. What differs from glibc, and is modelled here:
 * - reserved names (libc., libpthread., librt., libm., libdl., libutil., libxnet.) and the loader's own
 *   name are the loader itself;
 * - a loaded object answers to the basename of the path it was found at (dso->shortname), then to its
 *   device and inode; never to its SONAME;
 * - LD_LIBRARY_PATH first, then the RPATH-or-RUNPATH of the requester and of every object up its chain
 *   of loaders (inherited), then the system path of the path file; no cache, no hwcaps;
 * - only $ORIGIN is expanded, a value with any other `$` is ignored whole;
 * - the first candidate that opens is final: a directory, a file of another class or machine, or any
 *   other defect fails the load, and an open error other than ENOENT/ENOTDIR/EACCES/ENAMETOOLONG (a
 *   symlink loop) ends the whole search.
 */
import { ElfDepsError, PathResolutionError, UnreadableFileError } from '../errors.js';
import { ElfFile } from '../elf/file.js';
import type { RejectedCandidate, SearchSource } from '../search.js';
import type { SysRoot } from '../sysroot.js';
import type { FamilyMapResult, FamilySearch, FamilyTried, LoadedView, LoaderWarning, SearchEnv } from './family.js';
import { absoluteEntry, readMuslSystemPath, splitMuslPath, type MuslSystemPath } from './musl-path-file.js';

/** load_library's `reserved`: the names after "lib" that are the loader itself (libc.so, libm.so.6, …). */
const RESERVED = ['c.', 'pthread.', 'rt.', 'm.', 'dl.', 'util.', 'xnet.'];

/** NAME_MAX: a longer name fails before any search. */
const NAME_MAX = 255;
/** load_library's buffer (2*NAME_MAX+2): a candidate `dir/name` that does not fit is skipped. */
const PATH_BUF = 2 * NAME_MAX + 2;

/** Whether load_library treats `name` as the loader itself by its reserved prefixes. */
export function isMuslReservedName(name: string): boolean {
  return name.startsWith('lib') && RESERVED.some((r) => name.startsWith(r, 3));
}

/**
 * fixup_rpath's expansion of one RPATH/RUNPATH value: each `$ORIGIN` or `${ORIGIN}` (a prefix test, as
 * strncmp: `$ORIGINAL` is `$ORIGIN` then `AL`) becomes `origin`; any other `$` drops the whole value.
 */
export function expandMuslOrigin(value: string, origin: () => string | undefined): string | undefined {
  if (!value.includes('$')) return value;
  let out = '';
  let rest = value;
  let originDir: string | undefined;
  for (let at = rest.indexOf('$'); at >= 0; at = rest.indexOf('$')) {
    const braced = rest.startsWith('${ORIGIN}', at);
    if (!braced && !rest.startsWith('$ORIGIN', at)) return undefined;
    originDir ??= origin();
    if (originDir === undefined) return undefined;
    out += rest.slice(0, at) + originDir;
    rest = rest.slice(at + (braced ? 9 : 7));
  }
  return out + rest;
}

/** fixup_rpath: origin is the text before the last '/' of the name an object was opened by ('.' without one). */
function dirOfName(p: string): string {
  const slash = p.lastIndexOf('/');
  return slash < 0 ? '.' : p.slice(0, slash);
}

type Probe =
  | { kind: 'absent' }
  | { kind: 'stop'; detail: string }
  | { kind: 'file'; dev: number; ino: number };

export class MuslSearch implements FamilySearch {
  readonly warnings: LoaderWarning[];
  readonly loaderFiles: { path: string; reason: string }[];
  private readonly system: MuslSystemPath;
  private readonly rpathMemo = new WeakMap<LoadedView, { source: SearchSource; entries: string[] } | null>();
  private readonly libcMemo = new Map<string, boolean>();

  constructor(
    private readonly root: SysRoot,
    interpreter: string,
    ldsoArch: string,
  ) {
    this.system = readMuslSystemPath(root, interpreter, ldsoArch);
    this.warnings = [...this.system.warnings];
    this.loaderFiles = this.system.source === 'file' ? [{ path: this.system.file, reason: `musl's path file (the system path of ${interpreter})` }] : [];
  }

  mapName<T extends LoadedView>(name: string, requester: T, loaded: readonly T[], env: SearchEnv): FamilyMapResult<T> {
    const tried: FamilyTried[] = [];
    const rejected: RejectedCandidate[] = [];
    const missing = (reason: 'not-found' | 'invalid', detail?: string): FamilyMapResult<T> => {
      const m: FamilyMapResult<T> = { kind: 'missing', reason, tried, rejected };
      if (detail !== undefined) m.detail = detail;
      return m;
    };
    if (name === '') return missing('invalid', 'an empty name (EINVAL)');
    if (isMuslReservedName(name)) return { kind: 'loader', detail: `a reserved name: musl's loader is the C library` };
    if (name === env.interpreter) return { kind: 'loader', detail: "the loader's own name" };
    // The objects load_library compares with: head->next onwards (not the main program), and never
    // the loader's own map (its dev and ino are never set).
    const others = loaded.filter((o) => !o.isMain && !o.isInterpreter);

    if (name.includes('/')) {
      const p = absoluteEntry(name, env.cwd);
      const probe = this.probe(p);
      if (probe.kind === 'absent') return missing('not-found');
      if (probe.kind === 'stop') return missing('invalid', probe.detail);
      const same = others.find((o) => o.info.dev === probe.dev && o.info.ino === probe.ino);
      if (same) return { kind: 'reused', object: same };
      return this.take(p, name, { kind: 'path' }, undefined, tried, rejected, env, missing);
    }

    const byName = others.find((o) => o.shortname === name);
    if (byName) return { kind: 'reused', object: byName };
    if (name.length > NAME_MAX) return missing('not-found', `longer than NAME_MAX (${NAME_MAX})`);

    const paths: { source: SearchSource; entries: string[] }[] = [];
    // __dls3: LD_LIBRARY_PATH is ignored in secure mode; it is used as written (no $ORIGIN).
    if (env.ldLibraryPath !== undefined && !env.secure) paths.push({ source: { kind: 'ld_library_path' }, entries: splitMuslPath(env.ldLibraryPath) });
    for (let p: LoadedView | undefined = requester; p; p = p.loader) {
      const rp = this.rpathOf(p, env.secure);
      if (rp) paths.push(rp);
    }
    const sys: SearchSource = this.system.source === 'file' ? { kind: 'path-file', file: this.system.file } : { kind: 'system-dir' };
    paths.push({ source: sys, entries: this.system.entries });

    for (const sp of paths) {
      for (const entry of sp.entries) {
        const dir = absoluteEntry(entry, env.cwd);
        tried.push({ dir, source: sp.source });
        // snprintf into load_library's buffer: a candidate that does not fit is not tried.
        if (`${entry}/${name}`.length >= PATH_BUF) continue;
        const candidate = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const probe = this.probe(candidate);
        if (probe.kind === 'absent') continue;
        if (probe.kind === 'stop') return missing('invalid', probe.detail);
        // path_open: open() failing with EACCES is "not here", the search goes on.
        const v = env.verify(candidate);
        if (!v.ok && v.reason === 'invalid' && v.error instanceof UnreadableFileError && v.error.kind === 'permission') continue;
        const same = others.find((o) => o.info.dev === probe.dev && o.info.ino === probe.ino);
        if (same) {
          // A library first loaded by a path name now answers to the basename of that path.
          same.shortname ??= same.path.slice(same.path.lastIndexOf('/') + 1);
          return { kind: 'reused', object: same };
        }
        return this.take(candidate, `${entry}/${name}`, sp.source, name, tried, rejected, env, missing);
      }
    }
    return missing('not-found');
  }

  /** map_library on the first candidate that opened: it loads or the load fails, there is no next one. */
  private take<T extends LoadedView>(
    candidate: string,
    openedAs: string,
    via: SearchSource | { kind: 'path' },
    shortname: string | undefined,
    tried: FamilyTried[],
    rejected: RejectedCandidate[],
    env: SearchEnv,
    missing: (reason: 'not-found' | 'invalid', detail?: string) => FamilyMapResult<T>,
  ): FamilyMapResult<T> {
    const v = env.verify(candidate);
    if (!v.ok) {
      rejected.push({ path: candidate, reason: v.reason, detail: v.detail });
      // map_library checks e_type and PT_DYNAMIC only: a file of another machine is mapped (and the
      // program cannot run), one of another class fails (ENOEXEC). Neither is skipped for the next one.
      const why = v.reason === 'wrong-machine' ? "musl's loader maps it without checking the machine, and the program cannot run" : "Exec format error: musl's loader does not go on to the next candidate";
      return missing('invalid', `${candidate}: ${v.detail} (${why})`);
    }
    // load_library: a file defining __libc_start_main and stdin is a C library; the loader refuses a
    // second one and answers with itself.
    if (this.isLibc(candidate)) return { kind: 'loader', detail: `${candidate} is a C library (defines __libc_start_main and stdin)` };
    const found: FamilyMapResult<T> = { kind: 'found', path: candidate, openedAs, info: v.info, via, tried, rejected };
    if (shortname !== undefined) found.shortname = shortname;
    return found;
  }

  /** open(2) as path_open sees it: absent (search on), a hard failure (search over), or a file that opened. */
  private probe(candidate: string): Probe {
    let real: string | undefined;
    try {
      real = this.root.realpath(candidate);
    } catch (err) {
      if (err instanceof PathResolutionError) return { kind: 'stop', detail: `${candidate}: too many levels of symbolic links (ELOOP ends musl's search)` };
      throw err;
    }
    if (real === undefined) return { kind: 'absent' };
    const st = this.root.stat(candidate);
    if (st === undefined) return { kind: 'absent' };
    // open(O_RDONLY) succeeds on these; the read or the mapping then fails.
    if (st.isDirectory()) return { kind: 'stop', detail: `${candidate}: is a directory (musl's loader opens it and the load fails)` };
    if (st.isFIFO()) return { kind: 'stop', detail: `${candidate}: is a FIFO: musl's loader would block opening it` };
    if (!st.isFile()) return { kind: 'stop', detail: `${candidate}: is not a regular file (musl's loader opens it and the load fails)` };
    return { kind: 'file', dev: st.dev, ino: st.ino };
  }

  /** The object's RPATH-or-RUNPATH as one search path (decode_dyn: DT_RUNPATH wins), or none. */
  private rpathOf(p: LoadedView, secure: boolean): { source: SearchSource; entries: string[] } | undefined {
    const memo = this.rpathMemo.get(p);
    if (memo !== undefined) return memo ?? undefined;
    const dyn = p.info.dynamic;
    const value = dyn?.runpath ?? dyn?.rpath;
    let out: { source: SearchSource; entries: string[] } | null = null;
    if (dyn && value !== undefined) {
      // fixup_rpath: the main program's origin is /proc/self/exe, which secure mode does not trust;
      // a library's is the name it was opened by, which must be absolute in secure mode.
      const origin = (): string | undefined => {
        if (p.isMain) return secure ? undefined : p.origin();
        const o = dirOfName(p.openedAs ?? p.path);
        return secure && !o.startsWith('/') ? undefined : o;
      };
      const expanded = expandMuslOrigin(value, origin);
      if (expanded !== undefined) {
        const source: SearchSource = dyn.runpath !== undefined ? { kind: 'runpath', owner: p.path } : { kind: 'rpath', owner: p.path };
        out = { source, entries: splitMuslPath(expanded) };
      }
    }
    this.rpathMemo.set(p, out);
    return out ?? undefined;
  }

  private isLibc(candidate: string): boolean {
    let known = this.libcMemo.get(candidate);
    if (known === undefined) {
      known = false;
      try {
        const src = this.root.open(candidate);
        try {
          const syms = ElfFile.from(src).dynamicSymbols();
          const defined = new Set(syms.filter((s) => s.defined).map((s) => s.name));
          known = defined.has('__libc_start_main') && defined.has('stdin');
        } finally {
          src.close();
        }
      } catch (err) {
        // A symbol table that cannot be read is no C library's; the file itself already verified.
        if (!(err instanceof ElfDepsError || err instanceof UnreadableFileError)) throw err;
      }
      this.libcMemo.set(candidate, known);
    }
    return known;
  }
}
