/**
 * How the CLI speaks: one line per problem, `elfcopy: PATH: reason`, on stderr. Library errors carry the
 * path and reason; anything else that escapes is a bug and is reported as such (still one line, unless
 * ELFCOPY_DEBUG is set).
 */
import { ElfDepsError } from '@elfcopy/elf-deps';
import { EXIT_BAD_INPUT, EXIT_JAIL_IO } from './exit-codes.js';
import { escapeName } from './format/escape.js';

export interface Reporter {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  verbose(line: string): void;
}

export function makeReporter(opts: { quiet?: boolean; verbose?: boolean }, stderr?: NodeJS.WritableStream): Reporter {
  // process.stderr is made on first use (~3 ms: its stream classes load then): a run with nothing to
  // say never pays for it.
  // One line per message, always: a newline or escape sequence in a name (or in any message) is shown
  // escaped as line output shows names (format/escape.ts), never acted on by the terminal.
  const write = (text: string): void => void (stderr ?? process.stderr).write(`${escapeName(text)}\n`);
  return {
    error: (l) => write(`elfcopy: ${l}`),
    warn: (l) => {
      if (!opts.quiet) write(`elfcopy: warning: ${l}`);
    },
    info: (l) => {
      if (!opts.quiet) write(l);
    },
    verbose: (l) => {
      if (opts.verbose) write(l);
    },
  };
}

/** `PATH: reason` for a typed error with a path, the message otherwise. */
export function describeError(err: unknown): string {
  if (err instanceof ElfDepsError) return `${err.path}: ${err.message}`;
  if (err instanceof Error && 'path' in err && typeof (err as { path: unknown }).path === 'string') {
    return `${(err as { path: string }).path}: ${err.message}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** errno codes by which a file system refuses a write (the jail's, or any the run writes to). */
const WRITE_REFUSED = new Set(['EROFS', 'ENOSPC', 'EDQUOT', 'EIO', 'EMLINK', 'EFBIG', 'ENAMETOOLONG', 'EACCES', 'EPERM']);
const WRITES = new Set(['mkdir', 'write', 'rename', 'symlink', 'link', 'unlink', 'rmdir', 'chmod', 'fchmod', 'chown', 'fchown', 'lchown', 'utime', 'futime', 'copyfile', 'mknod', 'fsync', 'close', 'ftruncate']);

/**
 * A Node errno error (`code`, `syscall`) that no typed error caught is still a file-system condition,
 * never a bug: one line (`PATH: cannot SYSCALL: reason (CODE)`) and its exit code — 3 for a write the
 * file system refused, as the jail's typed JailIoError, 2 for the rest (a path that is not there, not a
 * directory, a loop of links).
 */
export function describeSystemError(err: unknown): { line: string; code: number } | undefined {
  if (!(err instanceof Error) || err instanceof ElfDepsError) return undefined;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code) || typeof e.syscall !== 'string') return undefined;
  // Node's message is "CODE: reason, syscall 'path'": keep the reason.
  const reason = /^E[A-Z0-9]+: ([^,]*)/.exec(e.message)?.[1] ?? e.code;
  const where = typeof e.path === 'string' ? `${e.path}: ` : '';
  return {
    line: `${where}cannot ${e.syscall}: ${reason} (${e.code})`,
    code: WRITE_REFUSED.has(e.code) && WRITES.has(e.syscall) ? EXIT_JAIL_IO : EXIT_BAD_INPUT,
  };
}

/** Whether output may be coloured: a TTY, NO_COLOR unset (https://no-color.org), TERM not dumb. */
export function useColor(stream: { readonly isTTY?: boolean }): boolean {
  return Boolean(stream.isTTY) && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') && process.env.TERM !== 'dumb';
}

export interface Paint {
  dim(s: string): string;
  red(s: string): string;
  bold(s: string): string;
  yellow(s: string): string;
}

export function paint(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (s: string) => (enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { dim: wrap(2, 22), red: wrap(31, 39), bold: wrap(1, 22), yellow: wrap(33, 39) };
}
