/**
 * Which files hold a named locale: glibc's setlocale looks in /usr/lib/locale/locale-archive first
 * (locale/loadarchive.c: _nl_load_locale_from_archive), then in the directory /usr/lib/locale/NAME
 * (locale/findlocale.c: _nl_find_locale), trying the name as given and with its codeset normalized
 * (intl/l10nflist.c: _nl_normalize_codeset — "UTF-8" → "utf8").
 */
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import { globInRoot } from '@elfcopy/elf-deps/internal';
import { PROFILE_GLOB } from './profile-glob.js';

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

type Read = (offset: number, length: number) => Buffer;

/**
 * The locale names a locale-archive holds (its name hash table), or undefined when it is not one. Reads
 * the header, the hash table and the names it points to, never the locale data (an archive with every
 * locale is some 200 MB).
 */
function archiveNames(read: Read, size: number): string[] | undefined {
  if (size < 28) return undefined;
  const head = read(0, 28);
  // locarchive.h: struct locarhead is host-endian; the magic says which.
  const le = head.readUInt32LE(0) === ARCHIVE_MAGIC;
  if (!le && head.readUInt32BE(0) !== ARCHIVE_MAGIC) return undefined;
  const u32 = (b: Buffer, off: number): number => (off + 4 <= b.length ? (le ? b.readUInt32LE(off) : b.readUInt32BE(off)) : 0);
  const hashOffset = u32(head, 8);
  const hashSize = Math.min(u32(head, 16), Math.floor(Math.max(0, size - hashOffset) / 12));
  const table = hashSize > 0 ? read(hashOffset, hashSize * 12) : Buffer.alloc(0);
  const names: string[] = [];
  for (let i = 0; i < hashSize; i++) {
    const nameOffset = u32(table, i * 12 + 4);
    if (nameOffset === 0 || nameOffset >= size) continue;
    // A locale name is short (language_territory.codeset@modifier): 256 bytes hold any.
    const chunk = read(nameOffset, Math.min(256, size - nameOffset));
    const end = chunk.indexOf(0);
    names.push(chunk.toString('latin1', 0, end < 0 ? chunk.length : end));
  }
  return names;
}

/** archiveNames over bytes in memory. */
export function localeArchiveNames(bytes: Buffer): string[] | undefined {
  return archiveNames((off, len) => bytes.subarray(off, off + len), bytes.length);
}

function archiveNamesInRoot(root: SysRoot): string[] | undefined {
  let src: ReturnType<SysRoot['open']> | undefined;
  try {
    if (!root.stat(ARCHIVE)?.isFile()) return undefined;
    src = root.open(ARCHIVE);
    const s = src;
    return archiveNames((off, len) => s.read(off, len, 'locale-archive'), s.size);
  } catch {
    return undefined;
  } finally {
    src?.close();
  }
}

/** The files to bring for each named locale; a name found nowhere is a warning. */
export function localeFiles(root: SysRoot, names: readonly string[]): { files: string[]; warnings: string[] } {
  const files: string[] = [];
  const warnings: string[] = [];
  let archive: string[] | undefined | null = null;
  for (const name of names) {
    const candidates = [...new Set([name, normalizeLocaleName(name)])];
    if (archive === null) archive = archiveNamesInRoot(root);
    if (archive?.some((n) => candidates.includes(n))) {
      files.push(ARCHIVE);
      continue;
    }
    const dir = candidates.map((c) => path.posix.join(LOCALE_DIR, c)).find((d) => root.stat(d)?.isDirectory());
    if (dir) files.push(...globInRoot(root, `${dir}/**`, PROFILE_GLOB));
    else warnings.push(`locale '${name}' is neither in ${ARCHIVE} nor a directory of ${LOCALE_DIR} (run locale-gen on the host)`);
  }
  return { files, warnings };
}
