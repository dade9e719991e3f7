/**
 * The OCI platform of a jail, taken from its ELF files: one row per architecture, as the OCI image spec
 * (config.md, "architecture" and "variant", after Go's GOARCH) names it.
 */
import { EM_386, EM_AARCH64, EM_ARM, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64, type ByteOrder, type ElfClass } from '@elfcopy/elf-deps';

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
  /** The variant, when the architecture has them; arm's depends on the ABI, which the loader's name says. */
  variant?: (interpreter: string | undefined) => string | undefined;
}

/** The one table of architectures the image writer knows. */
export const OCI_PLATFORMS: readonly PlatformRow[] = [
  { machine: EM_X86_64, elfClass: 64, byteOrder: 'little', architecture: 'amd64' },
  { machine: EM_AARCH64, elfClass: 64, byteOrder: 'little', architecture: 'arm64', variant: () => 'v8' },
  // Debian's armhf (ld-linux-armhf.so.3) is ARMv7 with VFP; armel (ld-linux.so.3) is ARMv5TE.
  { machine: EM_ARM, elfClass: 32, byteOrder: 'little', architecture: 'arm', variant: (interp) => (interp !== undefined && interp.endsWith('ld-linux.so.3') ? 'v5' : 'v7') },
  { machine: EM_386, elfClass: 32, byteOrder: 'little', architecture: '386' },
  { machine: EM_RISCV, elfClass: 64, byteOrder: 'little', architecture: 'riscv64' },
  { machine: EM_PPC64, elfClass: 64, byteOrder: 'little', architecture: 'ppc64le' },
  { machine: EM_PPC64, elfClass: 64, byteOrder: 'big', architecture: 'ppc64' },
  { machine: EM_S390, elfClass: 64, byteOrder: 'big', architecture: 's390x' },
];

/** The platform of one ELF file, or undefined for an architecture the table does not have. */
export function platformOf(elf: { machine: number; elfClass: ElfClass; byteOrder: ByteOrder; interpreter?: string }): OciPlatform | undefined {
  const row = OCI_PLATFORMS.find((r) => r.machine === elf.machine && r.elfClass === elf.elfClass && r.byteOrder === elf.byteOrder);
  if (!row) return undefined;
  const variant = row.variant?.(elf.interpreter);
  return variant === undefined ? { architecture: row.architecture, os: 'linux' } : { architecture: row.architecture, os: 'linux', variant };
}

export function platformKey(p: OciPlatform): string {
  return p.variant === undefined ? p.architecture : `${p.architecture}/${p.variant}`;
}
