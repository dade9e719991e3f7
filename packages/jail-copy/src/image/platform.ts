/**
 * The OCI platform of a jail, taken from its ELF files: one row per architecture, as the OCI image spec
 * (config.md, "architecture" and "variant", after Go's GOARCH) names it.
 */
import { ARCH_TABLE, archFor, type ByteOrder, type ElfClass } from '@elfcopy/elf-deps';

export interface OciPlatform {
  architecture: string;
  os: 'linux';
  variant?: string;
}

interface PlatformRow {
  machine: number;
  elfClass: ElfClass;
  byteOrder: ByteOrder;
  architecture: string;
  variant?: string;
}

/** The architectures the image writer knows: the rows of elf-deps' architecture table that name an OCI platform. */
export const OCI_PLATFORMS: readonly PlatformRow[] = ARCH_TABLE.flatMap((r) =>
  r.oci ? [{ machine: r.machine, elfClass: r.elfClass, byteOrder: r.byteOrder, architecture: r.oci.architecture, ...(r.oci.variant ? { variant: r.oci.variant } : {}) }] : [],
);

/**
 * The platform of one ELF file, or undefined for an architecture without one. The row is the
 * resolver's (archFor): arm's variant follows the ABI its loader names (armhf v7, armel v5).
 */
export function platformOf(elf: { machine: number; elfClass: ElfClass; byteOrder: ByteOrder; interpreter?: string }): OciPlatform | undefined {
  const oci = archFor(elf).oci;
  if (!oci) return undefined;
  return oci.variant === undefined ? { architecture: oci.architecture, os: 'linux' } : { architecture: oci.architecture, os: 'linux', variant: oci.variant };
}

export function platformKey(p: OciPlatform): string {
  return p.variant === undefined ? p.architecture : `${p.architecture}/${p.variant}`;
}
