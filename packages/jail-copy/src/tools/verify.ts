/**
 * `elfcopy verify JAIL`: static checks, executing nothing, that every program in the jail will load
 * there — its libraries resolve inside the jail (the resolver with the jail as sysroot), the NSS modules
 * its nsswitch.conf names are there, every symbol version a file requires is defined by the library
 * that will be loaded, no symlink dangles or climbs out, and what an input script's "#!" line runs is there.
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { ElfDepsError, Resolver, ScriptError, SysRoot, hasElfMagic, scriptNeeds, type ClosureGraph, type DynamicSymbol, type ElfFile, type ResolveOptions, type VersionDefinition, type VersionNeed } from '@elfcopy/elf-deps';
import type { Finding, Severity } from '../findings.js';
import { nssModulesNeeded, parseNsswitch, DEFAULT_SERVICES } from '../copy/nss.js';
import { climbsAboveRoot } from '../confine/inroot.js';
import { MANIFEST_PATH, parseManifest, type Manifest } from '../copy/manifest.js';
import { walkJail } from '../confine/walk.js';
import { checksSymbolVersions, glibcLibc, loaderWarnings, originWithoutProcMessage } from '../copy/loader-families.js';
import { missingInContext } from './namespace-context.js';
import { profileNeedsFindings } from '../profiles/profile-checks.js';

/** The machine the jail is for (its CPU, hwcaps levels, $PLATFORM), as elf-deps' ResolveOptions say it. */
export interface VerifyOptions extends Pick<ResolveOptions, 'target' | 'machine'> {
  /** Also compare every regular file with the host file at the same path (a stale jail). */
  againstHost?: boolean;
  /**
   * Also check that every undefined (non-weak) dynamic symbol of each plugin — a shared library that no
   * object in the jail needs, i.e. one loaded with dlopen (php's pdo_mysql.so) — is defined somewhere
   * it can be found at run time: the programs' closures and the other plugins. (ld.so would look in the
   * executable, its closure and the plugins loaded before it; the load order is the program's business,
   * so every other plugin counts.)
   */
  symbols?: boolean;
}

export interface VerifyReport {
  jail: string;
  /** ELF files checked. */
  checked: number;
  findings: Finding[];
}


function sha256File(p: string): string | undefined {
  try {
    return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * Files elfcopy wrote for the jail instead of copying (init's accounts and nsswitch.conf, --ldcache's
 * cache: manifest entries without a source): the host's file at the same path is not their source,
 * so differing from it says nothing about staleness.
 */
function writtenForJail(manifest: Manifest | undefined): Set<string> {
  const written = new Set<string>();
  for (const e of manifest?.entries ?? []) if (e.kind === 'file' && e.source === undefined) written.add(e.path);
  return written;
}

/**
 * The scripts copied as inputs (manifest entries of reason 'input' that are not ELF): what their "#!"
 * line runs must be in the jail, as the kernel finds it there (for env, NAME on SCRIPT_PATH). Scripts a
 * profile brought are not checked: a package's helper scripts may name interpreters the jail has no use for.
 */
function checkScripts(root: SysRoot, manifest: Manifest | undefined, elfFiles: ReadonlySet<string>, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  for (const e of manifest?.entries ?? []) {
    if (e.kind !== 'file' || !e.reasons.includes('input') || elfFiles.has(e.path)) continue;
    try {
      scriptNeeds(root, e.path);
    } catch (err) {
      if (!(err instanceof ElfDepsError)) throw err;
      // The input itself gone or unreadable is the walk's business (a jail changed since): only its line here.
      if (err instanceof ScriptError) add('script-interpreter-missing', 'high', e.path, `${err.path === e.path ? '' : `${err.path}: `}${err.message}`);
    }
  }
}

export function verifyJail(jail: string, options: VerifyOptions = {}): VerifyReport {
  const root = new SysRoot(jail);
  const findings: Finding[] = [];
  const elfFiles: string[] = [];
  const add = (rule: string, severity: Severity, p: string, message: string): void => {
    findings.push({ rule, severity, path: p, message });
  };
  // elfcopy's own file, read whole as apply.ts reads it (a large jail's manifest passes the config bound).
  const manifest = parseManifest(root.readText(MANIFEST_PATH, Number.POSITIVE_INFINITY) ?? '');
  const written = options.againstHost ? writtenForJail(manifest) : new Set<string>();

  for (const e of walkJail(root.root)) {
    if (e.stat.isSymbolicLink()) {
      const target = fs.readlinkSync(e.host);
      if (climbsAboveRoot(e.path, target)) add('symlink-leaves-jail', 'high', e.path, `symlink to '${target}' climbs above the jail's root`);
      else {
        let resolved: string | undefined;
        try {
          resolved = root.realpath(e.path);
        } catch {
          resolved = undefined;
        }
        if (resolved === undefined) add('symlink-dangling', 'high', e.path, `symlink to '${target}' resolves to nothing inside the jail`);
      }
      continue;
    }
    if (e.stat.isFile()) {
      if (hasElfMagic(e.host)) elfFiles.push(e.path);
      if (options.againstHost && !written.has(e.path) && fs.existsSync(e.path)) {
        const hostSt = fs.statSync(e.path);
        if (hostSt.isFile() && (hostSt.size !== e.stat.size || sha256File(e.path) !== sha256File(e.host))) {
          add('differs-from-host', 'medium', e.path, `differs from the host's ${e.path} (a stale copy?)`);
        }
      }
    }
  }

  const resolver = new Resolver({ root, ...(options.target ? { target: options.target } : {}), ...(options.machine ? { machine: options.machine } : {}) });
  // Only programs and loadable objects; relocatable objects and core files are not loaded by ld.so.
  const graph = resolver.resolve(elfFiles);
  for (const err of graph.inputErrors) add('malformed-elf', 'medium', err.path, err.message);
  // A jail is for running a program: with none (an empty directory, a jail of libraries only) every
  // other check passes vacuously, and "complete" would be a lie.
  if (!graph.roots.some((rc) => rc.kind.endsWith('executable') || rc.kind === 'static-pie')) {
    add('no-program', 'high', '/', `the jail holds no program (no ELF executable among ${elfFiles.length} ELF files): nothing in it can run`);
  }
  for (const w of loaderWarnings(graph)) add('loader-config', 'medium', w.path, w.message);
  for (const m of missingInContext(graph)) {
    for (const by of m.neededBy) {
      add('missing-library', 'high', by, m.reason === 'invalid' ? `${m.name} cannot be loaded: ${m.detail ?? ''}` : `needs ${m.name}, which does not resolve inside the jail`);
    }
  }
  // One ElfFile per path, from the resolver that read the graph: each part of a file is parsed once.
  const elfOf = (p: string): ElfFile | undefined => {
    try {
      return resolver.elfFile(p);
    } catch {
      return undefined;
    }
  };
  checkVersions(elfOf, graph, add);
  if (options.symbols) checkSymbols(elfOf, graph, add);
  checkOrigin(root, graph, add);
  checkNss(root, resolver, elfOf, graph, add);
  findings.push(...profileNeedsFindings(root, elfFiles));
  checkScripts(root, manifest, new Set(elfFiles), add);
  return { jail: root.root, checked: elfFiles.length, findings };
}

/** "version `GLIBC_2.xx' not found": every DT_VERNEED entry against the DT_VERDEF of what loads. */
function checkVersions(elfOf: (p: string) => ElfFile | undefined, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const versionsOf = (p: string): { versionNeeds: VersionNeed[]; versionDefinitions: VersionDefinition[] } | undefined => {
    const file = elfOf(p);
    try {
      return file && { versionNeeds: file.versionNeeds(), versionDefinitions: file.versionDefinitions() };
    } catch {
      return undefined;
    }
  };
  const reported = new Set<string>();
  for (const node of graph.nodes.values()) {
    if (!checksSymbolVersions(node.loader)) continue;
    const info = versionsOf(node.path);
    if (!info?.versionNeeds?.length) continue;
    for (const need of info.versionNeeds) {
      const dep = node.dependencies.find((d) => d.name === need.file);
      let providerPath = dep?.path;
      if (providerPath === undefined) {
        // The needed file may be the interpreter or reused under another name: find it by soname.
        providerPath = [...graph.nodes.values()].find((n) => n.soname === need.file)?.path;
      }
      if (providerPath === undefined) continue;
      const provider = versionsOf(providerPath);
      const defined = new Set(provider?.versionDefinitions?.filter((d) => !d.base).map((d) => d.name) ?? []);
      for (const v of need.versions) {
        if (defined.has(v.name)) continue;
        const key = `${node.path}\0${need.file}\0${v.name}`;
        if (reported.has(key)) continue;
        reported.add(key);
        add(
          v.weak ? 'version-missing-weak' : 'version-missing',
          v.weak ? 'low' : 'high',
          node.path,
          `needs version ${v.name} of ${need.file}, which ${providerPath} does not define`,
        );
      }
    }
  }
}

function checkSymbols(elfOf: (p: string) => ElfFile | undefined, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const read = (p: string): DynamicSymbol[] => {
    try {
      return elfOf(p)?.dynamicSymbols() ?? [];
    } catch {
      return [];
    }
  };
  const real = (p: string): string => graph.nodes.get(p)?.realPath ?? p;
  const needed = new Set<string>();
  for (const rc of graph.roots) for (const p of rc.objects) if (p !== rc.path) needed.add(real(p));
  const plugins = graph.roots.filter((rc) => rc.kind === 'shared-library' && !needed.has(real(rc.path)));
  const programs = graph.roots.filter((rc) => rc.kind.endsWith('executable'));
  const pool = new Set<string>();
  for (const rc of [...programs, ...plugins]) for (const p of rc.objects) for (const sym of read(p)) if (sym.defined) pool.add(sym.name);
  for (const rc of plugins) {
    const missing = read(rc.path).filter((sym) => !sym.defined && !sym.weak && !pool.has(sym.name));
    if (missing.length === 0) continue;
    const names = missing.slice(0, 5).map((m) => m.name).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    add('undefined-symbol', 'high', rc.path, `plugin needs ${names}, defined by no program, library or other plugin in the jail`);
  }
}

/** ld.so finds an executable's $ORIGIN through /proc/self/exe: without /proc it silently drops the element. */
function checkOrigin(root: SysRoot, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const hasProc = root.stat('/proc')?.isDirectory() ?? false;
  if (hasProc) return;
  for (const rc of graph.roots) {
    const dyn = graph.nodes.get(rc.path)?.info.dynamic;
    const paths = [...(dyn?.rpathList ?? []), ...(dyn?.runpathList ?? [])];
    if (rc.kind.endsWith('executable') && paths.some((p) => p.includes('$ORIGIN') || p.includes('${ORIGIN}'))) {
      add('origin-without-proc', 'medium', rc.path, originWithoutProcMessage(rc.family));
    }
  }
}

function checkNss(root: SysRoot, resolver: Resolver, elfOf: (p: string) => ElfFile | undefined, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const libc = glibcLibc(graph);
  if (!libc) return;
  const text = root.readText('/etc/nsswitch.conf');
  const entries = text === undefined ? [{ database: '*', services: [...DEFAULT_SERVICES], line: 0 }] : parseNsswitch(text);
  let builtins = false;
  try {
    builtins = elfOf(libc.path)?.versionDefinitions().some((d) => d.name === 'GLIBC_2.34') ?? false;
  } catch {
    builtins = false;
  }
  for (const need of nssModulesNeeded(entries, builtins)) {
    const found = resolver.locate(need.soname, libc.info);
    if (!found) {
      add('nss-module-missing', 'high', '/etc/nsswitch.conf', `names service '${need.service}' for ${need.databases.join(', ')} but ${need.soname} does not resolve inside the jail`);
      continue;
    }
    const g = resolver.resolve([found.path]);
    for (const m of g.missing) add('missing-library', 'high', m.neededBy[0] ?? found.path, `needs ${m.name}, which does not resolve inside the jail`);
  }
}

