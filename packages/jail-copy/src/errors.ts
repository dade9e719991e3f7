/** Typed errors of jail-copy: each names the in-jail path (and, for links, where they point). */

export class JailCopyError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.path = path;
  }
}

/** A symlink in the jail that would lead a write outside the jail (and is not the host's own mirror). */
export class JailEscapeError extends JailCopyError {
  readonly link: string;
  readonly target: string;
  constructor(link: string, target: string) {
    super(link, `is a symlink to '${target}', which leaves the jail; refusing to follow it (remove it, or make it what the host has)`);
    this.link = link;
    this.target = target;
  }
}

/** The jail holds something else where a directory, file or link must go. */
export class JailConflictError extends JailCopyError {}

/** JAIL itself is unusable: missing, not a directory, or the root directory. */
export class BadJailError extends JailCopyError {}
