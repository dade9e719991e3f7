/**
 * `--json`: the stable schema `elfcopy.deps/1`, documented in the README. Fields are only ever added.
 */
import type { ClosureGraph, FoundVia } from '@elfcopy/elf-deps';

export interface DepsJson {
  schema: 'elfcopy.deps/1';
  roots: { path: string; kind: string; interpreter: string | null; loader: string; objects: string[]; missing: string[] }[];
  objects: {
    path: string;
    realPath: string;
    soname: string | null;
    kind: string;
    class: 32 | 64;
    byteOrder: 'little' | 'big';
    machine: number;
    interpreter: string | null;
    /** The loader family whose rules found it ('glibc', 'musl'). */
    loader: string;
    needed: string[];
    rpath: string | null;
    runpath: string | null;
    foundVia: FoundVia;
    hwcapsSubdir: string | null;
    variants: string[];
    neededBy: string[];
    dependencies: { name: string; path: string | null }[];
    tried: { dir: string; source: string }[];
  }[];
  missing: { name: string; reason: 'not-found' | 'invalid'; detail: string | null; neededBy: string[]; tried: { dir: string; source: string }[] }[];
  errors: { path: string; error: string; reason: string }[];
  warnings: string[];
}

export function toDepsJson(graph: ClosureGraph): DepsJson {
  return {
    schema: 'elfcopy.deps/1',
    roots: graph.roots.map((rc) => ({
      path: rc.path,
      kind: rc.kind,
      interpreter: rc.interpreter ?? null,
      loader: rc.family,
      objects: rc.objects,
      missing: rc.missing.map((m) => m.name),
    })),
    objects: [...graph.nodes.values()].map((n) => ({
      path: n.path,
      realPath: n.realPath,
      soname: n.soname ?? null,
      kind: n.info.kind,
      class: n.info.elfClass,
      byteOrder: n.info.byteOrder,
      machine: n.info.machine,
      interpreter: n.info.interpreter ?? null,
      loader: n.loader,
      needed: n.info.dynamic?.needed ?? [],
      rpath: n.info.dynamic?.rpath ?? null,
      runpath: n.info.dynamic?.runpath ?? null,
      foundVia: n.foundVia,
      hwcapsSubdir: n.hwcapsSubdir ?? null,
      variants: n.variants,
      neededBy: n.neededBy,
      dependencies: n.dependencies.map((d) => ({ name: d.name, path: d.path ?? null })),
      tried: n.tried.map((t) => ({ dir: t.dir, source: t.source.kind })),
    })),
    missing: graph.missing.map((m) => ({
      name: m.name,
      reason: m.reason,
      detail: m.detail ?? null,
      neededBy: m.neededBy,
      tried: m.tried.map((t) => ({ dir: t.dir, source: t.source.kind })),
    })),
    errors: graph.inputErrors.map((e) => ({ path: e.path, error: e.name, reason: e.message })),
    warnings: graph.warnings,
  };
}

export function formatJson(graph: ClosureGraph): string {
  return JSON.stringify(toDepsJson(graph), null, 2) + '\n';
}
