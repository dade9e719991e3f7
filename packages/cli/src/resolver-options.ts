/** The resolver options every command that computes a closure shares (--root, --ld-library-path, --hwcaps). */
import type { ResolveOptions } from '@elfcopy/elf-deps';
import { UsageError } from './usage-error.js';

export interface ResolverCliOptions {
  root?: string;
  ldLibraryPath?: string;
  hwcaps?: string;
  ldSoConf?: boolean;
}

const LEVEL_RE = /^[A-Za-z0-9._-]+$/;

export function resolveOptionsFrom(opts: ResolverCliOptions): ResolveOptions {
  const out: ResolveOptions = {};
  if (opts.root !== undefined) out.root = opts.root;
  if (opts.ldLibraryPath !== undefined) out.ldLibraryPath = opts.ldLibraryPath;
  if (opts.ldSoConf) out.ldConf = true;
  if (opts.hwcaps !== undefined) {
    const levels = opts.hwcaps === 'none' || opts.hwcaps === '' ? [] : opts.hwcaps.split(',').map((s) => s.trim());
    for (const l of levels) if (!LEVEL_RE.test(l)) throw new UsageError(`--hwcaps: '${l}' is not a hwcaps level name (e.g. x86-64-v3)`);
    out.target = { hwcaps: levels };
  }
  return out;
}
