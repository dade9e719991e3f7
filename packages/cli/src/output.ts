/**
 * The command's output, written straight to descriptor 1 with write(2). process.stdout is made on
 * first use and costs ~3 ms of every run (its stream classes load then: net for a pipe, streams for a
 * file); a command that prints its result once, after the work, needs none of it.
 */
import * as fs from 'node:fs';
import { EXIT_SIGPIPE } from './exit-codes.js';

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** A cell no one ever notifies: Atomics.wait on it is a sleep of the thread. */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Descriptor 1 as an Output. A reader that has gone (EPIPE) ends the run quietly with 141, as a program
 * killed by SIGPIPE (Node ignores the signal). A descriptor left non-blocking by whoever holds the other
 * end (EAGAIN: the pipe is full) is retried after a 1 ms sleep until the reader has taken everything:
 * every write stays synchronous, so a run that ends with process.exit (deps) loses nothing. A stream
 * fallback would queue the rest, and the exit would drop it.
 */
export function stdoutOutput(): Output {
  return {
    // Only the tree asks (for colour); node:tty would load node:net on every run.
    get isTTY(): boolean {
      return process.stdout.isTTY;
    },
    write(text: string): boolean {
      const bytes = Buffer.from(text, 'utf8');
      let done = 0;
      while (done < bytes.length) {
        try {
          done += fs.writeSync(1, bytes, done, bytes.length - done);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EPIPE') process.exit(EXIT_SIGPIPE);
          if (code !== 'EAGAIN') throw err;
          Atomics.wait(pause, 0, 0, 1);
        }
      }
      return true;
    },
  };
}

/**
 * process.stdout, made on first use: the default stream of a command that may print (copy.ts: --json,
 * --dry-run), so a run with nothing to print (a copy's usual run) never makes the stream — ~3 ms, as
 * above; more for a pipe, whose stream loads node:net. Every property is the real stream's, methods
 * bound to it.
 */
export function lazyStdout(): NodeJS.WritableStream {
  return new Proxy(Object.create(null) as NodeJS.WritableStream, {
    get(_target, key) {
      const value: unknown = Reflect.get(process.stdout, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(process.stdout) : value;
    },
  });
}
