/**
 * A new-format cache image whose entries are decoded when a lookup reaches them, not all at once.
 * Why: a closure looks up a few dozen names in a cache of hundreds to thousands of entries; decoding
 * every entry (two strings, a BigInt and an object each) was most of the cache's cost on a one-program
 * run, and its garbage a young-generation collection of its own. parse.ts still checks every offset ld.so
 * would follow before it hands out an image, so a cache is refused exactly as before.
 *
 * The binary search then compares the needle with the key bytes in the file (dl-cache.c search_cache
 * reads them there too), with libcmp.ts libcmpPlain; wherever that comparison cannot stand in for the
 * decoded one (a byte above 0x7f, a digit run that may wrap) lookup.ts falls back to the decoded entries.
 */
import type { ByteOrder } from '../elf/fields.js';
import { ISA_LEVEL_MASK, NEW_ENTRY_SIZE, NEW_HEADER_SIZE, isHwcapExtension, type LdCache, type LdCacheEntry } from './format.js';
import { libcmpPlain } from './libcmp.js';

export class LazyImage {
  private readonly decoded: (LdCacheEntry | undefined)[];
  private all: LdCacheEntry[] | undefined;
  private sorted: boolean | undefined;

  constructor(
    readonly buf: Buffer,
    /** Where the new-format header starts (0, or after the old part of a compat cache). */
    readonly base: number,
    readonly count: number,
    /** Each entry's key string offset in the file (checked in range and NUL-terminated by parse.ts). */
    private readonly keys: Uint32Array,
    readonly order: ByteOrder,
    readonly hwcapsNames: readonly string[],
    /** No key holds a byte above 0x7f or a digit run of ten or more digits (parse.ts checks the string table). */
    readonly plainKeys: boolean,
  ) {
    this.decoded = new Array<LdCacheEntry | undefined>(count);
  }

  private u32(at: number): number {
    return this.order === 'little' ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  /** File offset of entry i's key string. */
  keyAt(i: number): number {
    return this.keys[i] ?? 0;
  }

  /** Entry i, decoded as parse.ts decoded every entry before (same fields, same values). */
  entry(i: number): LdCacheEntry {
    const known = this.decoded[i];
    if (known !== undefined) return known;
    const at = this.base + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const hwcap = this.order === 'little' ? this.buf.readBigUInt64LE(at + 16) : this.buf.readBigUInt64BE(at + 16);
    const entry: LdCacheEntry = {
      name: this.text(this.keyAt(i)),
      path: this.text(this.base + this.u32(at + 8)),
      flags: this.order === 'little' ? this.buf.readInt32LE(at) : this.buf.readInt32BE(at),
      hwcap,
      extension: isHwcapExtension(hwcap),
      isaLevel: 0,
      index: i,
    };
    if (entry.extension) {
      entry.isaLevel = Number((hwcap >> 32n) & ISA_LEVEL_MASK);
      const name = this.hwcapsNames[Number(hwcap & 0xffffffffn)];
      if (name !== undefined) entry.hwcaps = name;
    }
    this.decoded[i] = entry;
    return entry;
  }

  private text(at: number): string {
    return this.buf.toString('utf8', at, this.buf.indexOf(0, at));
  }

  /** Every entry, in file order: what LdCache.entries is for this image. */
  entries(): LdCacheEntry[] {
    if (this.all === undefined) {
      const all = new Array<LdCacheEntry>(this.count);
      for (let i = 0; i < this.count; i++) all[i] = this.entry(i);
      this.all = all;
    }
    return this.all;
  }

  /** libcmpPlain of `name` against entry i's key: NaN where only the decoded comparison may decide. */
  compare(name: Uint8Array, i: number): number {
    return libcmpPlain(name, 0, this.buf, this.keyAt(i));
  }

  /**
   * True when every key is plain (parse.ts: no byte above 0x7f, no digit run of ten or more digits in
   * the string table) and the keys are in descending _dl_cache_libcmp order, as ldconfig writes them (cache.c compare) and
   * search_cache expects. Then, for a
   * plain name, the entries equal to it are the run around the one the binary search meets: on plain
   * names _dl_cache_libcmp orders token sequences (a character, or a digit run's value) lexicographically,
   * so equal keys cannot be split by a different one. Checked once per image.
   */
  plainSorted(): boolean {
    if (this.sorted === undefined) {
      let ok = this.plainKeys;
      const { buf, keys } = this;
      for (let i = 1; i < this.count && ok; i++) ok = libcmpPlain(buf, keys[i - 1] ?? 0, buf, keys[i] ?? 0) >= 0; // NaN fails too
      this.sorted = ok;
    }
    return this.sorted;
  }
}

const images = new WeakMap<LdCache, LazyImage>();

/** The cache object for an image: `entries` decodes every entry on first use (print, serialize, tests). */
export function lazyCache(image: LazyImage, fields: Omit<LdCache, 'entries'>): LdCache {
  const { path, format, byteOrder, hwcapsNames, generator } = fields;
  // The same key order as the eagerly parsed object had.
  const cache: LdCache = {
    path,
    format,
    byteOrder,
    get entries(): readonly LdCacheEntry[] {
      return image.entries();
    },
    hwcapsNames,
  };
  if (generator !== undefined) cache.generator = generator;
  images.set(cache, image);
  return cache;
}

/** The lazy image behind a cache parse.ts made, if it is one (a built or copied cache is not). */
export function lazyImageOf(cache: LdCache): LazyImage | undefined {
  return images.get(cache);
}
