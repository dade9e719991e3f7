/**
 * What of a jail goes into an image or an SBOM: every entry below its root except elfcopy's own
 * metadata (/.elfcopy/), in one fixed order (each directory's names sorted by their UTF-8 bytes, a
 * directory before what it holds), so two runs over the same jail list the same entries the same way.
 */
import * as fs from 'node:fs';
import { hasElfMagic, readElf, ElfDepsError, type ElfInfo } from '@elfcopy/elf-deps';
import { BadJailError, JailCopyError } from '../errors.js';
import type { Jail } from '../confine/inroot.js';
import { MANIFEST_DIR } from '../copy/manifest.js';
import { walkJail, type JailEntry } from '../confine/walk.js';

export type { JailEntry };

/** Every entry of the jail but its root directory and /.elfcopy, in tar order. */
export function jailTree(jail: string): JailEntry[] {
  const keyed: { e: JailEntry; key: Buffer[] }[] = [];
  for (const e of walkJail(jail)) {
    if (e.path === '/' || e.path === MANIFEST_DIR || e.path.startsWith(MANIFEST_DIR + '/')) continue;
    keyed.push({ e, key: e.path.split('/').map((c) => Buffer.from(c)) });
  }
  // walkJail sorts names as UTF-16; tar readers and other machines agree on bytes. Component-wise:
  // /a, /a/b, /a-b (plain string order would put /a-b before /a/b).
  keyed.sort((a, b) => {
    const n = Math.min(a.key.length, b.key.length);
    for (let i = 0; i < n; i++) {
      const c = Buffer.compare(a.key[i] ?? EMPTY, b.key[i] ?? EMPTY);
      if (c !== 0) return c;
    }
    return a.key.length - b.key.length;
  });
  return keyed.map((k) => k.e);
}

const EMPTY = Buffer.alloc(0);

/** The ELF files of the tree (regular files with the magic), read; files that do not parse are skipped. */
export function jailElfFiles(tree: readonly JailEntry[]): { entry: JailEntry; elf: ElfInfo }[] {
  const out: { entry: JailEntry; elf: ElfInfo }[] = [];
  for (const entry of tree) {
    if (!entry.stat.isFile() || entry.stat.size < 52 || !hasElfMagic(entry.host)) continue;
    try {
      out.push({ entry, elf: readElf(entry.host, { displayPath: entry.path }) });
    } catch (err) {
      if (!(err instanceof ElfDepsError)) throw err;
    }
  }
  return out;
}


/** The jail's real path: it must be a directory, and not the host's root (an image or SBOM of the host is not a jail's). */
export function openJailDir(jail: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(jail);
  } catch {
    throw new BadJailError(jail, 'no such jail directory');
  }
  if (!st.isDirectory()) throw new BadJailError(jail, 'not a directory');
  const real = fs.realpathSync(jail);
  if (real === '/') throw new BadJailError(jail, "is the host's root directory, not a jail");
  return real;
}

/**
 * A descriptor on the regular file the walk saw at `e.path`: its directories resolved inside the jail
 * from held descriptors (a directory swapped for a link since the walk cannot lead to a host file), the
 * file itself opened O_NOFOLLOW and O_NONBLOCK (no link, no FIFO that blocks), and checked to be the same
 * inode. Close it when done.
 */
export function openJailFile(jail: Jail, e: JailEntry): number {
  const parent = jail.openParentIfThere(e.path);
  if (!parent) throw new JailCopyError(e.path, 'vanished from the jail while it was being read');
  let fd: number;
  try {
    fd = fs.openSync(parent.dir.entry(parent.name), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new JailCopyError(e.path, `cannot be read from the jail (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  } finally {
    parent.dir.close();
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile() || st.ino !== e.stat.ino || st.dev !== e.stat.dev || st.size !== e.stat.size) {
    fs.closeSync(fd);
    throw new JailCopyError(e.path, 'changed in the jail while it was being read');
  }
  return fd;
}
