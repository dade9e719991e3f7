/**
 * `elfcopy verify JAIL`: static checks, executing nothing, that every program in the jail will load
 * there — its libraries resolve inside the jail (the resolver with the jail as sysroot), the NSS modules
 * its nsswitch.conf names are there, every symbol version a file requires is defined by the library
 * that will be loaded, and no symlink dangles or climbs out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { Resolver, SysRoot, hasElfMagic, readElfFrom, type ClosureGraph, type ElfInfo } from '@elfcopy/elf-deps';
import type { Finding, Severity } from './findings.js';
import { nssModulesNeeded, parseNsswitch, DEFAULT_SERVICES } from './nss.js';
import { climbsAboveRoot } from './inroot.js';
import { walkJail } from './walk.js';

export interface VerifyOptions {
  /** Also compare every regular file with the host file at the same path (a stale jail). */
  againstHost?: boolean;
  hwcaps?: string[];
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

export function verifyJail(jail: string, options: VerifyOptions = {}): VerifyReport {
  const root = new SysRoot(jail);
  const findings: Finding[] = [];
  const elfFiles: string[] = [];
  const add = (rule: string, severity: Severity, p: string, message: string): void => {
    findings.push({ rule, severity, path: p, message });
  };

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
      if (options.againstHost && fs.existsSync(e.path)) {
        const hostSt = fs.statSync(e.path);
        if (hostSt.isFile() && (hostSt.size !== e.stat.size || sha256File(e.path) !== sha256File(e.host))) {
          add('differs-from-host', 'medium', e.path, `differs from the host's ${e.path} (a stale copy?)`);
        }
      }
    }
  }

  const resolver = new Resolver(options.hwcaps ? { root, target: { hwcaps: options.hwcaps } } : { root });
  // Only programs and loadable objects; relocatable objects and core files are not loaded by ld.so.
  const graph = resolver.resolve(elfFiles);
  for (const err of graph.inputErrors) add('malformed-elf', 'medium', err.path, err.message);
  for (const m of graph.missing) {
    for (const by of m.neededBy) {
      add('missing-library', 'high', by, m.reason === 'invalid' ? `${m.name} cannot be loaded: ${m.detail ?? ''}` : `needs ${m.name}, which does not resolve inside the jail`);
    }
  }
  checkVersions(root, graph, add);
  checkOrigin(root, graph, add);
  checkNss(root, resolver, graph, add);
  return { jail: root.root, checked: elfFiles.length, findings };
}

/** "version `GLIBC_2.xx' not found": every DT_VERNEED entry against the DT_VERDEF of what loads. */
function checkVersions(root: SysRoot, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const cache = new Map<string, ElfInfo | undefined>();
  const versionsOf = (p: string): ElfInfo | undefined => {
    if (!cache.has(p)) {
      try {
        const src = root.open(p);
        try {
          cache.set(p, readElfFrom(src, { versions: true }));
        } finally {
          src.close();
        }
      } catch {
        cache.set(p, undefined);
      }
    }
    return cache.get(p);
  };
  const reported = new Set<string>();
  for (const node of graph.nodes.values()) {
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

/** ld.so finds an executable's $ORIGIN through /proc/self/exe: without /proc it silently drops the element. */
function checkOrigin(root: SysRoot, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const hasProc = root.stat('/proc')?.isDirectory() ?? false;
  if (hasProc) return;
  for (const rc of graph.roots) {
    const dyn = graph.nodes.get(rc.path)?.info.dynamic;
    const paths = [...(dyn?.rpathList ?? []), ...(dyn?.runpathList ?? [])];
    if (rc.kind.endsWith('executable') && paths.some((p) => p.includes('$ORIGIN') || p.includes('${ORIGIN}'))) {
      add('origin-without-proc', 'medium', rc.path, 'uses $ORIGIN in its search path but the jail has no /proc: ld.so will drop that element');
    }
  }
}

function checkNss(root: SysRoot, resolver: Resolver, graph: ClosureGraph, add: (rule: string, s: Severity, p: string, m: string) => void): void {
  const libc = [...graph.nodes.values()].find((n) => n.soname === 'libc.so.6');
  if (!libc) return;
  const text = root.readText('/etc/nsswitch.conf');
  const entries = text === undefined ? [{ database: '*', services: [...DEFAULT_SERVICES], line: 0 }] : parseNsswitch(text);
  let builtins = false;
  try {
    const src = root.open(libc.path);
    try {
      builtins = readElfFrom(src, { versions: true }).versionDefinitions?.some((d) => d.name === 'GLIBC_2.34') ?? false;
    } finally {
      src.close();
    }
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

