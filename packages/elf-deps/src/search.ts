/**
 * The search rules of glibc's ld.so (dl-load.c: _dl_map_object, decompose_rpath, fillin_rpath,
 * _dl_dst_substitute, open_path, open_verify), one function each, returning candidates with the reason
 * they were found or skipped. Nothing here executes or maps a file: candidates are verified by reading
 * their ELF header.
 */
import * as path from 'node:path';
import { ByteSource } from './bytes.js';
import { ElfDepsError, ElfFormatError, NotElfError, UnreadableFileError } from './errors.js';
import { ELFOSABI_GNU, ELFOSABI_SYSV, ET_DYN, ET_EXEC, EV_CURRENT, machineName } from './elf/constants.js';
import { ElfFile, type ElfInfo } from './elf/file.js';
import { PHDR_SIZE, readHeader } from './elf/header.js';
import type { LoaderTarget } from './target.js';
import type { SysRoot } from './sysroot.js';

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
export function subdirsFor(target: LoaderTarget): string[] {
  return [...target.hwcaps.map((h) => `glibc-hwcaps/${h}`), ...target.legacyHwcapDirs, ''];
}

export type VerifyOutcome =
  | { ok: true; info: ElfInfo; file: ElfFile }
  | { ok: false; reason: 'wrong-class' | 'wrong-machine'; detail: string }
  | { ok: false; reason: 'invalid'; detail: string; error: ElfDepsError };

/**
 * dl-load.c open_verify: a file of another class or machine is skipped (the search goes on); any other
 * defect (not ELF, truncated, other byte order, OS ABI, e_type, phentsize) is fatal for this name.
 */
/** With `notes`, the info carries the file's `.note.dlopen` entries; the file's descriptor is closed either way. */
export function verifyCandidate(root: SysRoot, candidate: string, target: LoaderTarget, read: { notes?: boolean } = {}): VerifyOutcome {
  let src: ByteSource;
  try {
    src = root.open(candidate);
  } catch (err) {
    if (err instanceof ElfDepsError) return { ok: false, reason: 'invalid', detail: err.message, error: err };
    throw err;
  }
  let adopted = false;
  try {
    const parsed = readHeader(src);
    const { header } = parsed;
    if (header.elfClass !== target.elfClass) {
      return { ok: false, reason: 'wrong-class', detail: `ELF${header.elfClass}, the loader needs ELF${target.elfClass}` };
    }
    const fail = (msg: string, field: string, offset: number): VerifyOutcome => ({
      ok: false,
      reason: 'invalid',
      detail: msg,
      error: new ElfFormatError(candidate, field, offset, msg),
    });
    if (header.byteOrder !== target.byteOrder) return fail(`ELF file data encoding not ${target.byteOrder}-endian`, 'e_ident[EI_DATA]', 5);
    if (header.identVersion !== EV_CURRENT) return fail('ELF file version ident does not match current one', 'e_ident[EI_VERSION]', 6);
    if (header.osAbi !== ELFOSABI_SYSV && header.osAbi !== ELFOSABI_GNU) return fail('ELF file OS ABI invalid', 'e_ident[EI_OSABI]', 7);
    if (header.abiVersion !== 0 && !(header.osAbi === ELFOSABI_GNU && header.abiVersion <= 4)) return fail('ELF file ABI version invalid', 'e_ident[EI_ABIVERSION]', 8);
    if (!header.padZero) return fail('nonzero padding in e_ident', 'e_ident[EI_PAD]', 9);
    if (header.version !== EV_CURRENT) return fail('ELF file version does not match current one', 'e_version', 20);
    if (header.machine !== target.machine) {
      return { ok: false, reason: 'wrong-machine', detail: `${machineName(header.machine)}, the loader needs ${machineName(target.machine)}` };
    }
    if (header.type !== ET_DYN && header.type !== ET_EXEC) return fail('only ET_DYN and ET_EXEC can be loaded', 'e_type', 16);
    if (header.phentsize !== PHDR_SIZE[header.elfClass]) return fail("ELF file's phentsize not the expected size", 'e_phentsize', 0);
    // The file owns src from here (and closes it when its opening read fails).
    adopted = true;
    const file = ElfFile.adopt(src, parsed, () => root.open(candidate));
    try {
      return { ok: true, info: file.snapshot(read), file };
    } finally {
      file.close();
    }
  } catch (err) {
    if (err instanceof NotElfError || err instanceof ElfFormatError || err instanceof UnreadableFileError) {
      const detail = err instanceof NotElfError ? 'invalid ELF header' : err.message;
      return { ok: false, reason: 'invalid', detail, error: err };
    }
    throw err;
  } finally {
    if (!adopted) src.close();
  }
}
