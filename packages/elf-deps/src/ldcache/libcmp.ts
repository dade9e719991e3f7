/** The name order of ld.so.cache: dl-cache.c _dl_cache_libcmp, by which ldconfig sorts and ld.so searches. */

/**
 * dl-cache.c _dl_cache_libcmp: strcmp, except that digit runs compare as numbers ("libfoo.so.10" sorts
 * after "libfoo.so.9", and "libfoo.so.01" equals "libfoo.so.1"). Characters compare as C `char`, signed
 * on x86 and unsigned on ARM, POWER, s390 and RISC-V; only names with bytes above 0x7f notice. Integer
 * overflow in long digit runs wraps as it does in the C code.
 */
export function dlCacheLibcmp(a: string, b: string, unsignedChar = false): number {
  return libcmpBytes(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'), unsignedChar);
}

// Module functions, not closures made per call: a lookup compares a dozen names, a run looks up hundreds.
const at = (s: Uint8Array, k: number): number => (k < s.length ? (s[k] ?? 0) : 0);
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const charOf = (c: number, unsignedChar: boolean): number => (unsignedChar || c < 0x80 ? c : c - 256);

export function libcmpBytes(p1: Uint8Array, p2: Uint8Array, unsignedChar: boolean): number {
  let i = 0;
  let j = 0;
  while (at(p1, i) !== 0) {
    const c1 = at(p1, i);
    const c2 = at(p2, j);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      let v1 = c1 - 0x30;
      let v2 = c2 - 0x30;
      i++;
      j++;
      while (isDigit(at(p1, i))) v1 = (Math.imul(v1, 10) + at(p1, i++) - 0x30) | 0;
      while (isDigit(at(p2, j))) v2 = (Math.imul(v2, 10) + at(p2, j++) - 0x30) | 0;
      if (v1 !== v2) return (v1 - v2) | 0;
    } else if (isDigit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return charOf(c1, unsignedChar) - charOf(c2, unsignedChar);
    } else {
      i++;
      j++;
    }
  }
  return 0 - charOf(at(p2, j), unsignedChar);
}

/**
 * A key equal for exactly the names _dl_cache_libcmp calls equal: the same non-digit bytes and the
 * same (int-wrapped) digit-run values in the same places. NUL cannot occur in a C string, so it
 * delimits the numbers unambiguously.
 */
export function libcmpKey(name: string): string {
  return name.replace(/[0-9]+/g, (run) => {
    let v = 0;
    for (const ch of run) v = (Math.imul(v, 10) + ch.charCodeAt(0) - 0x30) | 0;
    return `\0${v}\0`;
  });
}

