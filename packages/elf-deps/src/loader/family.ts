/**
 * The loader-family seam. A family is one implementation of the dynamic loader (glibc's ld.so today;
 * musl's ldso/dynlink.c next) with its own search rules. A target's family is chosen from the target's
 * own PT_INTERP — never from the host — and, for a file without one (a library given as input), from
 * the loaders the root actually holds for the file's architecture.
 *
 * Adding a family: write an object of this shape (loader/<name>.ts), add it to LOADER_FAMILIES before
 * glibc (glibc is the fallback and claims every interpreter no other family does), and have the
 * resolver ask `target.family.name` where its rules differ.
 */
import type { ArchRow } from '../arch/table.js';
import type { SysRoot } from '../sysroot.js';
import type { LoaderTarget, MachineDescription, TargetOverrides } from '../target.js';

/** What a family needs to describe its loader for one file. */
export interface FamilyContext {
  /** The root the target lives in (its libc, loader and configuration are read there). */
  root?: SysRoot;
  /** The interpreter the file names (PT_INTERP), if any. */
  interpreter?: string;
  overrides: TargetOverrides;
  /** The machine the target runs on, where not this one. */
  machine: MachineDescription;
}

export interface LoaderFamily {
  /** 'glibc', 'musl', … */
  readonly name: string;
  /** The family's loader for this architecture, as PT_INTERP names it; undefined where it has no port. */
  interpreterFor(arch: ArchRow): string | undefined;
  /** Whether a PT_INTERP value names this family's loader (for a file of this architecture). */
  ownsInterpreter(interpreter: string, arch: ArchRow): boolean;
  /** The loader target a file of this architecture is resolved for. */
  target(arch: ArchRow, ctx: FamilyContext): LoaderTarget;
}
