/**
 * Host files written whole or not at all: each goes to a temporary name beside its final one (same
 * directory, so the rename is atomic), is synced, then renamed. A reader — or a failure, a full disk —
 * sees the old file or the new one, never half of one; a temporary left by a failed run is removed.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TMP_PREFIX } from '../confine/inroot.js';
import { JailCopyError } from '../errors.js';
import { outputIoError } from './io-error.js';

/** A new temporary path in directory `dir`: the prefix of every temporary elfcopy writes (confine/inroot.ts), and 12 random hex digits. */
export function tempPathIn(dir: string): string {
  return path.join(dir, `${TMP_PREFIX}${randomBytes(6).toString('hex')}`);
}

/**
 * `text` as host file `file`, whole or not at all (an index.json, an SBOM): written to a temporary
 * beside it, synced, then renamed over it; on failure the temporary goes, and the error names `file`.
 */
export function writeTextAtomically(file: string, text: string): void {
  const temp = tempPathIn(path.dirname(file));
  try {
    fs.writeFileSync(temp, text, { flag: 'wx', mode: 0o644 });
    syncFile(temp);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    // Named by `file`: the temporary is gone, and means nothing to the user.
    throw outputIoError(file, err) ?? new JailCopyError(file, `cannot be written (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** fsync of a file or directory by name: a rename is durable only once both are on disk. */
export function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
