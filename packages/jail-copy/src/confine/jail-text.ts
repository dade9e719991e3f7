/** Reading a small text file of the jail (manifest, plan cache) without trusting any link in it. */
import * as fs from 'node:fs';
import { JailConflictError } from '../errors.js';
import type { Jail } from './inroot.js';

/** The manifest of a jail of a whole distribution is a few MB; anything this large was not written by elfcopy. */
const MAX_JAIL_TEXT = 256 * 1024 * 1024;

/**
 * A regular file of the jail read through its held parent directory, the final name opened
 * O_NOFOLLOW: a path re-walked from the host's root could be redirected between check and read.
 * Undefined when it (or a parent) is not there.
 */
export function readJailText(jail: Jail, p: string, trustLink?: (l: string, t: string) => boolean): string | undefined {
  const parent = jail.openParentIfThere(p, trustLink ? { trustLink } : {});
  if (!parent) return undefined;
  try {
    let fd: number;
    try {
      fd = fs.openSync(parent.dir.entry(parent.name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new JailConflictError(p, `${p} in the jail cannot be read as a regular file (${code ?? String(err)})`);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new JailConflictError(p, `${p} in the jail is not a regular file`);
      if (st.size > MAX_JAIL_TEXT) throw new JailConflictError(p, `${p} in the jail is ${st.size} bytes, more than elfcopy ever writes there`);
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    parent.dir.close();
  }
}
