/**
 * What an SBOM says about a jail, format-neutral: every regular file with its SHA-256 and owner, the
 * Debian package each came from (checked against dpkg's md5), who loads whom (the closure graph read in
 * the jail itself), and the root's distribution. The jail has no dpkg database: packages come from the
 * root's (the host's, or --root's), whose files the jail's are copies of.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveClosure, SysRoot } from '@elfcopy/elf-deps';
import { readDpkgDatabase, type DpkgDatabase } from '../dpkg/database.js';
import type { DpkgPackage } from '../dpkg/package.js';
import { JailCopyError } from '../errors.js';
import { Jail } from '../confine/inroot.js';
import { readJailText } from '../confine/jail-text.js';
import { MANIFEST_PATH, parseManifest } from '../copy/manifest.js';
import { jailElfFiles, jailTree, openJailDir, openJailFile, type JailEntry } from '../output/jail-tree.js';
import { readDep5Licenses } from './dep5.js';
import { PackageURL } from 'packageurl-js';
import { distroQualifier, readOsRelease, type OsRelease } from './os-release.js';
import { loadedByEdges } from './loaded-by.js';
import { loadProfiles } from '../profiles/profiles.js';

export interface InventoryFile {
  /** In-jail path. */
  path: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  sha256: string;
  /** The package that installed this file in the root (dpkg's md5 agrees, or dpkg recorded none). */
  package?: string;
  /** The path as the package's list writes it (/lib/… for a merged-/usr file), when it differs. */
  listedAs?: string;
  /** dpkg recorded no md5 to check the copy against (a conffile dpkg had not yet summed, …). */
  unverified?: boolean;
  /** The package dpkg says installed this path, whose recorded md5 the copy does not match: not claimed. */
  differsFrom?: { package: string; md5: string };
  /** Why elfcopy put it there (the manifest's reasons), when the jail has a manifest. */
  reasons?: string[];
}

export interface InventoryPackage {
  /** `NAME:ARCH`: unique in the inventory. */
  key: string;
  name: string;
  version: string;
  architecture: string;
  source: { name: string; version: string };
  /** pkg:deb/… */
  purl: string;
  /** DEP-5 short names, when the copyright file is machine-readable. */
  licenses?: string[];
  maintainer?: string;
  homepage?: string;
  files: number;
}

export interface JailInventory {
  jail: string;
  /** The root whose dpkg database described the packages. */
  root: string;
  os: OsRelease | undefined;
  files: InventoryFile[];
  packages: InventoryPackage[];
  /** In-jail path → the in-jail paths it needs (DT_NEEDED, PT_INTERP) or loads (NSS modules, by libc). */
  fileDependencies: Map<string, string[]>;
  /** Package key → package keys its files need. */
  packageDependencies: Map<string, string[]>;
  jailManifestDigest: string | undefined;
  warnings: string[];
}

export interface InventoryOptions {
  /** The root whose dpkg database and os-release describe the jail's files. Default '/'. */
  root?: string;
}

const HASH_CHUNK = 1024 * 1024;

export function describeJail(jail: string, options: InventoryOptions = {}): JailInventory {
  const jailAbs = openJailDir(jail);
  const j = Jail.open(jailAbs);
  const warnings: string[] = [];
  const manifestText = readJailText(j, MANIFEST_PATH);
  const manifest = manifestText === undefined ? undefined : parseManifest(manifestText);
  if (manifest === undefined) warnings.push(`${jail}: no readable ${MANIFEST_PATH}: not a jail elfcopy made; describing the directory as it is`);
  const reasons = new Map(manifest?.entries.map((e) => [e.path, e.reasons]) ?? []);

  const rootDir = path.resolve(options.root ?? '/');
  if (!fs.statSync(rootDir, { throwIfNoEntry: false })?.isDirectory()) throw new JailCopyError(rootDir, 'no such root directory (--root)');
  const root = new SysRoot(rootDir);
  const db = readDpkgDatabase(rootDir);
  if (db === undefined) warnings.push(`${rootDir}: no dpkg database (var/lib/dpkg/status): the SBOM lists files without packages`);
  const os = readOsRelease(root);
  if (os === undefined) warnings.push(`${rootDir}: no os-release: purls carry no distro`);

  const tree = jailTree(jailAbs);
  const files: InventoryFile[] = [];
  const claimed = new Map<string, { pkg: DpkgPackage; files: number }>();
  for (const e of tree) {
    if (!e.stat.isFile()) continue;
    const { sha256, md5 } = hashFile(j, e);
    const f: InventoryFile = { path: e.path, size: e.stat.size, mode: e.stat.mode & 0o7777, uid: e.stat.uid, gid: e.stat.gid, sha256 };
    const r = reasons.get(e.path);
    if (r && r.length > 0) f.reasons = r;
    if (db) claim(db, f, md5, claimed);
    files.push(f);
  }

  const packages = [...claimed.values()]
    .map(({ pkg, files: n }) => packageOf(pkg, n, os, root))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const fileDependencies = closureEdges(jailAbs, tree);
  const owner = new Map(files.filter((f) => f.package !== undefined).map((f) => [f.path, f.package ?? '']));
  const packageDependencies = new Map<string, string[]>();
  for (const [from, tos] of fileDependencies) {
    const a = owner.get(from);
    if (a === undefined) continue;
    for (const to of tos) {
      const b = owner.get(to);
      if (b === undefined || b === a) continue;
      const list = packageDependencies.get(a) ?? [];
      if (!list.includes(b)) list.push(b);
      packageDependencies.set(a, list);
    }
  }
  for (const list of packageDependencies.values()) list.sort();
  return {
    jail: jailAbs,
    root: rootDir,
    os,
    files,
    packages,
    fileDependencies,
    packageDependencies,
    jailManifestDigest: manifestText === undefined ? undefined : `sha256:${createHash('sha256').update(manifestText).digest('hex')}`,
    warnings,
  };
}

/**
 * The owner of a jail file: the package dpkg says installed that path in the root, when dpkg's md5 of it
 * matches the copy (or dpkg recorded none). A copy that differs (the host upgraded since, or the file was
 * edited) is not claimed: an SBOM that named the package would misstate what ships.
 */
function claim(db: DpkgDatabase, f: InventoryFile, md5: string, claimed: Map<string, { pkg: DpkgPackage; files: number }>): void {
  const records = db.ownersOf(f.path);
  if (records.length === 0) return;
  const match = records.find((r) => r.md5 === md5) ?? records.find((r) => r.md5 === undefined);
  if (!match) {
    const first = records[0];
    if (first?.md5 !== undefined) f.differsFrom = { package: keyOf(first.package), md5: first.md5 };
    return;
  }
  const key = keyOf(match.package);
  f.package = key;
  if (match.listedPath !== f.path) f.listedAs = match.listedPath;
  if (match.md5 === undefined) f.unverified = true;
  const c = claimed.get(key);
  if (c) c.files++;
  else claimed.set(key, { pkg: match.package, files: 1 });
}

export function keyOf(pkg: DpkgPackage): string {
  return `${pkg.name}:${pkg.architecture}`;
}

function packageOf(pkg: DpkgPackage, files: number, os: OsRelease | undefined, root: SysRoot): InventoryPackage {
  const out: InventoryPackage = {
    key: keyOf(pkg),
    name: pkg.name,
    version: pkg.version,
    architecture: pkg.architecture,
    source: pkg.source,
    purl: debPurl(pkg, os),
    files,
  };
  const licenses = readDep5Licenses(root, pkg.name);
  if (licenses && licenses.length > 0) out.licenses = licenses;
  if (pkg.maintainer !== undefined) out.maintainer = pkg.maintainer;
  if (pkg.homepage !== undefined) out.homepage = pkg.homepage;
  return out;
}

/**
 * `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12` (purl-spec, type deb), built by packageurl-js
 * (the purl reference implementation, which knows the spec's encoding rules): the namespace is the
 * root's os-release ID, the distro qualifier ID-VERSION_ID.
 */
export function debPurl(pkg: { name: string; version: string; architecture: string }, os: OsRelease | undefined): string {
  const qualifiers: Record<string, string> = { arch: pkg.architecture };
  if (os) qualifiers.distro = distroQualifier(os);
  return new PackageURL('deb', os?.id ?? 'debian', pkg.name, pkg.version, qualifiers, undefined).toString();
}

/** sha256 and md5 in one read of the file the walk saw (openJailFile: confined, no link, no FIFO). */
function hashFile(jail: Jail, e: JailEntry): { sha256: string; md5: string } {
  const fd = openJailFile(jail, e);
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  try {
    const buf = Buffer.allocUnsafe(HASH_CHUNK);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
      sha.update(buf.subarray(0, n));
      md5.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/**
 * Who needs whom among the jail's files: the closure graph resolved inside the jail (the jail's own
 * loader, cache and directories: what will load there), DT_NEEDED and PT_INTERP edges by real path; and
 * what is dlopened at run time (loaded-by.ts: glibc's own loads, the profiles' modules).
 */
function closureEdges(jail: string, tree: ReturnType<typeof jailTree>): Map<string, string[]> {
  const elves = jailElfFiles(tree);
  const edges = new Map<string, Set<string>>();
  const add = (from: string, to: string): void => {
    if (from === to) return;
    const s = edges.get(from) ?? new Set<string>();
    s.add(to);
    edges.set(from, s);
  };
  if (elves.length > 0) {
    const inJail = new SysRoot(jail);
    const graph = resolveClosure(
      elves.map((e) => e.entry.path),
      { root: jail },
    );
    for (const node of graph.nodes.values()) {
      for (const d of node.dependencies) {
        const to = d.path === undefined ? undefined : graph.nodes.get(d.path)?.realPath;
        if (to !== undefined) add(node.realPath, to);
      }
      const interp = node.info.interpreter;
      if (interp !== undefined) {
        const real = inJail.realpath(interp);
        if (real !== undefined) add(node.realPath, real);
      }
    }
    const objects = elves.map((e) => ({ path: e.entry.path, ...(e.elf.dynamic?.soname !== undefined ? { soname: e.elf.dynamic.soname } : {}), ...(e.elf.interpreter !== undefined ? { interpreter: e.elf.interpreter } : {}) }));
    for (const [from, to] of loadedByEdges(objects, loadProfiles())) add(from, to);
  }
  return new Map([...edges].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v].sort()]));
}
