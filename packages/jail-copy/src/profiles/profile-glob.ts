/**
 * How profiles glob (elf-deps' globInRoot): `**` for any depth, bounded, paths sorted as strings —
 * a `**` over a whole tree (site-packages, a locale) must neither run away nor depend on listing order.
 */
import type { RootGlobOptions } from '@elfcopy/elf-deps/internal';

export const PROFILE_GLOB: RootGlobOptions = { globstar: true, maxMatches: 200_000, order: 'string' };
