/**
 * What changed in glibc's loader and ldconfig after 2.36 that a resolver sees, one switch per change,
 * each with the glibc commit that made it (bminor/glibc mirror of sourceware's glibc.git).
 */
import { compareRelease, type GlibcRelease } from './glibc-release.js';

export interface GlibcRules {
  /** The release the rules are for. */
  release: GlibcRelease;
  /** True when the root's release could not be read and 2.36 was assumed. */
  assumed: boolean;
  /**
   * ld.so searches the legacy tls/platform/hwcap subdirectories of every search directory. Gone in
   * 2.37: 6099908fb84d ("elf: Remove legacy hwcaps support from the dynamic loader").
   */
  legacyHwcapSubdirs: boolean;
  /**
   * ldconfig scans legacy hwcap subdirectories and records their hwcap bits in the cache. Gone in
   * 2.37: b78ff5a25dc8 ("elf: Remove legacy hwcaps support from ldconfig").
   */
  ldconfigLegacyHwcaps: boolean;
  /**
   * ldconfig tells libc5 and plain-ELF libraries from libc6 ones (by interpreter and DT_NEEDED) and
   * reads `DIR=TYPE` in ld.so.conf. From 2.37 every library is FLAG_ELF_LIBC6 and `=TYPE` is no longer
   * parsed: 8ee878592c4a ("Assume only FLAG_ELF_LIBC6 suport").
   */
  ldconfigLibTypes: boolean;
  /**
   * open_path gives up the rest of a search path when a relative element names a non-directory (the
   * probe fails with ENOTDIR). From 2.39 such an element is skipped like a missing one: a8dcffb30680
   * ("elf: Handle non-directory name in search path (BZ 31035)").
   */
  nonDirectoryEndsSearchPath: boolean;
  /**
   * search_cache takes a plain entry carrying legacy hwcap/platform bits when they match the CPU. From
   * 2.40 such entries are skipped: c5aa5fd40adc ("elf: Remove loading legacy hwcaps/platform entries
   * in dynamic loader").
   */
  cacheLegacyHwcapEntries: boolean;
  /**
   * An executable run as `ld.so PROG` (what ldd does) gets the symlink-resolved $ORIGIN, as when run
   * directly. Before 2.42 its origin is the directory of the path as given: 9b646f5dc933 ("elf:
   * Canonicalize $ORIGIN in an explicit ld.so invocation [BZ 25263]").
   */
  explicitLoaderResolvesOrigin: boolean;
}

/** The release whose rules apply when a root's cannot be read (Debian 12's). */
export const DEFAULT_GLIBC_RELEASE: GlibcRelease = { major: 2, minor: 36 };

export function glibcRules(release: GlibcRelease, assumed = false): GlibcRules {
  const atLeast = (minor: number): boolean => compareRelease(release, 2, minor) >= 0;
  return {
    release,
    assumed,
    legacyHwcapSubdirs: !atLeast(37),
    ldconfigLegacyHwcaps: !atLeast(37),
    ldconfigLibTypes: !atLeast(37),
    nonDirectoryEndsSearchPath: !atLeast(39),
    cacheLegacyHwcapEntries: !atLeast(40),
    explicitLoaderResolvesOrigin: atLeast(42),
  };
}

export function formatRelease(r: GlibcRelease): string {
  return `${r.major}.${r.minor}`;
}
