/**
 * A new-format cache image whose entries are decoded when a lookup reaches them, not all at once.
 * Why: a closure looks up a few dozen names in a cache of hundreds to thousands of entries; decoding
 * every entry (two strings, a BigInt and an object each) and indexing them all was most of the cache's
 * cost on a one-program run, and its garbage a young-generation collection of its own. parse.ts still
 * checks every offset ld.so would follow before it hands out an image, so a cache is refused exactly as
 * before.
 *
 * A lookup (lookup.ts lookupPlain) then runs the binary search over the key bytes in the file
 * (dl-cache.c search_cache reads them there too) with libcmp.ts libcmpPlain, and finds every entry with
 * the name (`withName`) by where the name's bytes occur among the keys. That holds for regular keys:
 * ASCII, digit runs of at most nine digits and without a leading zero, so that a name has one spelling.
 * The few irregular keys (Debian's libdevmapper.so.1.02.1; anything not ASCII) are compared by their
 * decoded names, as before; a comparison libcmpPlain cannot make sends the lookup to the decoded entries.
 */
import type { ByteOrder } from '../elf/fields.js';
import { NEW_ENTRY_SIZE, NEW_HEADER_SIZE, newFormatEntry, type LdCache, type LdCacheEntry } from './format.js';
import { libcmpPlain } from './libcmp.js';

/**
 * The 32-bit unsigned field at `at` (in bounds: the caller checked). Decoded inline: Buffer's
 * readUInt32LE allocates an argument array per call in Node 20 (its validator is wrapped), which for a
 * cache's thousand-odd offsets was 0.08 MB of garbage.
 */
export function u32At(buf: Uint8Array, at: number, order: ByteOrder): number {
  const b0 = buf[at] ?? 0;
  const b1 = buf[at + 1] ?? 0;
  const b2 = buf[at + 2] ?? 0;
  const b3 = buf[at + 3] ?? 0;
  return order === 'little' ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0 : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

/**
 * Past this many irregular spans or keys the plain search is not used (`plainUsable`): each lookup
 * compares every irregular key by its decoded name, and a file made of them (never one ldconfig wrote:
 * Debian's has one) would make that slower than the decoded search it stands in for.
 */
export const MAX_IRREGULAR = 256;

/**
 * Lookups on one image before its order is checked (`knownSorted`): the check compares every key with
 * the next (~650 on Debian), about what 30 scans of the keys by `withName` cost; a run that looks up
 * fewer names (one program: ~20) never makes it.
 */
export const ORDER_CHECK_AFTER = 32;

export class LazyImage {
  private readonly decoded: (LdCacheEntry | undefined)[];
  private all: LdCacheEntry[] | undefined;
  private slots: Int32Array | undefined;
  private next: Int32Array | undefined;
  private irregular: number[] | undefined;
  private lookups = 0;
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
    /** The bytes from the first key to the last key's NUL: every key lies there. */
    private readonly keysFrom: number,
    private readonly keysTo: number,
    /**
     * Start and end offsets (pairs, in file order) of what is irregular between keysFrom and keysTo
     * (parse.ts): a byte above 0x7f, a digit run of ten or more digits, one with a leading zero. A key
     * that overlaps one is irregular. Undefined: more than MAX_IRREGULAR of them, no plain search.
     */
    private readonly irregularSpans: readonly number[] | undefined,
  ) {
    this.decoded = new Array<LdCacheEntry | undefined>(count);
  }

  private u32(at: number): number {
    return u32At(this.buf, at, this.order);
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
    const flags = this.order === 'little' ? this.buf.readInt32LE(at) : this.buf.readInt32BE(at);
    const entry = newFormatEntry(this.text(this.keyAt(i)), this.text(this.base + this.u32(at + 8)), flags, hwcap, i, this.hwcapsNames);
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
   * Entry indexes by key offset (ldconfig shares one string between equal keys, and keys with the ends
   * of paths): an open-addressing table of each offset's first entry, and each entry's next one with the
   * same offset, in cache order. Typed arrays: a Map of arrays here was 0.1 MB of garbage per run.
   */
  private table(): { slots: Int32Array; next: Int32Array } {
    if (this.slots === undefined || this.next === undefined) {
      let size = 16;
      while (size < 2 * this.count) size *= 2;
      const slots = new Int32Array(size).fill(-1);
      const next = new Int32Array(this.count).fill(-1);
      const mask = size - 1;
      for (let i = this.count - 1; i >= 0; i--) {
        const key = this.keys[i] ?? 0;
        let h = Math.imul(key, 0x9e3779b1) & mask;
        for (;;) {
          const head = slots[h] ?? -1;
          if (head < 0) {
            slots[h] = i;
            break;
          }
          if (this.keys[head] === key) {
            next[i] = head;
            slots[h] = i;
            break;
          }
          h = (h + 1) & mask;
        }
      }
      this.slots = slots;
      this.next = next;
    }
    return { slots: this.slots, next: this.next };
  }

  /** Calls `each` with every entry whose key string starts at `at`, in cache order. */
  private entriesAt(at: number, each: (i: number) => void): void {
    const { slots, next } = this.table();
    const mask = slots.length - 1;
    for (let h = Math.imul(at, 0x9e3779b1) & mask; ; h = (h + 1) & mask) {
      const head = slots[h] ?? -1;
      if (head < 0) return;
      if (this.keys[head] === at) {
        for (let i = head; i >= 0; i = next[i] ?? -1) each(i);
        return;
      }
    }
  }

  /**
   * The entries whose key overlaps an irregular span: a key that starts after the NUL before the span
   * and before the span's end. Each byte is looked at once, however many spans one string holds.
   */
  private irregularEntries(): number[] {
    if (this.irregular === undefined) {
      const spans = this.irregularSpans ?? [];
      const found = new Set<number>();
      const add = (i: number): void => void found.add(i);
      let scanned = this.keysFrom;
      for (let k = 0; k + 1 < spans.length && found.size <= MAX_IRREGULAR; k += 2) {
        const start = spans[k] ?? 0;
        const end = spans[k + 1] ?? 0;
        // The string holding the span starts after the last NUL before it; what lies before `scanned`
        // was looked at for an earlier span.
        const from = start <= scanned ? scanned : scanned + this.buf.subarray(scanned, start).lastIndexOf(0) + 1;
        for (let key = Math.max(from, scanned); key < end; key++) this.entriesAt(key, add);
        scanned = Math.max(scanned, end);
      }
      this.irregular = [...found];
    }
    return this.irregular;
  }

  /** Whether the plain search may answer at all (parse.ts counted few irregular spans, and they hold few keys). */
  plainUsable(): boolean {
    return this.irregularSpans !== undefined && this.irregularEntries().length <= MAX_IRREGULAR;
  }

  /**
   * Whether each key compares at or above the next under _dl_cache_libcmp, as ldconfig sorts them
   * (search_cache's binary search goes right when the name compares below): then the entries with a name
   * are one run, next to each other, and `runFrom` finds them all. Known only as far as libcmpPlain can
   * tell (its sign is exact where it gives one; NaN counts as not sorted), and asked for only from the
   * (ORDER_CHECK_AFTER + 1)th call on, so that a short run never pays for the check; false until then.
   */
  knownSorted(): boolean {
    if (this.sorted !== undefined) return this.sorted;
    if (++this.lookups <= ORDER_CHECK_AFTER) return false;
    let sorted = true;
    for (let i = 1; i < this.count && sorted; i++) {
      if (!(libcmpPlain(this.buf, this.keyAt(i - 1), this.buf, this.keyAt(i)) >= 0)) sorted = false;
    }
    this.sorted = sorted;
    return sorted;
  }

  /**
   * On a knownSorted image: the entries equal to `name` (its regular spelling and NUL) from `first`, the
   * first of them, up to the last, or undefined when a comparison cannot tell.
   */
  runFrom(name: Uint8Array, first: number): number[] | undefined {
    const out: number[] = [];
    for (let i = first; i < this.count; i++) {
      const c = this.compare(name, i);
      if (Number.isNaN(c)) return undefined;
      if (c !== 0) break;
      out.push(i);
    }
    return out;
  }

  /**
   * Every entry whose name _dl_cache_libcmp calls equal to the name, in cache order. `spelling` is the
   * name's regular spelling and its NUL (lookup.ts: leading zeros dropped); `sameName(i)` compares entry
   * i's decoded name, for the irregular keys. A regular key equal to the name is spelt exactly so: it is
   * found where those bytes occur.
   */
  withName(spelling: Uint8Array, sameName: (i: number) => boolean): number[] {
    const out: number[] = [];
    const add = (i: number): void => void out.push(i);
    for (let at = this.buf.indexOf(spelling, this.keysFrom); at >= 0 && at < this.keysTo; at = this.buf.indexOf(spelling, at + 1)) this.entriesAt(at, add);
    // A key that merely starts inside an irregular span may be regular, and found already.
    for (const i of this.irregularEntries()) if (sameName(i) && !out.includes(i)) out.push(i);
    return out.length > 1 ? out.sort((a, b) => a - b) : out;
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
