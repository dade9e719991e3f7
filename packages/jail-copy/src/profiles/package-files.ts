/**
 * The generic package profile: for a program no dedicated profile knows (tclsh, ruby, lua, …), the
 * runtime files of the package that owns it and of the packages it depends on that ship runtime files
 * of their own (libtcl8.6's /usr/share/tcltk/tcl8.6, libruby's /usr/lib/ruby), read from dpkg's database
 * (dpkg/, merged-/usr aware). What is never brought:
 * - the base system wholesale: packages that are Essential or of Priority required, and everything they
 *   depend on (libc6, libc-bin, coreutils, …: what debootstrap's minbase installs). Their libraries still
 *   come through the closure, where a program needs them;
 * - documentation, man pages, translations and service-manager files (the profile's `exclude`);
 * - the packages' other programs (/usr/bin, /usr/sbin, …): a jail holds the programs it was asked for;
 * - a dependency that ships nothing but shared libraries in the library directories: the closure brings
 *   the ones that are needed, and nothing is followed through it.
 */
import * as path from 'node:path';
import type { SysRoot } from '@elfcopy/elf-deps';
import { readDpkgDatabase, type DpkgDatabase, type DpkgPackage, type DpkgRelation } from '../dpkg/index.js';

export interface PackageFiles {
  files: string[];
  /** The packages whose files were brought, in the order they were chosen. */
  packages: string[];
  warnings: string[];
  /** Host paths the answer was computed from (for the plan cache). */
  consulted: string[];
  consultedListings: string[];
}

/** Programs the generic profile looks at: executables in a bin directory (a library input is not a runtime). */
export const PROGRAM_PATH = /\/(?:s?bin|games|libexec)\/[^/]+$/;
const BIN_DIRS = /^\/(?:usr\/(?:local\/)?)?(?:s?bin|games)\//;
/** A shared library directly in a library directory: the closure's business. */
const LIBRARY_FILE = /^\/(?:usr\/)?lib(?:32|64|x32)?\/(?:[a-z0-9_]+-linux-[a-z0-9_]+\/)?lib[^/]*\.so(?:\.[0-9.]+)?$/;

/** Installed packages by name and by what they provide: a relation resolves in one lookup. */
class InstalledIndex {
  private readonly byName = new Map<string, DpkgPackage[]>();
  private readonly byProvides = new Map<string, DpkgPackage>();
  constructor(readonly db: DpkgDatabase) {
    for (const p of db.installed) {
      const list = this.byName.get(p.name) ?? [];
      list.push(p);
      this.byName.set(p.name, list);
      for (const alt of p.provides) for (const x of alt) if (!this.byProvides.has(x.name)) this.byProvides.set(x.name, p);
    }
  }

  /** The installed package a relation names: the first alternative installed, or a package that provides it. */
  installedFor(alternatives: readonly DpkgRelation[]): DpkgPackage | undefined {
    for (const rel of alternatives) {
      const arch = rel.arch && rel.arch !== 'any' && rel.arch !== 'native' ? rel.arch : undefined;
      const named = this.byName.get(rel.name) ?? [];
      // Unqualified: the native (or arch: all) package before a foreign one (libc6 before libc6:i386).
      const direct = arch ? named.find((p) => p.architecture === arch) : (named.find((p) => p.architecture === this.db.nativeArch || p.architecture === 'all') ?? named[0]);
      if (direct) return direct;
      const provider = this.byProvides.get(rel.name);
      if (provider) return provider;
    }
    return undefined;
  }

  dependsOf(pkg: DpkgPackage): DpkgPackage[] {
    const out: DpkgPackage[] = [];
    for (const alt of [...pkg.preDepends, ...pkg.depends]) {
      const p = this.installedFor(alt);
      if (p) out.push(p);
    }
    return out;
  }

  /** Essential and required packages and their dependencies, transitively: the base system. */
  baseSystem(): Set<DpkgPackage> {
    const base = new Set<DpkgPackage>();
    const queue = this.db.installed.filter(isBaseRoot);
    while (queue.length) {
      const p = queue.pop();
      if (!p || base.has(p)) continue;
      base.add(p);
      queue.push(...this.dependsOf(p));
    }
    return base;
  }
}

const isBaseRoot = (p: DpkgPackage): boolean => p.essential || p.fields.get('priority') === 'required';

const MERGED_USR_ALIASES = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** The spellings a package list may use for an on-disk path (merged /usr: /bin/x for /usr/bin/x). */
function listedSpellings(root: SysRoot, db: DpkgDatabase, p: string): string[] {
  const canonical = db.canonicalPath(p);
  const out = new Set([p, canonical]);
  // Only merged /usr's aliases: listing / would tie the plan to everything made there (/tmp's mtime).
  for (const alias of MERGED_USR_ALIASES) {
    if (!root.lstat(alias)?.isSymbolicLink()) continue;
    let real: string | undefined;
    try {
      real = root.realpath(alias);
    } catch {
      real = undefined;
    }
    if (real && real !== '/' && canonical.startsWith(real + '/')) out.add(alias + canonical.slice(real.length));
  }
  return [...out];
}

/**
 * The packages whose info/*.list names one of `programs`. One pass over the lists looking for the
 * line (a byte search, ~30 ms for a thousand packages, where building the reader's full path index
 * takes twenty times that); each hit is confirmed through the reader.
 */
function ownersOf(root: SysRoot, db: DpkgDatabase, programs: readonly string[]): Map<string, DpkgPackage[]> {
  const info = `${db.admindir}/info`;
  const wanted = new Map<string, string>();
  for (const p of programs) for (const s of listedSpellings(root, db, p)) wanted.set(s, p);
  const needles = [...wanted.keys()].map((s) => ({ s, bytes: Buffer.from(`\n${s}\n`) }));
  const out = new Map<string, DpkgPackage[]>();
  for (const name of [...(root.listDir(info) ?? [])].filter((n) => n.endsWith('.list')).sort()) {
    let text: Buffer | undefined;
    try {
      text = root.readBytes(`${info}/${name}`, 64 * 1024 * 1024);
    } catch {
      text = undefined;
    }
    if (!text) continue;
    const body = Buffer.concat([Buffer.from('\n'), text, Buffer.from('\n')]);
    const hits = needles.filter((n) => body.includes(n.bytes));
    if (hits.length === 0) continue;
    const pkg = db.installed.find((p) => `${p.infoName}.list` === name);
    if (!pkg) continue;
    const listed = new Set(db.filesOf(pkg));
    for (const h of hits) {
      if (!listed.has(h.s)) continue;
      const program = wanted.get(h.s) ?? h.s;
      const owners = out.get(program) ?? [];
      if (!owners.includes(pkg)) owners.push(pkg);
      out.set(program, owners);
    }
  }
  return out;
}

export function packageRuntimeFiles(root: SysRoot, programs: readonly string[], named: readonly string[], excluded: (p: string) => boolean): PackageFiles {
  const res: PackageFiles = { files: [], packages: [], warnings: [], consulted: [], consultedListings: [] };
  if (programs.length === 0 && named.length === 0) return res;
  let db: DpkgDatabase | undefined;
  try {
    db = readDpkgDatabase(root.root);
  } catch (err) {
    res.warnings.push(`dpkg's database is unusable: ${(err as Error).message}`);
    return res;
  }
  if (!db) {
    if (named.length) res.warnings.push(`no dpkg database in this root (${root.hostPath('/var/lib/dpkg/status')}): packages ${named.join(', ')} unknown`);
    return res;
  }
  res.consulted.push(root.hostPath(`${db.admindir}/status`));
  res.consultedListings.push(root.hostPath(`${db.admindir}/info`));
  const owners = programs.length ? ownersOf(root, db, programs) : new Map<string, DpkgPackage[]>();
  // A program of an Essential or required package (ls, true) brings nothing: no need for the base closure.
  if (named.length === 0 && [...owners.values()].every((list) => list.every(isBaseRoot))) return res;
  const index = new InstalledIndex(db);
  const base = index.baseSystem();
  const keepPrograms = new Set(programs.map((p) => db?.canonicalPath(p) ?? p));

  const runtimeFiles = (pkg: DpkgPackage): string[] => {
    const out: string[] = [];
    for (const listed of db?.filesOf(pkg) ?? []) {
      const p = db?.canonicalPath(listed) ?? listed;
      if (excluded(p) || excluded(listed)) continue;
      if (BIN_DIRS.test(p) && !keepPrograms.has(p)) continue;
      // Directories (and merged /usr's links to them, which lists still name: /lib) come with their files.
      const st = root.lstat(p);
      if (!st || st.isDirectory() || (st.isSymbolicLink() && root.stat(p)?.isDirectory())) continue;
      out.push(p);
    }
    return out;
  };

  const chosen: DpkgPackage[] = [];
  const seen = new Set<DpkgPackage>();
  const choose = (pkg: DpkgPackage): void => {
    if (seen.has(pkg)) return;
    seen.add(pkg);
    chosen.push(pkg);
    for (const dep of index.dependsOf(pkg)) {
      if (seen.has(dep) || base.has(dep)) continue;
      const files = runtimeFiles(dep);
      if (files.some((f) => !LIBRARY_FILE.test(f))) choose(dep);
    }
  };
  for (const p of programs) for (const pkg of owners.get(p) ?? []) if (!base.has(pkg)) choose(pkg);
  for (const name of named) {
    const pkg = db.package(name) ?? db.package(name, db.nativeArch);
    if (!pkg) res.warnings.push(`package '${name}' is not installed`);
    else if (base.has(pkg)) res.warnings.push(`package '${name}' is part of the base system (Essential, required, or what they depend on): not brought wholesale`);
    else choose(pkg);
  }
  const files = new Set<string>();
  for (const pkg of chosen) for (const f of runtimeFiles(pkg)) files.add(f);
  res.files = [...files].sort();
  res.packages = chosen.map((p) => p.id);
  return res;
}

/** Whether an in-root path is a program the generic profile would look up. */
export function isProgramPath(p: string): boolean {
  return PROGRAM_PATH.test(path.posix.normalize(p));
}
