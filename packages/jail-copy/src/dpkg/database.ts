/**
 * dpkg's database of a root, read natively (no dpkg-query): the status file and its updates journal, the
 * file lists and md5sums under info/, and the diversions. Paths are answered as they are on disk:
 * merged-/usr aliases are resolved through the root's own symlinks, so /usr/lib/x86_64-linux-gnu/libc.so.6
 * belongs to libc6 although libc6's list says /lib/x86_64-linux-gnu/libc.so.6.
 *
 * Every file is read inside the root (its symlinks cannot lead out), only when it is a regular file, and
 * only up to a size no real database reaches: a hostile root gets a DpkgDatabaseError naming the file.
 */
import * as path from 'node:path';
import { SysRoot, UnreadableFileError, PathResolutionError } from '@elfcopy/elf-deps';
import { parseControl } from './control.js';
import { DpkgDatabaseError } from './errors.js';
import { packageFromParagraph, type DpkgPackage } from './package.js';

/** Where dpkg keeps its database inside a root (dpkg's ADMINDIR). */
export const DPKG_ADMINDIR = '/var/lib/dpkg';

/** Debian's whole archive installed at once has a status file of some 100 MB; more is not dpkg's. */
const MAX_STATUS_BYTES = 256 * 1024 * 1024;
/** The largest .list in Debian (a full TeX Live or a kernel's modules) is a few MB. */
const MAX_INFO_BYTES = 64 * 1024 * 1024;
const MAX_DIVERSIONS_BYTES = 16 * 1024 * 1024;
/** A journal of more entries than this was not left by an interrupted dpkg run. */
const MAX_UPDATES = 10_000;

export interface DpkgDatabaseOptions {
  /** The database's directory inside the root. Default: /var/lib/dpkg. */
  admindir?: string;
}

/** A diversion (dpkg-divert): other packages' `from` is installed as `to`; the diverter's own `from` stays. */
export interface DpkgDiversion {
  from: string;
  to: string;
  /** The diverting package's name; undefined for a local diversion (`dpkg-divert --local`). */
  by: string | undefined;
}

/** Who installed a path and what dpkg recorded for it. */
export interface DpkgFileRecord {
  package: DpkgPackage;
  /** The path as the package's list writes it (before aliases and diversions). */
  listedPath: string;
  /** The md5 dpkg recorded (md5sums, or the Conffiles field for a conffile); undefined when none is. */
  md5: string | undefined;
  conffile: boolean;
}

interface Listing {
  pkg: DpkgPackage;
  listed: string;
}

/**
 * The dpkg database of `root` (default: the host), or undefined when the root has no status file (not a
 * Debian-like root). Throws DpkgDatabaseError when a database file is unusable.
 */
export function readDpkgDatabase(root = '/', options: DpkgDatabaseOptions = {}): DpkgDatabase | undefined {
  const sys = new SysRoot(root);
  const admindir = path.posix.normalize('/' + (options.admindir ?? DPKG_ADMINDIR));
  const statusText = readDbText(sys, `${admindir}/status`, MAX_STATUS_BYTES);
  if (statusText === undefined) return undefined;
  // The updates journal holds paragraphs dpkg wrote after the status file; they win (lib/dpkg/dbmodify.c).
  const paragraphs = parseControl(statusText);
  const updates = sys.listDir(`${admindir}/updates`);
  if (updates) {
    const names = [...updates].filter((n) => /^\d+$/.test(n)).sort();
    if (names.length > MAX_UPDATES) throw new DpkgDatabaseError(sys.hostPath(`${admindir}/updates`), `holds ${names.length} journal entries, more than dpkg ever leaves there`);
    for (const n of names) paragraphs.push(...parseControl(readDbText(sys, `${admindir}/updates/${n}`, MAX_STATUS_BYTES) ?? ''));
  }
  // dpkg's native architecture is the one dpkg itself is built for.
  const dpkgPara = paragraphs.find((p) => p.get('package') === 'dpkg');
  const nativeArch = dpkgPara?.get('architecture');
  const byKey = new Map<string, DpkgPackage>();
  for (const para of paragraphs) {
    const pkg = packageFromParagraph(para, nativeArch);
    if (pkg) byKey.set(`${pkg.name}:${pkg.architecture}`, pkg);
  }
  const packages = [...byKey.values()].sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture));
  return new DpkgDatabase(sys, admindir, nativeArch, packages, readDiversions(sys, admindir));
}

export class DpkgDatabase {
  /** The root as a host path. */
  readonly root: string;
  /** The database's directory inside the root. */
  readonly admindir: string;
  /** dpkg's native architecture in this root (the `dpkg` package's), when dpkg is installed. */
  readonly nativeArch: string | undefined;
  /** Every package of the status file, installed or not (see `installed`), sorted by name and architecture. */
  readonly packages: readonly DpkgPackage[];
  readonly diversions: readonly DpkgDiversion[];
  private readonly sys: SysRoot;
  private readonly files = new Map<DpkgPackage, readonly string[]>();
  private readonly sums = new Map<DpkgPackage, ReadonlyMap<string, string>>();
  /** Canonical path → the packages that list it (built on the first path query). */
  private index: Map<string, Listing[]> | undefined;
  private infoFormat: 0 | 1 | undefined;
  private divertedAt: { d: DpkgDiversion; from: string; to: string }[] | undefined;

  constructor(sys: SysRoot, admindir: string, nativeArch: string | undefined, packages: DpkgPackage[], diversions: DpkgDiversion[]) {
    this.sys = sys;
    this.root = sys.root;
    this.admindir = admindir;
    this.nativeArch = nativeArch;
    this.packages = packages;
    this.diversions = diversions;
  }

  /** The packages dpkg-query -W lists: every one whose state is not `not-installed`. */
  get installed(): DpkgPackage[] {
    return this.packages.filter((p) => p.status.state !== 'not-installed');
  }

  /** A package by name, and by architecture when several are installed (Multi-Arch: same). */
  package(name: string, arch?: string): DpkgPackage | undefined {
    return this.packages.find((p) => p.name === name && (arch === undefined || p.architecture === arch) && p.status.state !== 'not-installed');
  }

  /** The paths the package's info/NAME.list records, as written there ("/." is "/"); [] when it has none. */
  filesOf(pkg: DpkgPackage): readonly string[] {
    let list = this.files.get(pkg);
    if (list === undefined) {
      const text = this.readInfo(pkg, 'list');
      list = text === undefined ? [] : parseList(text);
      this.files.set(pkg, list);
    }
    return list;
  }

  /** info/NAME.md5sums: listed path → md5 (conffiles are not in it; see DpkgPackage.conffiles). */
  md5sumsOf(pkg: DpkgPackage): ReadonlyMap<string, string> {
    let sums = this.sums.get(pkg);
    if (sums === undefined) {
      const text = this.readInfo(pkg, 'md5sums');
      sums = text === undefined ? new Map() : parseMd5sums(text);
      this.sums.set(pkg, sums);
    }
    return sums;
  }

  /**
   * The path as it is on disk in this root: every directory on the way resolved through the root's
   * symlinks (/lib -> usr/lib), the last component kept (a symlink that a package ships is its own entry).
   * Where directories are missing (a file removed since dpkg installed it), the deepest one there is
   * resolved and the rest appended: /lib/gone/x is /usr/lib/gone/x.
   */
  canonicalPath(p: string): string {
    const norm = path.posix.normalize('/' + p);
    if (norm === '/') return '/';
    let dir = path.posix.dirname(norm);
    let rest = path.posix.basename(norm);
    for (;;) {
      let real: string | undefined;
      try {
        real = this.sys.realpath(dir);
      } catch (err) {
        if (err instanceof PathResolutionError) return norm;
        throw err;
      }
      if (real !== undefined) return path.posix.join(real, rest);
      if (dir === '/') return norm;
      rest = path.posix.join(path.posix.basename(dir), rest);
      dir = path.posix.dirname(dir);
    }
  }

  /**
   * The packages whose lists hold `p` under any of its aliases: what `dpkg-query -S` says for the alias
   * dpkg knows (diversions not applied). Sorted by id.
   */
  listedBy(p: string): DpkgPackage[] {
    const hits = this.listingsAt(this.canonicalPath(p));
    return [...new Set(hits.map((h) => h.pkg))].sort((a, b) => cmp(a.id, b.id));
  }

  /**
   * Who installed the file at `p` on disk, diversions applied (dpkg's src/main/archives.c: a diverted
   * file of another package lands at `to`; the diverter's own stays at `from`), with dpkg's recorded md5.
   * Several records only for a path that several packages share (a directory, Multi-Arch: same files).
   */
  ownersOf(p: string): DpkgFileRecord[] {
    const at = this.canonicalPath(p);
    const out: Listing[] = [];
    this.divertedAt ??= this.diversions.map((d) => ({ d, from: this.canonicalPath(d.from), to: this.canonicalPath(d.to) }));
    const divertedTo = this.divertedAt.find((x) => x.to === at);
    const divertedFrom = this.divertedAt.find((x) => x.from === at)?.d;
    if (divertedTo) out.push(...this.listingsAt(divertedTo.from).filter((l) => l.pkg.name !== divertedTo.d.by));
    if (divertedFrom) out.push(...this.listingsAt(at).filter((l) => l.pkg.name === divertedFrom.by));
    if (!divertedTo && !divertedFrom) out.push(...this.listingsAt(at));
    return out.map((l) => this.recordOf(l)).sort((a, b) => cmp(a.package.id, b.package.id));
  }

  private recordOf(l: Listing): DpkgFileRecord {
    const conf = l.pkg.conffiles.find((c) => c.path === l.listed);
    if (conf) return { package: l.pkg, listedPath: l.listed, md5: /^[0-9a-f]{32}$/.test(conf.md5) ? conf.md5 : undefined, conffile: true };
    return { package: l.pkg, listedPath: l.listed, md5: this.md5sumsOf(l.pkg).get(l.listed), conffile: false };
  }

  private listingsAt(canonical: string): Listing[] {
    if (this.index === undefined) {
      const index = new Map<string, Listing[]>();
      for (const pkg of this.installed) {
        for (const listed of this.filesOf(pkg)) {
          const key = this.canonicalPath(listed);
          const at = index.get(key);
          if (at) at.push({ pkg, listed });
          else index.set(key, [{ pkg, listed }]);
        }
      }
      this.index = index;
    }
    return this.index.get(canonical) ?? [];
  }

  private readInfo(pkg: DpkgPackage, ext: 'list' | 'md5sums'): string | undefined {
    // Info format 1 names a Multi-Arch: same package's files NAME:ARCH; format 0 (no info/format file)
    // names every package's NAME (lib/dpkg/db-ctrl-format.c, pkg_infodb_get_file).
    this.infoFormat ??= (readDbText(this.sys, `${this.admindir}/info/format`, 64) ?? '0').trim() === '1' ? 1 : 0;
    return readDbText(this.sys, `${this.admindir}/info/${this.infoFormat === 1 ? pkg.infoName : pkg.name}.${ext}`, MAX_INFO_BYTES);
  }
}

/** A database file's text; undefined when it is not there. Named by its host path when unusable. */
function readDbText(sys: SysRoot, p: string, max: number): string | undefined {
  try {
    return sys.readText(p, max);
  } catch (err) {
    if (err instanceof UnreadableFileError || err instanceof PathResolutionError) throw new DpkgDatabaseError(sys.hostPath(p), err.message);
    throw err;
  }
}

function parseList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('/') || line.includes('\0')) continue;
    out.push(line === '/.' ? '/' : line);
  }
  return out;
}

/** `d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x/copyright`: the path relative to the root. */
function parseMd5sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{32}) [ *](.+)$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined || m[2].includes('\0')) continue;
    out.set('/' + m[2].replace(/^\/+/, ''), m[1]);
  }
  return out;
}

/** diversions: three lines per diversion — from, to, and the diverter (`:` for a local one). */
function readDiversions(sys: SysRoot, admindir: string): DpkgDiversion[] {
  const text = readDbText(sys, `${admindir}/diversions`, MAX_DIVERSIONS_BYTES);
  if (text === undefined) return [];
  const lines = text.split('\n');
  const out: DpkgDiversion[] = [];
  for (let i = 0; i + 2 < lines.length; i += 3) {
    const [from, to, by] = [lines[i], lines[i + 1], lines[i + 2]];
    if (from === undefined || to === undefined || by === undefined || !from.startsWith('/') || !to.startsWith('/')) continue;
    out.push({ from, to, by: by === ':' ? undefined : by });
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
