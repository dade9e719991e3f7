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


/**
 * libcmpBytes for names on the plain path (lazy-image.ts): p1 from offset i and p2 from offset j, each
 * ending at a NUL or the array's end, without a copy of either. Gives the same sign as libcmpBytes where
 * both names are plain — only bytes up to 0x7f, digit runs of at most nine digits, so no value wraps and
 * the char signedness never matters — and NaN as soon as it reads anything else: the caller then asks
 * the decoded names instead.
 */
export function libcmpPlain(p1: Uint8Array, i: number, p2: Uint8Array, j: number): number {
  // Written out (no helper calls): the check of a whole cache's order runs this before V8 optimises it.
  for (;;) {
    const c1 = p1[i] ?? 0;
    if (c1 === 0) break;
    const c2 = p2[j] ?? 0;
    if (c1 > 0x7f || c2 > 0x7f) return Number.NaN;
    if (c1 >= 0x30 && c1 <= 0x39) {
      if (c2 < 0x30 || c2 > 0x39) return 1;
      const i0 = i;
      const j0 = j;
      let v1 = c1 - 0x30;
      let v2 = c2 - 0x30;
      for (let d = p1[++i] ?? 0; d >= 0x30 && d <= 0x39; d = p1[++i] ?? 0) v1 = v1 * 10 + d - 0x30;
      for (let d = p2[++j] ?? 0; d >= 0x30 && d <= 0x39; d = p2[++j] ?? 0) v2 = v2 * 10 + d - 0x30;
      if (i - i0 > 9 || j - j0 > 9) return Number.NaN;
      if (v1 !== v2) return v1 - v2;
    } else if (c2 >= 0x30 && c2 <= 0x39) {
      return -1;
    } else if (c1 !== c2) {
      return c1 - c2;
    } else {
      i++;
      j++;
    }
  }
  const c2 = p2[j] ?? 0;
  return c2 > 0x7f ? Number.NaN : -c2;
}

/** A name libcmpPlain compares exactly: ASCII without NUL, no digit run of ten or more digits. */
export function isPlainName(name: string): boolean {
  return !/[^\x01-\x7f]|[0-9]{10}/.test(name);
}

/** The regular spelling of a plain name: each digit run without its leading zeros ("so.01" → "so.1"). */
export function regularSpelling(name: string): string {
  return name.replace(/(?<![0-9])0+(?=[0-9])/g, '');
}
