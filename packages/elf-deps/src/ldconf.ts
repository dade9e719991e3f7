/**
 * /etc/ld.so.conf read as glibc 2.36's ldconfig reads it (elf/ldconfig.c: parse_conf,
 * parse_conf_include, add_dir_1, add_single_dir, add_glibc_hwcaps_subdirectories). The cache ldconfig
 * would build from those directories is ldconfig-cache.ts.
 *
 * Every read goes through the SysRoot, so a root's configuration, its includes and its libraries are
 * all taken from inside it, symlinks included (what `ldconfig -r ROOT` does for the top file and the
 * directories; see readLdConf for where ldconfig itself strays outside).
 */
import * as path from 'node:path';
import type { Stats } from 'node:fs';
import { ElfDepsError, UnreadableFileError } from './errors.js';
import { FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, FLAG_LIBC4 } from './ldcache/index.js';
import type { SysRoot } from './sysroot.js';

/** Where ldconfig reads its configuration (LD_SO_CONF, SYSCONFDIR "/ld.so.conf"). */
export const LD_SO_CONF = '/etc/ld.so.conf';

/** One directory ldconfig scans. */
export interface LdConfDirectory {
  /** As ldconfig records it (`=TYPE`, trailing blanks and slashes cut, no symlink resolved): cache paths are PATH/FILE. */
  path: string;
  /** The configuration file (in-root) that named it, or "<builtin>". */
  from: string;
  /** Its line there (0 for builtin directories). */
  line: number;
  /** FLAG_* from a `DIR=TYPE` suffix (libc4, libc5, libc6, glibc2): the type plain-ELF libraries there get. */
  libType?: number;
  /** For a glibc-hwcaps/NAME subdirectory, which ldconfig adds right after its parent: NAME. */
  hwcaps?: string;
}

/** Something ldconfig would warn about (or, with -v, mention), kept as data. */
export interface LdConfNote {
  file: string;
  line: number;
  message: string;
}

export interface LdConf {
  /** The top configuration file (in-root). */
  path: string;
  /** The directories in ldconfig's order, duplicates (same device and inode) removed. */
  directories: LdConfDirectory[];
  /** Every configuration file read, in reading order. */
  files: string[];
  notes: LdConfNote[];
}

export interface ReadLdConfOptions {
  /** Default /etc/ld.so.conf. */
  path?: string;
  /**
   * Directories ldconfig always adds after the configuration (add_system_dir of SLIBDIR and LIBDIR; Debian's
   * ldconfig also /lib and /usr/lib). Default none: pass the target's system directories to mirror ldconfig.
   */
  builtinDirs?: readonly string[];
  /**
   * Parse `DIR=TYPE` (default true). glibc 2.37's ldconfig (8ee878592c4a) no longer does: the line is
   * then a directory whose name ends in "=TYPE".
   */
  libTypes?: boolean;
}

const LIB_TYPES: ReadonlyMap<string, number> = new Map([
  ['libc4', FLAG_LIBC4],
  ['libc5', FLAG_ELF_LIBC5],
  ['libc6', FLAG_ELF_LIBC6],
  ['glibc2', FLAG_ELF_LIBC6],
]);

/** C isspace in the C locale. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

/** A file's identity (also ldconfig-cache.ts's: a library met twice is taken once). */
export function inodeKey(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

/** Byte-wise (strcmp) order: glob sorts with strcoll and ldconfig forces the C collation. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * glob(3) with flags 0 over the root: wildcards in any component, dot files only for dot patterns,
 * results sorted. As in glob, the components written without wildcards stay as written ("conf.d/../x"
 * is not normalised), so a file is named the way ldconfig -v names it.
 */
function globInRoot(root: SysRoot, pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return root.lstat(pattern) ? [pattern] : [];
  let matches = [''];
  const comps = pattern.split('/');
  comps.forEach((comp, i) => {
    if (i === 0) return; // the empty component before the leading '/'
    if (!/[*?[]/.test(comp)) {
      matches = matches.map((m) => `${m}/${comp}`);
      return;
    }
    matches = matches.flatMap((m) => root.globLast(`${m}/${comp}`).map((hit) => `${m}/${path.posix.basename(hit)}`));
  });
  return matches.filter((m) => root.lstat(m) !== undefined).sort(byteOrder);
}

class DirectoryList {
  readonly directories: LdConfDirectory[] = [];
  private readonly byInode = new Map<string, LdConfDirectory>();

  constructor(
    private readonly root: SysRoot,
    private readonly notes: LdConfNote[],
    private readonly libTypes: boolean,
  ) {}

  /** add_single_dir: the first position wins, but a later mention's `=TYPE` replaces the earlier one. */
  add(entry: LdConfDirectory, st: Stats): boolean {
    const key = inodeKey(st);
    const known = this.byInode.get(key);
    if (known) {
      if (entry.libType === undefined) delete known.libType;
      else known.libType = entry.libType;
      if (entry.hwcaps === undefined) {
        this.notes.push({ file: entry.from, line: entry.line, message: `${entry.path} given more than once (first from ${known.from}:${known.line})` });
      }
      return false;
    }
    this.byInode.set(key, entry);
    this.directories.push(entry);
    return true;
  }

  /** add_dir_1: one configuration line (or builtin directory) naming a directory. */
  addLine(text: string, from: string, line: number): void {
    let dir = text;
    let libType: number | undefined;
    const eq = this.libTypes ? dir.indexOf('=') : -1;
    if (eq >= 0) {
      const type = dir.slice(eq + 1);
      dir = dir.slice(0, eq);
      libType = LIB_TYPES.get(type);
      if (libType === undefined) this.notes.push({ file: from, line, message: `${type} is not a known library type` });
    }
    let end = dir.length;
    while (end > 0 && isSpace(dir[end - 1])) end--;
    while (end > 0 && dir[end - 1] === '/') end--;
    dir = dir.slice(0, end);
    if (dir === '') return;
    const st = this.root.stat(dir);
    if (!st) {
      this.notes.push({ file: from, line, message: `can't stat ${dir}` });
      return;
    }
    const entry: LdConfDirectory = { path: dir, from, line };
    if (libType !== undefined) entry.libType = libType;
    if (this.add(entry, st)) this.addHwcapsSubdirectories(entry);
  }

  /** add_glibc_hwcaps_subdirectories: every directory (or link to one) under DIR/glibc-hwcaps. */
  private addHwcapsSubdirectories(parent: LdConfDirectory): void {
    const hwcapsDir = `${parent.path}/glibc-hwcaps`;
    const names = this.root.listDir(hwcapsDir);
    if (!names) return;
    // ldconfig takes readdir order; SysRoot lists names sorted. The order only decides which of two
    // subdirectories that are one directory (links) keeps its place, never the cache's content.
    for (const name of [...names].sort(byteOrder)) {
      // Hidden names and regular files are skipped; ld.so cannot look up names with ':' (a path separator).
      if (name.startsWith('.') || name.includes(':') || this.root.lstat(`${hwcapsDir}/${name}`)?.isFile()) continue;
      const st = this.root.stat(`${hwcapsDir}/${name}`);
      if (!st?.isDirectory()) continue;
      const entry: LdConfDirectory = { path: `${hwcapsDir}/${name}`, from: parent.from, line: parent.line, hwcaps: name };
      if (parent.libType !== undefined) entry.libType = parent.libType;
      this.add(entry, st);
    }
  }
}

/**
 * Reads ld.so.conf and its includes as ldconfig does: `#` starts a comment anywhere; a line is one
 * directory, taken whole (spaces, tabs and commas inside it are part of the name, as in glibc since
 * at least 2.17, whatever older manuals say); `include` takes blank-separated glob patterns, relative
 * ones resolved against the including file's directory, files expanded in strcmp order; `hwcap` lines
 * are ignored; directories that do not exist are dropped, and one met again (same device and inode,
 * e.g. /lib/x86_64-linux-gnu and /usr/lib/x86_64-linux-gnu on a merged-/usr system) keeps its first place.
 *
 * Where this parts from ldconfig, deliberately:
 * - An include loop is cut when a file would include itself again (a note says so). ldconfig has no
 *   guard: it recurses until fopen fails with EMFILE, and the innermost copy's lines then land first,
 *   an order that depends on the open-file limit.
 * - Under a root, every include is resolved inside it. `ldconfig -r` refuses relative patterns and
 *   resolves absolute patterns in included files on the host, not in the root.
 * - Files that are not regular (FIFOs, devices) are refused rather than opened.
 */
export function readLdConf(root: SysRoot, options: ReadLdConfOptions = {}): LdConf {
  const top = options.path ?? LD_SO_CONF;
  const notes: LdConfNote[] = [];
  const files: string[] = [];
  const list = new DirectoryList(root, notes, options.libTypes ?? true);
  const stack: string[] = [];

  // Notes about a file name the line that included it (or the file itself at the top).
  const parseFile = (file: string, includedFrom: { file: string; line: number } | undefined): void => {
    let text: string | undefined;
    let real: string;
    try {
      real = root.realpath(file) ?? file;
      if (stack.includes(real)) {
        notes.push({ ...(includedFrom ?? { file, line: 0 }), message: `include loop: ${file} is already being read; not read again` });
        return;
      }
      text = root.readText(file);
    } catch (err) {
      // parse_conf warns about files it cannot open; a directory opens but reads nothing.
      if (!(err instanceof ElfDepsError)) throw err;
      if (!(err instanceof UnreadableFileError && err.kind === 'directory')) {
        notes.push({ ...(includedFrom ?? { file, line: 0 }), message: `ignoring configuration file that cannot be opened: ${file}: ${err.reason}` });
      }
      return;
    }
    if (text === undefined) return;
    files.push(file);
    stack.push(real);
    text.split('\n').forEach((raw, i) => {
      const lineNo = i + 1;
      // A C string ends at NUL; '#' starts a comment wherever it stands (the format knows no quoting).
      let line = raw;
      const nul = line.indexOf('\0');
      if (nul >= 0) line = line.slice(0, nul);
      const hash = line.indexOf('#');
      if (hash >= 0) line = line.slice(0, hash);
      let start = 0;
      while (start < line.length && isSpace(line[start])) start++;
      const cp = line.slice(start);
      if (cp === '') return;
      if (cp.startsWith('include') && (cp[7] === ' ' || cp[7] === '\t')) {
        for (const word of cp.slice(8).split(/[ \t]/)) {
          if (word === '') continue;
          const pattern = word.startsWith('/') ? word : `${path.posix.dirname(file)}/${word}`;
          for (const match of globInRoot(root, pattern)) parseFile(match, { file, line: lineNo });
        }
      } else if (/^hwcap[ \t]/i.test(cp)) {
        notes.push({ file, line: lineNo, message: 'hwcap directive ignored' });
      } else {
        list.addLine(cp, file, lineNo);
      }
    });
    stack.pop();
  };

  parseFile(top, undefined);
  for (const dir of options.builtinDirs ?? []) list.addLine(dir, '<builtin>', 0);
  return { path: top, directories: list.directories, files, notes };
}

/** The ldconfig whose cache is predicted: the target's architecture decides how libraries are classified. */
