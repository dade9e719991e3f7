/** The loader families elfcopy knows, and the choice of one for a file (see family.ts). */
import type { ArchRow } from '../arch/table.js';
import type { SysRoot } from '../sysroot.js';
import type { LoaderFamily } from './family.js';
import { GLIBC_FAMILY } from './glibc.js';
import { MUSL_FAMILY } from './musl.js';

/** In the order they are asked; glibc, the fallback, first (the more common loader where a root holds both). */
export const LOADER_FAMILIES: readonly LoaderFamily[] = [GLIBC_FAMILY, MUSL_FAMILY];

/**
 * The family of a file's loader: the one that owns its PT_INTERP; for a file without PT_INTERP, the
 * family whose libc its DT_NEEDED names, else the first family whose loader for the architecture
 * exists in the root; else glibc.
 */
export function familyFor(arch: ArchRow, interpreter: string | undefined, root?: SysRoot, needed?: readonly string[]): LoaderFamily {
  if (interpreter !== undefined) return LOADER_FAMILIES.find((f) => f.ownsInterpreter(interpreter, arch)) ?? GLIBC_FAMILY;
  if (needed && needed.length > 0) {
    const claimed = LOADER_FAMILIES.find((f) => f.claimsNeeded?.(needed));
    if (claimed) return claimed;
  }
  if (root) {
    for (const f of LOADER_FAMILIES) {
      const loader = f.interpreterFor(arch);
      if (loader !== undefined && root.lstat(loader) !== undefined) return f;
    }
  }
  return GLIBC_FAMILY;
}
