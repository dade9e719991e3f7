import type { EdgeVia } from '@elfcopy/elf-deps';

/** The loader family to name in text output: glibc is the default and goes unsaid, as does a static program's 'none'. */
export function namedFamily(family: string | undefined): string | undefined {
  return family === undefined || family === 'glibc' || family === 'none' ? undefined : family;
}

/**
 * A short label for how a library was found, in the manner of libtree's `[runpath]`. `from` is the
 * requester: a RUNPATH of another object (musl inherits it down the chain of loaders) names its owner.
 */
export function foundViaLabel(via: EdgeVia, from?: string): string {
  switch (via.kind) {
    case 'rpath':
      return `rpath of ${via.owner}`;
    case 'runpath':
      return from !== undefined && via.owner !== from ? `runpath of ${via.owner}` : 'runpath';
    case 'path-file':
      return 'musl path file';
    case 'loader-itself':
      return 'the loader itself';
    case 'ld_library_path':
      return 'LD_LIBRARY_PATH';
    case 'ld.so.cache':
      return 'ld.so.cache';
    case 'ld.so.conf':
      return 'ld.so.conf';
    case 'system-dir':
      return 'default path';
    case 'interpreter':
      return 'interpreter';
    case 'path':
      return 'path';
    case 'input':
      return 'input';
    case 'reused':
      return 'reused';
  }
}
