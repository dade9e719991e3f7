/** The cache ldconfig would write for a set of libraries (elf/cache.c add_to_cache, compare, save_cache's order). */
import type { ByteOrder } from '../elf/fields.js';
import { LdCacheWriteError } from './errors.js';
import { DL_CACHE_HWCAP_EXTENSION, ISA_LEVEL_MASK, U64_MASK, isHwcapExtension, type LdCache, type LdCacheEntry } from './format.js';
import { libcmpBytes } from './libcmp.js';

/** One library for the writer. Parsed entries fit too: their hwcap is recomputed from `hwcaps`. */
export interface LdCacheInput {
  name: string;
  path: string;
  flags: number;
  /** glibc-hwcaps subdirectory name: makes this an extension entry. */
  hwcaps?: string;
  /** ISA level of an extension entry (0–1023; x86: highest GNU_PROPERTY_X86_ISA_1_NEEDED bit). */
  isaLevel?: number;
  /** Legacy hwcap bits of a plain entry (ignored when `hwcaps` is set). */
  hwcap?: bigint;
}

export interface BuildLdCacheOptions {
  /** Default 'little'. */
  byteOrder?: ByteOrder;
  /** Sort as an ldconfig whose C `char` is unsigned would (ARM, POWER, s390, RISC-V). Default false. */
  unsignedChar?: boolean;
  /** What the built cache calls itself in errors and its `path`. */
  path?: string;
  /** The generator string; null for none. Default "elfcopy". */
  generator?: string | null;
}

function popcount64(v: bigint): number {
  let n = 0;
  for (let x = v & U64_MASK; x !== 0n; x >>= 1n) if (x & 1n) n++;
  return n;
}

/**
 * Builds the cache ldconfig would write for these libraries: entries in cache.c `compare` order (stable,
 * like add_to_cache's insertion), glibc-hwcaps names indexed in strcmp order, extension hwcap values as
 * compute_hwcap_value makes them.
 */
export function buildLdCache(inputs: readonly LdCacheInput[], options: BuildLdCacheOptions = {}): LdCache {
  const where = options.path ?? '<built ld.so.cache>';
  const unsignedChar = options.unsignedChar ?? false;
  for (const input of inputs) {
    for (const [field, value] of [['name', input.name], ['path', input.path], ['hwcaps', input.hwcaps ?? '']] as const) {
      if (value.includes('\0')) throw new LdCacheWriteError(where, `${field} ${JSON.stringify(value)} contains a NUL byte`);
    }
    const isa = input.isaLevel ?? 0;
    if (!Number.isInteger(isa) || isa < 0 || BigInt(isa) > ISA_LEVEL_MASK) {
      throw new LdCacheWriteError(where, `${input.path}: ISA level ${isa} is outside 0..${ISA_LEVEL_MASK}`);
    }
    if (!Number.isInteger(input.flags) || input.flags < -0x80000000 || input.flags > 0x7fffffff) {
      throw new LdCacheWriteError(where, `${input.path}: flags ${input.flags} do not fit an int32`);
    }
  }
  const keyed = inputs.map((input) => ({
    input,
    key: Buffer.from(input.name, 'utf8'),
    hwcap: input.hwcaps === undefined ? (input.hwcap ?? 0n) & U64_MASK : 0n,
  }));
  // cache.c compare: names descending (the loader's binary search expects it), then flags descending,
  // hwcaps entries before plain ones and among themselves by subdirectory name, then more hwcap bits first.
  keyed.sort((e1, e2) => {
    const res = libcmpBytes(e2.key, e1.key, unsignedChar);
    if (res !== 0) return res;
    if (e1.input.flags !== e2.input.flags) return e1.input.flags > e2.input.flags ? -1 : 1;
    const h1 = e1.input.hwcaps;
    const h2 = e2.input.hwcaps;
    if (h1 !== undefined && h2 === undefined) return -1;
    if (h1 === undefined && h2 !== undefined) return 1;
    if (h1 !== undefined && h2 !== undefined) {
      const byName = Buffer.compare(Buffer.from(h1, 'utf8'), Buffer.from(h2, 'utf8'));
      if (byName !== 0) return byName;
    }
    const bits = popcount64(e2.hwcap) - popcount64(e1.hwcap);
    if (bits !== 0) return bits;
    return e2.hwcap > e1.hwcap ? 1 : e2.hwcap < e1.hwcap ? -1 : 0;
  });
  const hwcapsNames = [...new Set(inputs.flatMap((i) => (i.hwcaps === undefined ? [] : [i.hwcaps])))].sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')),
  );
  const hwcapsIndex = new Map(hwcapsNames.map((n, i) => [n, i]));
  const entries = keyed.map(({ input, hwcap }, index): LdCacheEntry => {
    const entry: LdCacheEntry = { name: input.name, path: input.path, flags: input.flags, hwcap, extension: false, isaLevel: 0, index };
    const hwIndex = input.hwcaps === undefined ? undefined : hwcapsIndex.get(input.hwcaps);
    if (input.hwcaps !== undefined && hwIndex !== undefined) {
      entry.isaLevel = input.isaLevel ?? 0;
      entry.hwcap = DL_CACHE_HWCAP_EXTENSION | (BigInt(entry.isaLevel) << 32n) | BigInt(hwIndex);
      entry.extension = true;
      entry.hwcaps = input.hwcaps;
    } else {
      entry.extension = isHwcapExtension(hwcap);
    }
    return entry;
  });
  const cache: LdCache = { path: where, format: 'new', byteOrder: options.byteOrder ?? 'little', entries, hwcapsNames };
  const generator = options.generator === undefined ? 'elfcopy' : options.generator;
  if (generator !== null) cache.generator = generator;
  return cache;
}

