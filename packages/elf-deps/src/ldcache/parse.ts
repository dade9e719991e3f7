/**
 * ld.so.cache read the way glibc 2.36's loader reads it: elf/dl-cache.c _dl_load_cache_lookup (which
 * layout, which byte order) and dl-cache.h cache_extension_load (the generator and glibc-hwcaps names).
 */
import type { ByteOrder } from '../elf/fields.js';
import type { SysRoot } from '../sysroot.js';
import { LdCacheFormatError } from './errors.js';
import { LazyImage, MAX_IRREGULAR, lazyCache, u32At } from './lazy-image.js';
import {
  ENDIAN_INVALID,
  ENDIAN_LITTLE,
  ENDIAN_UNSET,
  EXTENSION_HEADER_SIZE,
  EXTENSION_MAGIC,
  EXTENSION_SECTION_SIZE,
  LD_SO_CACHE,
  MAX_LD_CACHE_BYTES,
  NEW_ENTRY_SIZE,
  NEW_HEADER_SIZE,
  NEW_MAGIC,
  OLD_ENTRY_SIZE,
  OLD_HEADER_SIZE,
  OLD_MAGIC,
  TAG_GENERATOR,
  TAG_GLIBC_HWCAPS,
  newFormatEntry,
  type LdCache,
  type LdCacheEntry,
  type LdCacheFormat,
} from './format.js';

export interface ParseLdCacheOptions {
  /**
   * Byte order for a file that does not record one (the old format, or a new-format file from before
   * glibc 2.33): ld.so assumes its own. Default 'little'.
   */
  byteOrder?: ByteOrder;
}

/** Bounds-checked reads of one cache image; every failure is an LdCacheFormatError naming the field. */
class CacheImage {
  private readonly strings = new Map<number, string>();
  constructor(
    readonly buf: Buffer,
    readonly path: string,
    readonly order: ByteOrder,
  ) {}

  fail(field: string, offset: number, message: string): never {
    throw new LdCacheFormatError(this.path, field, Math.max(0, offset), message);
  }

  need(at: number, length: number, field: string): void {
    if (at < 0 || length < 0 || at + length > this.buf.length) {
      this.fail(field, at, `${field} lies outside the file (${length} bytes at ${at}, file size ${this.buf.length})`);
    }
  }

  u32(at: number, field: string): number {
    this.need(at, 4, field);
    return this.order === 'little' ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  i32(at: number, field: string): number {
    this.need(at, 4, field);
    return this.order === 'little' ? this.buf.readInt32LE(at) : this.buf.readInt32BE(at);
  }

  u64(at: number, field: string): bigint {
    this.need(at, 8, field);
    return this.order === 'little' ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
  }

  /** The NUL-terminated string at `at`; ld.so would read past the end of an unterminated one, so it is an error. */
  cString(at: number, field: string): string {
    const cached = this.strings.get(at);
    if (cached !== undefined) return cached;
    if (at < 0 || at >= this.buf.length) this.fail(field, at, `${field} string offset ${at} is outside the file (size ${this.buf.length})`);
    const nul = this.buf.indexOf(0, at);
    if (nul < 0) this.fail(field, at, `${field} string is not NUL-terminated before the end of the file`);
    const s = this.buf.toString('utf8', at, nul);
    this.strings.set(at, s);
    return s;
  }

  startsWith(at: number, magic: Buffer): boolean {
    return at + magic.length <= this.buf.length && this.buf.compare(magic, 0, magic.length, at, at + magic.length) === 0;
  }
}

/**
 * Parses a cache image. Accepts what ld.so accepts (dl-cache.c _dl_load_cache_lookup) and checks every
 * offset ld.so would follow; anything else is an LdCacheFormatError. ld.so itself silently ignores a
 * cache it cannot use, so a caller mirroring it treats the error as "no cache" (and may report it).
 */
export function parseLdCache(bytes: Buffer, displayPath: string, options: ParseLdCacheOptions = {}): LdCache {
  const hint = options.byteOrder ?? 'little';
  const probe = new CacheImage(bytes, displayPath, hint);
  if (probe.startsWith(0, NEW_MAGIC)) return parseNew(bytes, displayPath, 0, 'new', hint);
  if (!probe.startsWith(0, OLD_MAGIC)) {
    probe.fail('magic', 0, 'not an ld.so.cache: it starts with neither "glibc-ld.so.cache1.1" nor "ld.so-1.7.0"');
  }
  const nlibs = probe.u32(12, 'nlibs');
  // Same overflow-free corruption check as ld.so: the entry array must fit in the file.
  if (nlibs > Math.floor((bytes.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE)) {
    probe.fail('nlibs', 12, `old-format header claims ${nlibs} entries, more than the file holds`);
  }
  const entriesEnd = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;
  // ALIGN_CACHE uses __alignof__ (struct cache_file_new): 8 on 64-bit ABIs, 4 on i386. ldconfig pads the
  // old entry count to even so both agree; an odd count from another writer is found either way.
  for (const align of [8, 4]) {
    const at = Math.ceil(entriesEnd / align) * align;
    if (bytes.length >= at + NEW_HEADER_SIZE && probe.startsWith(at, NEW_MAGIC)) {
      return parseNew(bytes, displayPath, at, 'old+new', hint);
    }
  }
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
    entries.push({
      name: probe.cString(entriesEnd + probe.u32(at + 4, 'key'), 'key'),
      path: probe.cString(entriesEnd + probe.u32(at + 8, 'value'), 'value'),
      flags: probe.i32(at, 'flags'),
      hwcap: 0n,
      extension: false,
      isaLevel: 0,
      index: i,
    });
  }
  return { path: displayPath, format: 'old', byteOrder: hint, entries, hwcapsNames: [] };
}

function parseNew(bytes: Buffer, displayPath: string, base: number, format: LdCacheFormat, hint: ByteOrder): LdCache {
  const probe = new CacheImage(bytes, displayPath, hint);
  probe.need(base, NEW_HEADER_SIZE, 'header');
  // dl-cache.h cache_file_new_matches_endian: 0 means "not recorded"; only the low two bits count.
  const endian = (bytes[base + 28] ?? 0) & 3;
  if (endian === ENDIAN_INVALID) probe.fail('flags', base + 28, 'the cache marks itself invalid (endianness 1)');
  const order: ByteOrder = endian === ENDIAN_UNSET ? hint : endian === ENDIAN_LITTLE ? 'little' : 'big';
  const img = new CacheImage(bytes, displayPath, order);
  const nlibs = img.u32(base + 20, 'nlibs');
  if (nlibs > Math.floor((bytes.length - base - NEW_HEADER_SIZE) / NEW_ENTRY_SIZE)) {
    img.fail('nlibs', base + 20, `header claims ${nlibs} entries, more than the file holds`);
  }
  const ext = readExtensions(img, img.u32(base + 32, 'extension_offset'));
  // Every offset ld.so would follow is checked here, as before; the entries are decoded when a lookup
  // reaches them (lazy-image.ts). A key or value string outside the file or unterminated sends the file
  // through the decoding loop below, which names the first bad one exactly as it always has.
  const length = bytes.length;
  const lastNul = bytes.lastIndexOf(0);
  let good = true;
  const keys = new Uint32Array(nlibs);
  let minKey = length;
  let maxKey = -1;
  for (let i = 0; i < nlibs && good; i++) {
    const at = base + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const key = base + u32At(bytes, at + 4, order);
    const value = base + u32At(bytes, at + 8, order);
    good = key < length && key <= lastNul && value < length && value <= lastNul;
    keys[i] = key;
    if (key < minKey) minKey = key;
    if (key > maxKey) maxKey = key;
  }
  if (!good) return decodeNew(img, base, nlibs, format, ext);
  // The keys lie between the first key and the last key's NUL; what is irregular there (a byte above
  // 0x7f, a digit run of ten digits or with a leading zero, in a key or a path between keys) is marked
  // for lazy-image.ts.
  const keysTo = nlibs === 0 ? 0 : bytes.indexOf(0, maxKey) + 1;
  const keysFrom = nlibs === 0 ? 0 : minKey;
  let spans: number[] | undefined = [];
  for (const m of bytes.toString('latin1', keysFrom, keysTo).matchAll(/[^\x00-\x7f]+|[0-9]{10,}|(?<![0-9])0[0-9]+/g)) {
    if (spans.length >= 2 * MAX_IRREGULAR) {
      spans = undefined;
      break;
    }
    spans.push(keysFrom + m.index, keysFrom + m.index + m[0].length);
  }
  const image = new LazyImage(bytes, base, nlibs, keys, order, ext.hwcapsNames, keysFrom, keysTo, spans);
  const fields: Omit<LdCache, 'entries'> = { path: displayPath, format, byteOrder: order, hwcapsNames: ext.hwcapsNames };
  if (ext.generator !== undefined) fields.generator = ext.generator;
  return lazyCache(image, fields);
}

/** Decodes every entry at once, failing on the first bad string offset with the field it belongs to. */
function decodeNew(img: CacheImage, base: number, nlibs: number, format: LdCacheFormat, ext: { generator?: string; hwcapsNames: string[] }): LdCache {
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = base + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const hwcap = img.u64(at + 16, 'hwcap');
    const name = img.cString(base + img.u32(at + 4, 'key'), 'key');
    const entry = newFormatEntry(name, img.cString(base + img.u32(at + 8, 'value'), 'value'), img.i32(at, 'flags'), hwcap, i, ext.hwcapsNames);
    entries.push(entry);
  }
  const cache: LdCache = { path: img.path, format, byteOrder: img.order, entries, hwcapsNames: ext.hwcapsNames };
  if (ext.generator !== undefined) cache.generator = ext.generator;
  return cache;
}

/**
 * dl-cache.h cache_extension_load and cache_extension_verify. Offsets in the directory and the hwcaps
 * string indices count from the start of the file (ld.so and `ldconfig -p` both read them so).
 */
function readExtensions(img: CacheImage, offset: number): { generator?: string; hwcapsNames: string[] } {
  const out: { generator?: string; hwcapsNames: string[] } = { hwcapsNames: [] };
  if (offset === 0) return out;
  const size = img.buf.length;
  if (offset % 4 !== 0) img.fail('extension_offset', offset, 'extension directory is not 4-byte aligned');
  img.need(offset, EXTENSION_HEADER_SIZE, 'extension directory');
  if (img.u32(offset, 'extension magic') !== EXTENSION_MAGIC) img.fail('extension magic', offset, 'extension directory has the wrong magic');
  const count = img.u32(offset + 4, 'extension count');
  if (count > Math.floor((size - offset - EXTENSION_HEADER_SIZE) / EXTENSION_SECTION_SIZE)) {
    img.fail('extension count', offset + 4, `extension directory claims ${count} sections, more than the file holds`);
  }
  const sections = new Map<number, { offset: number; size: number }>();
  for (let i = 0; i < count; i++) {
    const at = offset + EXTENSION_HEADER_SIZE + i * EXTENSION_SECTION_SIZE;
    const tag = img.u32(at, 'extension tag');
    const secOffset = img.u32(at + 8, 'extension section offset');
    const secSize = img.u32(at + 12, 'extension section size');
    if (secOffset + secSize > size) img.fail('extension section', at, `extension section ${i} (${secSize} bytes at ${secOffset}) lies outside the file`);
    // Unknown tags are skipped; a repeated tag replaces the earlier one, as in cache_extension_load.
    if (tag === TAG_GENERATOR || tag === TAG_GLIBC_HWCAPS) sections.set(tag, { offset: secOffset, size: secSize });
  }
  const generator = sections.get(TAG_GENERATOR);
  if (generator) out.generator = img.buf.toString('utf8', generator.offset, generator.offset + generator.size);
  const hwcaps = sections.get(TAG_GLIBC_HWCAPS);
  // cache_extension_verify drops (does not reject) an empty or misaligned hwcaps section.
  if (hwcaps && hwcaps.size > 0 && hwcaps.offset % 4 === 0 && hwcaps.size % 4 === 0) {
    for (let at = hwcaps.offset; at < hwcaps.offset + hwcaps.size; at += 4) {
      // An index past the file would send ld.so's glibc_hwcaps_priorities_init into an endless loop
      // writing past its array; refuse the file instead.
      out.hwcapsNames.push(img.cString(img.u32(at, 'glibc-hwcaps name'), 'glibc-hwcaps name'));
    }
  }
  return out;
}

/** Reads and parses the cache at `path` inside `root`; undefined when there is no such file. */
export function readLdCache(root: SysRoot, path: string = LD_SO_CACHE, options: ParseLdCacheOptions = {}): LdCache | undefined {
  const bytes = root.readBytes(path, MAX_LD_CACHE_BYTES);
  return bytes === undefined ? undefined : parseLdCache(bytes, path, options);
}

