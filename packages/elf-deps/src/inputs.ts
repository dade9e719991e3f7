/**
 * Turning command-line arguments into ELF inputs: a file, a directory (every ELF below it, found by its
 * magic bytes, not its name), or a glob. Special files are recognised by type and never opened.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeNonRegular, errnoToUnreadable } from './bytes.js';
import { ElfDepsError, NotElfError, PathResolutionError, UnreadableFileError } from './errors.js';
import { globInRoot, hasGlobChars } from './glob.js';
import type { SysRoot } from './sysroot.js';

export interface InputSet {
  /**
   * In-root absolute paths of the ELF files to analyse, in argument order, each path once. A symlink
   * to an ELF file is an input of its own (a jail needs the link and its target), even when its
   * target is an input too: /usr/lib/git-core/git-upload-pack -> ../../bin/git.
   */
  files: string[];
  /** For each file, the argument it came from. */
  origin: Map<string, string>;
  /** Arguments (or files named explicitly) that cannot be inputs, each with its typed error. */
  errors: ElfDepsError[];
}

const ELF_MAGIC = 0x7f454c46;
/** A directory walk stops descending below this depth (a guard against pathological trees). */
const MAX_DEPTH = 64;

const magicBuffer = Buffer.alloc(4);

/** True when `host` is a regular file (not followed if a link) that starts with the ELF magic. */
export function hasElfMagic(host: string): boolean {
  const st = fs.lstatSync(host, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size < 4) return false;
  return startsWithElfMagic(host);
}

/**
 * The magic test alone, for a path already known to be a regular file (a directory entry whose d_type
 * says so): O_NOFOLLOW and O_NONBLOCK keep a link or FIFO swapped in since then harmless, and a read
 * of anything but a regular file simply fails.
 */
function startsWithElfMagic(host: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(host, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
    return fs.readSync(fd, magicBuffer, 0, 4, 0) === 4 && magicBuffer.readUInt32BE(0) === ELF_MAGIC;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Expands a glob component by component inside the root ('**' is not special), as glob(3) orders it. */
export function expandGlob(root: SysRoot, pattern: string): string[] {
  return globInRoot(root, pattern);
}

function walkDirectory(root: SysRoot, dir: string, out: string[], depth: number, seenDirs: Set<string>): void {
  const real = root.realpath(dir);
  if (real === undefined || seenDirs.has(real) || depth > MAX_DEPTH) return;
  seenDirs.add(real);
  const entries = root.readDirEntries(real);
  if (!entries) return;
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) walkDirectory(root, p, out, depth + 1, seenDirs);
    else if (e.isFile()) {
      // The entry's type came with the listing: no stat before the magic test, and its real path is
      // the real directory's plus its name.
      const realFile = real === '/' ? `/${e.name}` : `${real}/${e.name}`;
      root.noteRead(realFile);
      if (startsWithElfMagic(root.hostPath(realFile))) out.push(p);
    } else if (e.isSymbolicLink()) {
      // A link to an ELF file counts, resolved inside the root; links to directories are not
      // followed (no cycles, no escapes).
      const realFile = linkedFile(root, p);
      if (realFile !== undefined && startsWithElfMagic(root.hostPath(realFile))) out.push(p);
    }
  }
}

/**
 * The real path of the regular file (of 4 bytes or more) a link met in a directory walk leads to; none
 * when it leads to no such file. A link nobody named that leads nowhere — dangling, or a loop the kernel
 * stops with ELOOP — is not an input, as a non-ELF file beside it is not: one stray link must not cost
 * the walk every ELF file of the tree.
 */
function linkedFile(root: SysRoot, p: string): string | undefined {
  try {
    const st = root.stat(p);
    if (!st?.isFile() || st.size < 4) return undefined;
    return root.realpath(p);
  } catch (err) {
    if (err instanceof PathResolutionError) return undefined;
    throw err;
  }
}

/** A '//', or a '.' or '..' component: what path.posix.normalize would change in an absolute path. */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)/;

/**
 * path.posix.normalize of an absolute path, without running it on a path it leaves as it is (every
 * argument of a batch, as a rule): it is a character loop in cold code, ~3 ms for a thousand paths.
 */
export function normalizeAbsolute(p: string): string {
  return NOT_NORMAL.test(p) ? path.posix.normalize(p) : p;
}

/**
 * Expands arguments into ELF inputs. `cwd` is used for relative arguments. A file named explicitly that
 * is not ELF is an error; non-ELF files met while walking a directory are simply not inputs.
 * `onDirectory` is told each directory (in-root path) before it is walked: the stat that tells a
 * directory from a file is made here anyway, so a caller that treats a batch differently asks no more.
 */
export function collectInputs(root: SysRoot, args: readonly string[], cwd: string = root.isHost ? process.cwd() : '/', onDirectory?: (dir: string) => void): InputSet {
  const set: InputSet = { files: [], origin: new Map(), errors: [] };
  // Keyed by the path itself, not its real path: a link and its target are two entries of the jail.
  const seen = new Set<string>();
  const add = (p: string, arg: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    set.files.push(p);
    set.origin.set(p, arg);
  };
  for (const arg of args) {
    const abs = path.posix.isAbsolute(arg) ? normalizeAbsolute(arg) : path.posix.join(cwd, arg);
    const candidates = hasGlobChars(arg) && !root.lstat(abs) ? expandGlob(root, abs) : [abs];
    if (candidates.length === 0) {
      set.errors.push(new UnreadableFileError(arg, 'not-found', 'no file matches this pattern'));
      continue;
    }
    for (const p of candidates) {
      let st: fs.Stats | undefined;
      try {
        st = root.stat(p);
      } catch (err) {
        set.errors.push(err instanceof ElfDepsError ? err : errnoToUnreadable(p, err));
        continue;
      }
      if (!st) {
        let reason: ElfDepsError = new UnreadableFileError(p, 'not-found', 'no such file or directory');
        const lst = root.lstat(p);
        if (lst?.isSymbolicLink()) reason = new UnreadableFileError(p, 'not-found', 'is a dangling symbolic link');
        set.errors.push(reason);
        continue;
      }
      if (st.isDirectory()) {
        onDirectory?.(p);
        const found: string[] = [];
        walkDirectory(root, p, found, 0, new Set());
        if (found.length === 0) set.errors.push(new NotElfError(p, 'directory contains no ELF file'));
        for (const f of found) add(f, arg);
        continue;
      }
      const bad = describeNonRegular(st);
      if (bad) {
        set.errors.push(new UnreadableFileError(p, bad.kind, bad.message));
        continue;
      }
      add(p, arg);
    }
  }
  return set;
}
