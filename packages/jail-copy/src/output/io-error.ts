/**
 * The file system of an output (an image layout or archive, an SBOM file) refused a write: read-only,
 * full, over quota, failing, … — the same conditions, and the same exit code in the CLI, as the jail's
 * own (JailIoError). Not elfcopy's bug, nor the input's.
 */
import { JAIL_IO_ERRNOS, JailCopyError } from '../errors.js';

export class OutputIoError extends JailCopyError {
  override name = 'OutputIoError';
  /** The errno name (ENOSPC, EROFS, …). */
  readonly code: string;
  /** What the code means, in the system's words (strerror). */
  readonly why: string;
  /** `path` is the output as the user named it (never a temporary beside it). */
  constructor(path: string, code: string, reason: string) {
    super(path, `cannot be written: ${reason} (${code}); nothing was changed there`);
    this.code = code;
    this.why = reason;
  }
}

/**
 * `err` as an OutputIoError about output `file` when its errno is one by which a file system refuses a
 * write (the jail's list: JAIL_IO_ERRNOS); undefined otherwise. The reason is the system's own words
 * (strerror, from Node's "CODE: reason, syscall 'path'").
 */
export function outputIoError(file: string, err: unknown): OutputIoError | undefined {
  if (err instanceof OutputIoError) return err.path === file ? err : new OutputIoError(file, err.code, err.why);
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  if (typeof code !== 'string' || !JAIL_IO_ERRNOS.has(code)) return undefined;
  const reason = /^E[A-Z0-9]+: ([^,]*)/.exec(typeof e?.message === 'string' ? e.message : '')?.[1] ?? code;
  return new OutputIoError(file, code, reason);
}

