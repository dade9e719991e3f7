/**
 * One package of dpkg's status file, as dpkg-query shows it: name, architecture, version, status, the
 * relationship fields and the conffiles. Its file list and md5sums are read on first use, through the
 * database that made it (DpkgDatabase.filesOf / md5sumsOf).
 */
import { parseRelations, type ControlParagraph, type DpkgRelation } from './control.js';

export type DpkgWant = 'unknown' | 'install' | 'hold' | 'deinstall' | 'purge';
export type DpkgState = 'not-installed' | 'config-files' | 'half-installed' | 'unpacked' | 'half-configured' | 'triggers-awaited' | 'triggers-pending' | 'installed';
export type DpkgMultiArch = 'no' | 'same' | 'foreign' | 'allowed';

/** A conffile recorded in the package's `Conffiles:` field (not in its md5sums file). */
export interface DpkgConffile {
  path: string;
  /** The md5 of the file as the package shipped it; `newconffile` while dpkg has not yet recorded it. */
  md5: string;
  /** Left behind by an upgrade that dropped it from the package. */
  obsolete: boolean;
}

export interface DpkgPackage {
  name: string;
  /** `amd64`, `arm64`, `all`, … */
  architecture: string;
  version: string;
  /**
   * The name as dpkg-query shows it (`${binary:Package}`): `NAME:ARCH` for a Multi-Arch: same package
   * or one of a foreign architecture, else NAME (dpkg's pkg_name with pnaw_nonambig).
   */
  id: string;
  /** The base name of its files under info/ in info format 1: `NAME:ARCH` for Multi-Arch: same, else NAME (pnaw_same). */
  infoName: string;
  multiArch: DpkgMultiArch;
  status: { want: DpkgWant; ok: boolean; state: DpkgState };
  essential: boolean;
  /** The source package and its version, when they differ from the binary's (else the binary's own). */
  source: { name: string; version: string };
  depends: DpkgRelation[][];
  preDepends: DpkgRelation[][];
  recommends: DpkgRelation[][];
  provides: DpkgRelation[][];
  conffiles: DpkgConffile[];
  maintainer?: string;
  homepage?: string;
  section?: string;
  /** The raw paragraph, for fields this view does not name. */
  fields: ControlParagraph;
}

const WANTS = new Set<string>(['unknown', 'install', 'hold', 'deinstall', 'purge']);
const STATES = new Set<string>(['not-installed', 'config-files', 'half-installed', 'unpacked', 'half-configured', 'triggers-awaited', 'triggers-pending', 'installed']);
const MULTI_ARCH = new Set<string>(['no', 'same', 'foreign', 'allowed']);

/** dpkg's rule for a package name (lib/dpkg/parsehelp.c: pkg_name_is_illegal). Names become file names under info/. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** An architecture name (lib/dpkg/arch.c: dpkg_arch_name_is_illegal). */
export const ARCH_NAME = /^[a-z0-9][a-z0-9-]*$/;
/** A version: what dpkg accepts, without whitespace or anything that could leave a purl or a file name. */
const VERSION = /^[A-Za-z0-9.+~:-]+$/;

/**
 * The package a status paragraph describes; undefined when a field that names files or identifies the
 * package is missing or malformed (a hostile root could otherwise make `../../x` an info file name).
 */
export function packageFromParagraph(p: ControlParagraph, nativeArch: string | undefined): DpkgPackage | undefined {
  const name = p.get('package');
  const architecture = p.get('architecture') ?? 'all';
  const version = p.get('version') ?? '';
  if (name === undefined || !PACKAGE_NAME.test(name) || !ARCH_NAME.test(architecture)) return undefined;
  if (version !== '' && !VERSION.test(version)) return undefined;
  const [want = 'unknown', flag = 'ok', state = 'not-installed'] = (p.get('status') ?? '').split(/\s+/);
  const ma = p.get('multi-arch') ?? 'no';
  const multiArch = (MULTI_ARCH.has(ma) ? ma : 'no') as DpkgMultiArch;
  const foreign = architecture !== 'all' && nativeArch !== undefined && architecture !== nativeArch;
  const pkg: DpkgPackage = {
    name,
    architecture,
    version,
    id: multiArch === 'same' || foreign ? `${name}:${architecture}` : name,
    infoName: multiArch === 'same' ? `${name}:${architecture}` : name,
    multiArch,
    status: { want: (WANTS.has(want) ? want : 'unknown') as DpkgWant, ok: flag === 'ok', state: (STATES.has(state) ? state : 'not-installed') as DpkgState },
    essential: p.get('essential') === 'yes',
    source: sourceOf(p.get('source'), name, version),
    depends: parseRelations(p.get('depends')),
    preDepends: parseRelations(p.get('pre-depends')),
    recommends: parseRelations(p.get('recommends')),
    provides: parseRelations(p.get('provides')),
    conffiles: conffilesOf(p.get('conffiles')),
    fields: p,
  };
  const maintainer = p.get('maintainer');
  if (maintainer !== undefined) pkg.maintainer = maintainer;
  const homepage = p.get('homepage');
  if (homepage !== undefined) pkg.homepage = homepage;
  const section = p.get('section');
  if (section !== undefined) pkg.section = section;
  return pkg;
}

/** `Source: glibc (2.36-9+deb12u4)`: the version in parentheses only when it differs from the binary's. */
function sourceOf(value: string | undefined, name: string, version: string): { name: string; version: string } {
  const m = value === undefined ? null : /^([a-z0-9][a-z0-9+.-]+)(?:\s*\(([^)\s]+)\))?$/.exec(value.trim());
  if (!m || m[1] === undefined) return { name, version };
  return { name: m[1], version: m[2] ?? version };
}

function conffilesOf(value: string | undefined): DpkgConffile[] {
  if (value === undefined) return [];
  const out: DpkgConffile[] = [];
  for (const line of value.split('\n')) {
    // A path may hold spaces: the md5 and the flags are the last words (dpkg's lib/dpkg/conffiles.c).
    const m = /^\s*(\/.*?)\s+([0-9a-f]{32}|newconffile)((?:\s+(?:obsolete|remove-on-upgrade))*)\s*$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    out.push({ path: m[1], md5: m[2], obsolete: (m[3] ?? '').includes('obsolete') });
  }
  return out;
}
