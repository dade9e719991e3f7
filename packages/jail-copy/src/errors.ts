/**
 * Typed errors of jail-copy: each names the in-jail path it is about (and, for links, where they point),
 * so the CLI prints `elfcopy: PATH: reason` and an exit code; `message` is the reason alone.
 */

import { ElfDepsError } from '@elfcopy/elf-deps';

/**
 * Base of jail-copy's errors: an ElfDepsError (path + reason), so every caller — the CLI included —
 * handles the errors of both packages alike.
 */
export class JailCopyError extends ElfDepsError {
  // Spelled out: a minified bundle renames classes, and `name` is part of the JSON output.
  override name = 'JailCopyError';
}

/**
 * A symlink in the jail that, followed by the host from where it stands, would leave the jail (an
 * absolute target, or `..` above the jail's root), and that the caller did not vouch for as the mirror
 * of the host's own link.
 */
export class JailEscapeError extends JailCopyError {
  override name = 'JailEscapeError';
  /** The link's path inside the jail (its parent directories resolved). */
  readonly link: string;
  /** What the link says, as written. */
  readonly target: string;
  /** The jail's real host path, when known: `${jail}${link}` is the link on the host. */
  readonly jail: string | undefined;
  constructor(link: string, target: string, jail?: string) {
    super(link, `is a symlink to '${target}', which leaves the jail${jail ? ` ${jail}` : ''}; refusing to follow it (remove it, or make it the host's own link)`);
    this.link = link;
    this.target = target;
    this.jail = jail;
  }
}

/** What a jail path holds, as a conflict reports it: `link-loop` is a chain of links that never ends. */
export type JailEntryKind = 'missing' | 'directory' | 'file' | 'symlink' | 'link-loop' | 'other';

/** The jail holds X where Y is needed: a file or a link loop where a directory goes, a directory where a file goes, … */
export class JailConflictError extends JailCopyError {
  override name = 'JailConflictError';
  /** What the jail has there (undefined when the message alone says it). */
  readonly found: JailEntryKind | undefined;
  /** What the operation needed there. */
  readonly needed: JailEntryKind | undefined;
  constructor(path: string, message: string, kinds?: { found: JailEntryKind; needed: JailEntryKind }) {
    super(path, message);
    this.found = kinds?.found;
    this.needed = kinds?.needed;
  }
}

/** JAIL itself is unusable: missing, not a directory, or the root directory. */
export class BadJailError extends JailCopyError {
  override name = 'BadJailError';
}

/** Another elfcopy run is changing this jail now: the jail's lock (copy/jail-lock.ts) names a live process. */
export class JailBusyError extends BadJailError {
  override name = 'JailBusyError';
  /** The process holding the lock, when its file says. */
  readonly pid: number | undefined;
  constructor(jail: string, pid: number | undefined, lock: string) {
    super(jail, `another elfcopy${pid !== undefined ? ` (pid ${pid})` : ''} is changing this jail; run again when it has finished (its lock: ${lock} in the jail)`);
    this.pid = pid;
  }
}

/**
 * The errors the jail's own file system gives (the jail is read-only, full, over quota, not ours to
 * write, failing): not elfcopy's bug, nor the input's. What each means, in the words a user reads.
 */
export const JAIL_IO_ERRNOS: ReadonlyMap<string, string> = new Map([
  ['EROFS', 'the jail is on a read-only file system'],
  ['ENOSPC', 'no space left on the jail\'s device'],
  ['EDQUOT', 'disk quota exceeded on the jail\'s device'],
  ['EACCES', 'permission denied'],
  ['EPERM', 'operation not permitted'],
  ['EIO', 'input/output error on the jail\'s device'],
  ['EMLINK', 'too many links (the directory holds as many subdirectories as its file system allows)'],
  ['ENAMETOOLONG', 'file name too long for the jail\'s file system'],
  ['EFBIG', 'file too large for the jail\'s file system'],
]);

/** The jail's file system refused an operation: `path` is the jail path as the user knows it (JAIL/usr/bin/x). */
export class JailIoError extends JailCopyError {
  override name = 'JailIoError';
  /** The errno name (EROFS, ENOSPC, …). */
  readonly code: string;
  constructor(path: string, code: string) {
    super(path, `cannot write in the jail: ${JAIL_IO_ERRNOS.get(code) ?? code} (${code})`);
    this.code = code;
  }
}

/**
 * `err` as a JailIoError about in-jail path `p` of the jail at host path `jailRoot`, when it is one of
 * JAIL_IO_ERRNOS (the message of the system error names /proc/self/fd/N, which no user knows); `err`
 * itself otherwise.
 */
export function asJailIoError(err: unknown, jailRoot: string, p: string): unknown {
  if (err instanceof JailCopyError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !JAIL_IO_ERRNOS.has(code)) return err;
  const norm = p === '' || p === '/' ? '' : p.startsWith('/') ? p : `/${p}`;
  return new JailIoError(`${jailRoot}${norm}`, code);
}
