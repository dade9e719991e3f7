/**
 * Which files hold a named locale: glibc's setlocale looks in /usr/lib/locale/locale-archive first
 * (locale/loadarchive.c: _nl_load_locale_from_archive), then in the directory /usr/lib/locale/NAME
 * (locale/findlocale.c: _nl_find_locale), trying the name as given and with its codeset normalized
 * (intl/l10nflist.c: _nl_normalize_codeset — "UTF-8" → "utf8").
 */
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import { globInRoot } from './glob.js';

export const LOCALE_DIR = '/usr/lib/locale';
const ARCHIVE = `${LOCALE_DIR}/locale-archive`;
const ARCHIVE_MAGIC = 0xde020109;

/** `de_DE.UTF-8@euro` → `de_DE.utf8@euro`, as _nl_normalize_codeset rewrites the codeset. */
export function normalizeLocaleName(name: string): string {
  const m = /^([^.@]*)(?:\.([^@]*))?(@.*)?$/.exec(name);
  if (!m || m[2] === undefined) return name;
  const alnum = m[2].replace(/[^A-Za-z0-9]/g, '').toLowerCase();
  const codeset = /^[0-9]+$/.test(alnum) ? `iso${alnum}` : alnum;
  return `${m[1] ?? ''}.${codeset}${m[3] ?? ''}`;
}

/** The locale names a locale-archive holds (its name hash table), or undefined when it is not one. */
export function localeArchiveNames(bytes: Buffer): string[] | undefined {
  if (bytes.length < 20) return undefined;
  // locarchive.h: struct locarhead is host-endian; try both orders by the magic.
  const le = bytes.readUInt32LE(0) === ARCHIVE_MAGIC;
  if (!le && bytes.readUInt32BE(0) !== ARCHIVE_MAGIC) return undefined;
  const u32 = (off: number): number => (off + 4 <= bytes.length ? (le ? bytes.readUInt32LE(off) : bytes.readUInt32BE(off)) : 0);
  const hashOffset = u32(8);
  const hashSize = u32(16);
  const names: string[] = [];
  for (let i = 0; i < hashSize && hashOffset + i * 12 + 12 <= bytes.length; i++) {
    const nameOffset = u32(hashOffset + i * 12 + 4);
    if (nameOffset === 0 || nameOffset >= bytes.length) continue;
    const end = bytes.indexOf(0, nameOffset);
    names.push(bytes.toString('latin1', nameOffset, end < 0 ? bytes.length : end));
  }
  return names;
}

/** The files to bring for each named locale; a name found nowhere is a warning. */
export function localeFiles(root: SysRoot, names: readonly string[]): { files: string[]; warnings: string[] } {
  const files: string[] = [];
  const warnings: string[] = [];
  let archive: string[] | undefined | null = null;
  for (const name of names) {
    const candidates = [...new Set([name, normalizeLocaleName(name)])];
    if (archive === null) {
      let bytes: Buffer | undefined;
      try {
        // An archive with every locale is a few hundred MB: read it whole only to list names.
        bytes = root.readBytes(ARCHIVE, 512 * 1024 * 1024);
      } catch {
        bytes = undefined;
      }
      archive = bytes ? localeArchiveNames(bytes) : undefined;
    }
    if (archive?.some((n) => candidates.includes(n))) {
      files.push(ARCHIVE);
      continue;
    }
    const dir = candidates.map((c) => path.posix.join(LOCALE_DIR, c)).find((d) => root.stat(d)?.isDirectory());
    if (dir) files.push(...globInRoot(root, `${dir}/**`));
    else warnings.push(`locale '${name}' is neither in ${ARCHIVE} nor a directory of ${LOCALE_DIR} (run locale-gen on the host)`);
  }
  return { files, warnings };
}
