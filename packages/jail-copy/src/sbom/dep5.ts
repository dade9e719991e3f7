/**
 * Licenses from a package's /usr/share/doc/NAME/copyright when it is machine-readable (DEP-5, Debian's
 * copyright-format 1.0): the License: short names of its Files paragraphs, mapped to SPDX identifiers
 * where the format's own table names one (copyright-format 1.0, "License short name").
 */
import type { SysRoot } from '@elfcopy/elf-deps';
import { parseControl } from '../dpkg/control.js';

const FORMAT = /^https?:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/?$/;
/** A copyright file beyond this is not read (the largest in Debian are a few MB). */
const MAX_COPYRIGHT_BYTES = 8 * 1024 * 1024;

/** DEP-5 short names → SPDX identifiers (the names DEP-5 defines that SPDX spells otherwise). */
const DEP5_TO_SPDX: Record<string, string> = {
  'public-domain': '',
  expat: 'MIT',
  zlib: 'Zlib',
  'bsd-2-clause': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  isc: 'ISC',
  'apache-2.0': 'Apache-2.0',
  'artistic-2.0': 'Artistic-2.0',
  'mpl-1.1': 'MPL-1.1',
  'mpl-2.0': 'MPL-2.0',
  'cc0-1.0': 'CC0-1.0',
  'ofl-1.1': 'OFL-1.1',
  'python-2.0': 'Python-2.0',
  'zpl-2.1': 'ZPL-2.1',
  'openssl': 'OpenSSL',
  'php-3.01': 'PHP-3.01',
  'gfdl-1.2': 'GFDL-1.2-only',
  'gfdl-1.3': 'GFDL-1.3-only',
  'gfdl-1.2+': 'GFDL-1.2-or-later',
  'gfdl-1.3+': 'GFDL-1.3-or-later',
};

/** GPL-2, GPL-2+, LGPL-2.1+, AGPL-3 → GPL-2.0-only, GPL-2.0-or-later, … */
function gnuToSpdx(short: string): string | undefined {
  const m = /^(a?gpl|lgpl)-(\d(?:\.\d)?)(\+)?$/i.exec(short);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  const version = m[2].includes('.') ? m[2] : `${m[2]}.0`;
  return `${m[1].toUpperCase()}-${version}-${m[3] ? 'or-later' : 'only'}`;
}

/** One DEP-5 short name as SPDX when it maps, else undefined (the caller keeps the name as written). */
export function spdxIdOf(short: string): string | undefined {
  const key = short.trim().toLowerCase();
  const mapped = DEP5_TO_SPDX[key];
  if (mapped !== undefined) return mapped === '' ? undefined : mapped;
  return gnuToSpdx(key);
}

/**
 * The distinct License: short names of the Files paragraphs (each alternative of `A or B` separately),
 * in order of first appearance; undefined when the file is missing or not DEP-5.
 */
export function readDep5Licenses(root: SysRoot, packageName: string): string[] | undefined {
  let text: string | undefined;
  try {
    text = root.readText(`/usr/share/doc/${packageName}/copyright`, MAX_COPYRIGHT_BYTES);
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  const paras = parseControl(text);
  const header = paras[0];
  if (!header || !FORMAT.test(header.get('format') ?? '')) return undefined;
  const out: string[] = [];
  for (const p of paras) {
    if (!p.has('files')) continue;
    const first = (p.get('license') ?? '').split('\n')[0]?.trim() ?? '';
    if (first === '') continue;
    for (const alt of first.split(/\s+(?:or|and)\s+/i)) {
      const name = alt.replace(/\s+with\s+.*$/i, '').trim().replace(/,$/, '');
      if (name !== '' && !out.includes(name)) out.push(name);
    }
  }
  return out;
}
