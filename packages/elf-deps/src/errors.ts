/**
 * Typed errors of elf-deps. Every error a user's input can cause is one of these, so callers (the CLI)
 * can turn it into one line and an exit code; anything else is a bug.
 */

/** Base class: every elf-deps error names the file it is about. */
export class ElfDepsError extends Error {
  // Names are spelled out: a minified bundle renames classes, and `name` is part of the JSON output.
  override name = 'ElfDepsError';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
  /** The reason without the path, for `elfcopy: PATH: reason` lines. */
  get reason(): string {
    return this.message;
  }
}

/** The file exists and is readable but does not start with the ELF magic (or is too short to). */
export class NotElfError extends ElfDepsError {
  override name = 'NotElfError';
}

/** The file is ELF but a field is inconsistent: an offset or size outside the file, a bad count, … */
export class ElfFormatError extends ElfDepsError {
  override name = 'ElfFormatError';
  readonly field: string;
  readonly offset: number;
  constructor(path: string, field: string, offset: number, message: string) {
    super(path, `${message} (${field} at offset 0x${offset.toString(16)})`);
    this.field = field;
    this.offset = offset;
  }
}

export type UnreadableKind =
  | 'not-found'
  | 'directory'
  | 'fifo'
  | 'socket'
  | 'char-device'
  | 'block-device'
  | 'symlink-loop'
  | 'permission'
  | 'empty'
  | 'not-regular'
  | 'io';

/** The file cannot be read as a regular file at all (missing, a directory, a FIFO, a loop of links, …). */
export class UnreadableFileError extends ElfDepsError {
  override name = 'UnreadableFileError';
  readonly kind: UnreadableKind;
  constructor(path: string, kind: UnreadableKind, message: string) {
    super(path, message);
    this.kind = kind;
  }
}

/** A path given under a sysroot would resolve outside it, or a symlink chain is too long. */
export class PathResolutionError extends ElfDepsError {
  override name = 'PathResolutionError';
}
