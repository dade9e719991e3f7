import type { FoundVia } from '@elfcopy/elf-deps';

/** A short label for how a library was found, in the manner of libtree's `[runpath]`. */
export function foundViaLabel(via: FoundVia | { kind: 'reused' }): string {
  switch (via.kind) {
    case 'rpath':
      return `rpath of ${via.owner}`;
    case 'runpath':
      return 'runpath';
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
