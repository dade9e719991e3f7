/** Typed errors of jail-copy: each names the in-jail path (and, for links, where they point). */

export class JailCopyError extends Error {
  // Spelled out: a minified bundle renames classes, and the CLI recognises these by name.
  override name = 'JailCopyError';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** A symlink in the jail that would lead a write outside the jail (and is not the host's own mirror). */
export class JailEscapeError extends JailCopyError {
  override name = 'JailEscapeError';
  readonly link: string;
  readonly target: string;
  constructor(link: string, target: string) {
    super(link, `is a symlink to '${target}', which leaves the jail; refusing to follow it (remove it, or make it what the host has)`);
    this.link = link;
    this.target = target;
  }
}

/** The jail holds something else where a directory, file or link must go. */
export class JailConflictError extends JailCopyError {
  override name = 'JailConflictError';
}

/** JAIL itself is unusable: missing, not a directory, or the root directory. */
export class BadJailError extends JailCopyError {
  override name = 'BadJailError';
}
