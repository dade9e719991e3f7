/** `ldconfig -p`'s text for an entry (elf/cache.c print_entry). */
import {
  FLAG_AARCH64_LIB64,
  FLAG_ARM_LIBHF,
  FLAG_ARM_LIBSF,
  FLAG_IA64_LIB64,
  FLAG_MIPS64_LIBN32,
  FLAG_MIPS64_LIBN32_NAN2008,
  FLAG_MIPS64_LIBN64,
  FLAG_MIPS64_LIBN64_NAN2008,
  FLAG_MIPS_LIB32_NAN2008,
  FLAG_POWERPC_LIB64,
  FLAG_REQUIRED_MASK,
  FLAG_RISCV_FLOAT_ABI_DOUBLE,
  FLAG_RISCV_FLOAT_ABI_SOFT,
  FLAG_S390_LIB64,
  FLAG_SPARC_LIB64,
  FLAG_TYPE_MASK,
  FLAG_X8664_LIB64,
  FLAG_X8664_LIBX32,
} from './flags.js';
import type { LdCacheEntry } from './format.js';

/** cache.c print_entry: the text in parentheses of an `ldconfig -p` line, without the hwcap part. */
export function describeCacheFlags(flags: number): string {
  const type = ['libc4', 'ELF', 'libc5', 'libc6'][flags & FLAG_TYPE_MASK] ?? 'unknown';
  const required = flags & FLAG_REQUIRED_MASK;
  const abi: Record<number, string> = {
    [FLAG_SPARC_LIB64]: ',64bit',
    [FLAG_IA64_LIB64]: ',IA-64',
    [FLAG_X8664_LIB64]: ',x86-64',
    [FLAG_S390_LIB64]: ',64bit',
    [FLAG_POWERPC_LIB64]: ',64bit',
    [FLAG_MIPS64_LIBN32]: ',N32',
    [FLAG_MIPS64_LIBN64]: ',64bit',
    [FLAG_X8664_LIBX32]: ',x32',
    [FLAG_ARM_LIBHF]: ',hard-float',
    [FLAG_AARCH64_LIB64]: ',AArch64',
    [FLAG_ARM_LIBSF]: ',soft-float',
    [FLAG_MIPS_LIB32_NAN2008]: ',nan2008',
    [FLAG_MIPS64_LIBN32_NAN2008]: ',N32,nan2008',
    [FLAG_MIPS64_LIBN64_NAN2008]: ',64bit,nan2008',
    [FLAG_RISCV_FLOAT_ABI_SOFT]: ',soft-float',
    [FLAG_RISCV_FLOAT_ABI_DOUBLE]: ',double-float',
    0: '',
  };
  return type + (abi[required] ?? `,${required}`);
}

/** cache.c print_entry: one line of `ldconfig -p`, without the leading tab and the newline. */
export function formatCacheEntry(entry: LdCacheEntry): string {
  let hw = '';
  if (entry.hwcaps !== undefined) hw = `, hwcap: "${entry.hwcaps}"`;
  else if (entry.hwcap !== 0n) hw = `, hwcap: 0x${entry.hwcap.toString(16).padStart(16, '0')}`;
  return `${entry.name} (${describeCacheFlags(entry.flags)}${hw}) => ${entry.path}`;
}

