/**
 * dl-hwcaps.c _dl_important_hwcaps, legacy part (glibc ≤ 2.36): every subset of the components
 * [tls, platform, hwcap names by descending bit], most specific first — counting down in binary with
 * `tls` as the top bit. A name met twice (on x86-64 off Intel the platform "x86_64" is also the name of
 * HWCAP_X86_64) gives the same directory twice; ld.so probes it twice, the first probe decides.
 */
export function legacyHwcapSubdirs(components: readonly string[]): string[] {
  const out: string[] = [];
  const n = components.length;
  for (let mask = (1 << n) - 1; mask > 0; mask--) {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) if (mask & (1 << (n - 1 - i))) parts.push(components[i] ?? '');
    const dir = parts.join('/');
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}
