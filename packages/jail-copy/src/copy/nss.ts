/**
 * NSS: which modules glibc will dlopen() for the databases nsswitch.conf names. This is what the article's
 * `getpwnam("www-data") failed` was about: DT_NEEDED never shows these.
 */

export interface NssEntry {
  database: string;
  services: string[];
  /** Line number in the file (1-based). */
  line: number;
}

/** Services built into libc since glibc 2.34 (libnss_files.so.2 and libnss_dns.so.2 are empty stubs). */
export const BUILTIN_SINCE_2_34: ReadonlySet<string> = new Set(['files', 'dns']);

/** glibc's defaults when nsswitch.conf lacks a database (nss/nsswitch.c): only built-in services. */
export const DEFAULT_SERVICES: readonly string[] = ['files', 'dns'];

/**
 * What glibc uses for a database nsswitch.conf does not name — all of them when there is no file, as in
 * a jail without its own /etc/nsswitch.conf (glibc ≥ 2.33, nss/nss_database.c:
 * nss_database_select_default, built without --enable-obsolete-nsl as Debian's is): hosts and networks
 * `dns [!UNAVAIL=return] files`, the rest `files`; initgroups falls back to group. Left out: the
 * *_compat databases, read only by the `compat` service (which these defaults do not name), and
 * publickey (`nis nisplus`), read only by the secure-RPC key functions that glibc ≥ 2.32 keeps for old
 * binaries alone.
 */
export const GLIBC_DEFAULT_DATABASES: readonly { database: string; services: readonly string[] }[] = [
  { database: 'aliases', services: ['files'] },
  { database: 'ethers', services: ['files'] },
  { database: 'group', services: ['files'] },
  { database: 'gshadow', services: ['files'] },
  { database: 'hosts', services: ['dns', 'files'] },
  { database: 'netgroup', services: ['files'] },
  { database: 'networks', services: ['dns', 'files'] },
  { database: 'passwd', services: ['files'] },
  { database: 'protocols', services: ['files'] },
  { database: 'rpc', services: ['files'] },
  { database: 'services', services: ['files'] },
  { database: 'shadow', services: ['files'] },
];

/** The entries glibc acts on with no nsswitch.conf at all (line 0: not from a file). */
export function glibcDefaultEntries(): NssEntry[] {
  return GLIBC_DEFAULT_DATABASES.map((d) => ({ database: d.database, services: [...d.services], line: 0 }));
}

/**
 * nss/nss_parse_line: `database: service [STATUS=action] service …`, `#` comments; action brackets are
 * not services.
 */
export function parseNsswitch(text: string): NssEntry[] {
  const out: NssEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const colon = line.indexOf(':');
    if (colon <= 0) return;
    const database = line.slice(0, colon).trim();
    const rest = line.slice(colon + 1).replace(/\[[^\]]*\]/g, ' ');
    const services = rest.split(/\s+/).filter((s) => /^[A-Za-z0-9_.-]+$/.test(s));
    out.push({ database, services, line: i + 1 });
  });
  return out;
}

export interface NssModuleNeed {
  service: string;
  /** libnss_<service>.so.2 */
  soname: string;
  /** The databases that name it. */
  databases: string[];
}

/** The module files the entries need, built-in services left out when libc has them built in. */
export function nssModulesNeeded(entries: readonly NssEntry[], libcHasBuiltins: boolean): NssModuleNeed[] {
  const byService = new Map<string, NssModuleNeed>();
  for (const e of entries) {
    for (const s of e.services) {
      if (libcHasBuiltins && BUILTIN_SINCE_2_34.has(s)) continue;
      const need = byService.get(s) ?? { service: s, soname: `libnss_${s}.so.2`, databases: [] };
      if (!need.databases.includes(e.database)) need.databases.push(e.database);
      byService.set(s, need);
    }
  }
  return [...byService.values()];
}
