/**
 * musl's system search path (ldso/dynlink.c load_library, the `!sys_path` branch): read once from
 * `<prefix>/etc/ld-musl-<ARCH>.path`, where prefix is the loader's path two components up. No file:
 * the built-in /lib:/usr/local/lib:/usr/lib. A file that opens but cannot be read whole, or is empty,
 * or one that fails to open for a reason other than ENOENT: no system path at all.
 */
import * as fs from 'node:fs';
import { PathResolutionError } from '../errors.js';
import { MAX_CONFIG_BYTES, type SysRoot } from '../sysroot.js';
import type { LoaderWarning } from './family.js';

/** musl's built-in system path, used only when no path file exists. */
export const MUSL_DEFAULT_PATH = '/lib:/usr/local/lib:/usr/lib';

export interface MuslSystemPath {
  /** Where the loader looks for its path file (in-root). */
  file: string;
  /** file: the path file's entries; default: no path file, the built-in path; none: no system path. */
  source: 'file' | 'default' | 'none';
  /** The entries as the loader splits them (empty entries dropped, nothing normalised). */
  entries: string[];
  /** Why the path is not what the file seems to say. */
  warnings: LoaderWarning[];
}

/**
 * The path file for a loader at `interpreter`: the text before the loader path's second-to-last '/'
 * (`/lib/ld-musl-x86_64.so.1` → ``, `/usr/lib/…` → `/usr`), then `/etc/ld-musl-ARCH.path`. A relative
 * loader path gives no prefix.
 */
export function muslPathFileFor(interpreter: string, ldsoArch: string): string {
  let prefix = '';
  if (interpreter.startsWith('/')) {
    const last = interpreter.lastIndexOf('/');
    const secondLast = interpreter.lastIndexOf('/', last - 1);
    prefix = interpreter.slice(0, Math.max(secondLast, 0));
  }
  return `${prefix}/etc/ld-musl-${ldsoArch}.path`;
}

/** path_open's split: ':' and newline separate, runs of them are one separator, nothing else is trimmed. */
export function splitMuslPath(value: string): string[] {
  return value.split(/[:\n]/).filter((e) => e !== '');
}

/** Why open(2) of `p` inside the root fails, as the errno class musl tells apart: ENOENT, or other. */
function openFailure(root: SysRoot, p: string): 'enoent' | 'enotdir' | 'eloop' | undefined {
  let real: string | undefined;
  try {
    real = root.realpath(p);
  } catch (err) {
    if (err instanceof PathResolutionError) return 'eloop';
    throw err;
  }
  if (real !== undefined) return undefined;
  // Missing: ENOENT when the walk ends at a missing name, ENOTDIR when it meets a non-directory.
  const parts = p.split('/').filter((c) => c !== '');
  for (let i = 1; i < parts.length; i++) {
    const prefix = '/' + parts.slice(0, i).join('/');
    let st: fs.Stats | undefined;
    try {
      st = root.stat(prefix);
    } catch (err) {
      if (err instanceof PathResolutionError) return 'eloop';
      throw err;
    }
    if (st === undefined) return 'enoent';
    if (!st.isDirectory()) return 'enotdir';
  }
  return 'enoent';
}

/** Reads the system path a musl loader at `interpreter` (of LDSO_ARCH `ldsoArch`) would use in `root`. */
export function readMuslSystemPath(root: SysRoot, interpreter: string, ldsoArch: string): MuslSystemPath {
  const file = muslPathFileFor(interpreter, ldsoArch);
  const none = (why: string): MuslSystemPath => ({
    file,
    source: 'none',
    entries: [],
    warnings: [{ path: file, message: `${why}: musl's loader then has no system path (only LD_LIBRARY_PATH and RPATH/RUNPATH are searched)` }],
  });
  const failure = openFailure(root, file);
  if (failure === 'enoent') return { file, source: 'default', entries: splitMuslPath(MUSL_DEFAULT_PATH), warnings: [] };
  if (failure === 'enotdir') return none('a component of the path is not a directory (open fails with ENOTDIR)');
  if (failure === 'eloop') return none('too many levels of symbolic links (open fails with ELOOP)');
  const st = root.stat(file);
  if (st === undefined) return { file, source: 'default', entries: splitMuslPath(MUSL_DEFAULT_PATH), warnings: [] };
  // open(O_RDONLY) of a directory succeeds and the read fails with EISDIR: sys_path = "".
  if (st.isDirectory()) return none('is a directory (the read fails with EISDIR)');
  // The real loader's open() of a FIFO blocks until a writer comes; elfcopy never opens one.
  if (st.isFIFO()) return none('is a FIFO: musl\'s loader would block opening it; elfcopy does not open it');
  if (!st.isFile()) return none('is not a regular file');
  const warnings: LoaderWarning[] = [];
  let bytes: Buffer;
  const want = Math.min(st.size, MAX_CONFIG_BYTES);
  try {
    const real = root.realpath(file) ?? file;
    const fd = fs.openSync(root.hostPath(real), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      bytes = Buffer.alloc(want);
      let got = 0;
      while (got < want) {
        const n = fs.readSync(fd, bytes, got, want - got, got);
        if (n === 0) break;
        got += n;
      }
      bytes = bytes.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return none(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  root.noteRead(file);
  if (st.size > MAX_CONFIG_BYTES) {
    warnings.push({ path: file, message: `is ${st.size} bytes; elfcopy reads its first ${MAX_CONFIG_BYTES} (musl's loader reads it whole, or has no system path when it cannot allocate that much)` });
  }
  // The loader keeps the file as a C string: a NUL byte ends the path.
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    warnings.push({ path: file, message: `holds a NUL byte at offset ${nul} (binary data?): musl's loader reads the path only up to it` });
    bytes = bytes.subarray(0, nul);
  }
  // File names are UTF-8 to the file system calls here; bytes that are not UTF-8 name no file elfcopy can
  // open (nor, as U+FFFD, one that exists), as junk entries name none the loader can.
  const text = bytes.toString('utf8');
  const entries = splitMuslPath(text);
  if (entries.length === 0) {
    const empty = none(st.size === 0 ? 'is empty' : 'names no directory');
    return { ...empty, warnings: [...warnings, ...empty.warnings] };
  }
  // One line however much junk: each relative entry is searched relative to the working directory.
  const relative = entries.filter((e) => !e.startsWith('/'));
  const first = relative[0];
  if (first !== undefined) {
    const more = relative.length > 1 ? ` (and ${relative.length - 1} more)` : '';
    warnings.push({ path: file, message: `entry '${printable(first)}'${more} is not an absolute path: musl's loader searches it relative to the working directory` });
  }
  return { file, source: 'file', entries, warnings };
}

function printable(s: string): string {
  const shown = s.length > 60 ? `${s.slice(0, 60)}…` : s;
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`).replace(/\ufffd/g, '\\ufffd');
}

/**
 * The absolute form of a search-path entry or path name: a relative one is relative to the working
 * directory. `..` is kept: after a symlink it is the kernel's business, as when the loader opens it.
 */
export function absoluteEntry(entry: string, cwd: string): string {
  const abs = entry.startsWith('/') ? entry : `${cwd}/${entry}`;
  // '.' and empty components name nothing; '..' stays for the kernel (and the root's walk) to apply.
  const parts = abs.split('/').filter((c) => c !== '' && c !== '.');
  return '/' + parts.join('/');
}
