/**
 * os-release(5) of a root: /etc/os-release, else /usr/lib/os-release. The distro qualifier of a purl is
 * `ID-VERSION_ID` (debian-12), as the purl spec's deb type shows it.
 */
import type { SysRoot } from '@elfcopy/elf-deps';

export interface OsRelease {
  id: string;
  versionId?: string;
  versionCodename?: string;
  prettyName?: string;
}

export function readOsRelease(root: SysRoot): OsRelease | undefined {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    let text: string | undefined;
    try {
      text = root.readText(p, 64 * 1024);
    } catch {
      text = undefined;
    }
    if (text === undefined) continue;
    const fields = new Map<string, string>();
    for (const line of text.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (!m || m[1] === undefined || m[2] === undefined) continue;
      // Values may be quoted, with shell escapes inside double quotes.
      const raw = m[2];
      const v = /^"(.*)"$/.test(raw) ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : /^'(.*)'$/.test(raw) ? raw.slice(1, -1) : raw;
      fields.set(m[1], v);
    }
    const id = fields.get('ID');
    if (id === undefined || !/^[a-z0-9._-]+$/.test(id)) continue;
    const out: OsRelease = { id };
    const versionId = fields.get('VERSION_ID');
    if (versionId !== undefined && /^[A-Za-z0-9._~-]+$/.test(versionId)) out.versionId = versionId;
    const codename = fields.get('VERSION_CODENAME');
    if (codename !== undefined) out.versionCodename = codename;
    const pretty = fields.get('PRETTY_NAME');
    if (pretty !== undefined) out.prettyName = pretty;
    return out;
  }
  return undefined;
}

/** `debian-12`; `debian-trixie` for a release without VERSION_ID (testing); the id alone failing both. */
export function distroQualifier(os: OsRelease): string {
  return `${os.id}-${os.versionId ?? os.versionCodename ?? 'unknown'}`;
}
