/**
 * The search rules of glibc's ld.so (dl-load.c: _dl_map_object, decompose_rpath, fillin_rpath,
 * _dl_dst_substitute, open_path), one function each, returning candidates with the reason they were
 * found or skipped. Candidates are verified by reading their ELF header (open-verify.ts).
 */
import * as path from 'node:path';

/** Where a directory of a search path came from. */
export type SearchSource =
  | { kind: 'rpath'; owner: string }
  | { kind: 'ld_library_path' }
  | { kind: 'runpath'; owner: string }
  | { kind: 'system-dir' }
  /** musl: the system path read from the loader's path file (etc/ld-musl-ARCH.path). */
  | { kind: 'path-file'; file: string };

/** One ordered list of directories ld.so searches, with the rule that produced it. */
export interface SearchPath {
  source: SearchSource;
  dirs: string[];
}

/** A file that existed where ld.so looked but was not taken. */
export interface RejectedCandidate {
  path: string;
  reason: 'wrong-class' | 'wrong-machine' | 'invalid';
  detail: string;
}

/** What the DSTs of one object expand to. */
export interface DstContext {
  /**
   * Directory for $ORIGIN; undefined when it cannot be known (ld.so then drops the element). A function:
   * an executable's origin needs its real path, which is only worth computing when a DST asks.
   */
  origin: () => string | undefined;
  lib: string;
  platform: string;
  /** Secure-execution mode (setuid/setgid): $ORIGIN only in trusted directories. */
  secure: boolean;
  /** Trusted directories for secure mode (the system directories). */
  trusted: readonly string[];
}

const DST_RE = /\$(\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g;

/**
 * dl-load.c _dl_dst_substitute: replaces $ORIGIN, $LIB, $PLATFORM (bare or braced). Undefined when the
 * element must be dropped (no usable origin, or $ORIGIN in secure mode outside a trusted directory).
 */
export function expandDst(element: string, ctx: DstContext): string | undefined {
  if (!element.includes('$')) return element;
  let usesOrigin = false;
  let dropped = false;
  const out = element.replace(DST_RE, (_m, _braced: string | undefined, inner: string | undefined, bare: string | undefined) => {
    const name = inner ?? bare;
    if (name === 'ORIGIN') {
      usesOrigin = true;
      const origin = ctx.origin();
      if (origin === undefined) dropped = true;
      return origin ?? '';
    }
    if (name === 'LIB') return ctx.lib;
    return ctx.platform;
  });
  if (dropped) return undefined;
  if (ctx.secure && usesOrigin) {
    // In secure mode glibc keeps a $ORIGIN element only when it expands into a trusted directory.
    const norm = path.posix.normalize(out).replace(/\/+$/, '');
    if (!ctx.trusted.some((t) => norm === t.replace(/\/+$/, ''))) return undefined;
  }
  return out;
}

/**
 * fillin_rpath: split, expand DSTs, drop what cannot be expanded, strip trailing slashes; an empty
 * element is the working directory.
 */
export function expandSearchList(elements: readonly string[], ctx: DstContext, cwd: string): string[] {
  const out: string[] = [];
  const relative = new Set<string>();
  for (const raw of elements) {
    const expanded = expandDst(raw, ctx);
    if (expanded === undefined) continue;
    let dir = expanded === '' ? cwd : expanded;
    const isRelative = !dir.startsWith('/');
    if (isRelative) dir = path.posix.join(cwd, dir);
    while (dir.length > 1 && dir.endsWith('/')) dir = dir.slice(0, -1);
    if (out.includes(dir)) continue;
    out.push(dir);
    if (isRelative) relative.add(dir);
  }
  if (relative.size > 0) relativeDirs.set(out, relative);
  return out;
}

const relativeDirs = new WeakMap<readonly string[], ReadonlySet<string>>();

/**
 * The directories of an expandSearchList result that came from relative elements (the working
 * directory joined in). dl-load.c fillin_rpath marks those "existing" up front — the working directory
 * may change — so open_path never stats them away, which is what BZ 31035 was about.
 */
export function relativeDirsOf(dirs: readonly string[]): ReadonlySet<string> | undefined {
  return relativeDirs.get(dirs);
}

/**
 * LD_LIBRARY_PATH: ':' and ';' separate, an empty element is the working directory; an empty value is no
 * search path at all (dl-load.c _dl_init_paths).
 */
export function splitLdLibraryPath(value: string): string[] {
  return value === '' ? [] : value.split(/[:;]/);
}

/** The subdirectories open_path tries inside every search directory, in order, ending with the dir itself. */
export function subdirsFor(target: { readonly hwcaps: readonly string[]; readonly legacyHwcapDirs: readonly string[] }): string[] {
  return [...target.hwcaps.map((h) => `glibc-hwcaps/${h}`), ...target.legacyHwcapDirs, ''];
}
