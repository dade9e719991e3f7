/**
 * What a jail needs from each loader family beyond the closure, and which programs libc's run-time
 * modules concern. glibc's libc dlopen()s NSS modules and libgcc_s; musl's reads /etc/passwd, group,
 * hosts and resolv.conf itself and loads nothing (ldso/dynlink.c has no NSS), but its loader reads a
 * path file at start (etc/ld-musl-ARCH.path) that the jail must hold for the same system path.
 */
import type { ClosureGraph, ClosureNode } from '@elfcopy/elf-deps';

/** The files the closure's loaders read at start (musl's path file), each with its reason, once. */
export function loaderFiles(graph: ClosureGraph): { path: string; reason: string }[] {
  const out = new Map<string, string>();
  for (const rc of graph.roots) for (const f of rc.loaderFiles) if (!out.has(f.path)) out.set(f.path, f.reason);
  return [...out].map(([p, reason]) => ({ path: p, reason }));
}

/** What the closure's loaders' configuration makes of the search (musl's path file unreadable), once each. */
export function loaderWarnings(graph: ClosureGraph): { path: string; message: string }[] {
  const out = new Map<string, { path: string; message: string }>();
  for (const rc of graph.roots) for (const w of rc.loaderWarnings) out.set(`${w.path}\0${w.message}`, w);
  return [...out.values()];
}

/**
 * The glibc libc of the closure, whose NSS modules and libgcc_s the jail needs; undefined when only
 * musl programs (or static ones) are in it. A musl program never maps glibc's libc.so.6: musl's loader
 * answers that name itself.
 */
export function glibcLibc(graph: ClosureGraph): ClosureNode | undefined {
  return [...graph.nodes.values()].find((n) => n.soname === 'libc.so.6' && n.loader === 'glibc');
}

/** The loader families of the closure's programs ('glibc', 'musl'), for profile selection. */
export function loaderFamiliesOf(graph: ClosureGraph): string[] {
  return [...new Set(graph.roots.filter((rc) => rc.interpreter !== undefined).map((rc) => rc.family))].sort();
}

/**
 * Whether the family's loader refuses an object whose DT_VERNEED the provider does not define ("version
 * `X' not found"). glibc does (dl-version.c); musl does not: its lookups (dynlink.c sysv_lookup,
 * gnu_lookup) read DT_VERSYM only to skip hidden symbols, and nothing reads DT_VERNEED.
 */
export function checksSymbolVersions(loader: string): boolean {
  return loader !== 'musl';
}

/** verify's finding for a program using $ORIGIN in a jail without /proc, in its loader's words. */
export function originWithoutProcMessage(family: string): string {
  return family === 'musl'
    ? "uses $ORIGIN in its RPATH/RUNPATH but the jail has no /proc: musl's loader cannot read /proc/self/exe and drops the program's whole RPATH/RUNPATH"
    : 'uses $ORIGIN in its search path but the jail has no /proc: ld.so will drop that element';
}
