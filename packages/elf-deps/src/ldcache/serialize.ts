/** An ld.so.cache's bytes, in the new format, as elf/cache.c save_cache lays them out. */
import { buildLdCache, type BuildLdCacheOptions, type LdCacheInput } from './build.js';
import { LdCacheWriteError } from './errors.js';
import {
  ENDIAN_LITTLE,
  EXTENSION_HEADER_SIZE,
  EXTENSION_MAGIC,
  EXTENSION_SECTION_SIZE,
  NEW_ENTRY_SIZE,
  NEW_HEADER_SIZE,
  NEW_MAGIC,
  TAG_GENERATOR,
  TAG_GLIBC_HWCAPS,
  U64_MASK,
  type LdCache,
} from './format.js';

/**
 * The bytes of `cache` in the new format, entries in the order given (buildLdCache sorts them). Layout
 * as cache.c save_cache writes it: header, entries, strings (offsets from the header), then at the next
 * 4-byte boundary the extension directory, the hwcaps index array and the generator string.
 */
export function serializeLdCache(cache: LdCache): Buffer {
  const little = cache.byteOrder === 'little';
  const n = cache.entries.length;
  const stringsBase = NEW_HEADER_SIZE + n * NEW_ENTRY_SIZE;
  const chunks: Buffer[] = [];
  const offsets = new Map<string, number>();
  let stringsSize = 0;
  const intern = (s: string): number => {
    let off = offsets.get(s);
    if (off === undefined) {
      const bytes = Buffer.from(s + '\0', 'utf8');
      off = stringsBase + stringsSize;
      offsets.set(s, off);
      chunks.push(bytes);
      stringsSize += bytes.length;
    }
    return off;
  };
  const entryOffsets = cache.entries.map((e) => ({ key: intern(e.name), value: intern(e.path) }));
  const hwcapsOffsets = cache.hwcapsNames.map(intern);
  const generator = cache.generator === undefined ? undefined : Buffer.from(cache.generator, 'utf8');
  const sectionCount = (generator ? 1 : 0) + (hwcapsOffsets.length > 0 ? 1 : 0);
  const extensionOffset = sectionCount === 0 ? 0 : Math.ceil((stringsBase + stringsSize) / 4) * 4;
  const directorySize = EXTENSION_HEADER_SIZE + sectionCount * EXTENSION_SECTION_SIZE;
  const hwcapsSize = hwcapsOffsets.length * 4;
  const total = sectionCount === 0 ? stringsBase + stringsSize : extensionOffset + directorySize + hwcapsSize + (generator?.length ?? 0);
  if (total > 0xffffffff) throw new LdCacheWriteError(cache.path, `the cache would be ${total} bytes, more than 32-bit offsets reach`);

  const out = Buffer.alloc(total);
  const u32 = (v: number, at: number): void => void (little ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
  NEW_MAGIC.copy(out, 0);
  u32(n, 20);
  u32(stringsSize, 24);
  out[28] = little ? ENDIAN_LITTLE : 3;
  u32(extensionOffset, 32);
  cache.entries.forEach((e, i) => {
    const at = NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    const offs = entryOffsets[i];
    if (!offs) return;
    if (little) out.writeInt32LE(e.flags, at);
    else out.writeInt32BE(e.flags, at);
    u32(offs.key, at + 4);
    u32(offs.value, at + 8);
    if (little) out.writeBigUInt64LE(e.hwcap & U64_MASK, at + 16);
    else out.writeBigUInt64BE(e.hwcap & U64_MASK, at + 16);
  });
  Buffer.concat(chunks).copy(out, stringsBase);
  if (sectionCount > 0) {
    u32(EXTENSION_MAGIC, extensionOffset);
    u32(sectionCount, extensionOffset + 4);
    let section = extensionOffset + EXTENSION_HEADER_SIZE;
    const hwcapsAt = extensionOffset + directorySize;
    const generatorAt = hwcapsAt + hwcapsSize;
    if (generator) {
      u32(TAG_GENERATOR, section);
      u32(generatorAt, section + 8);
      u32(generator.length, section + 12);
      section += EXTENSION_SECTION_SIZE;
      generator.copy(out, generatorAt);
    }
    if (hwcapsOffsets.length > 0) {
      u32(TAG_GLIBC_HWCAPS, section);
      u32(hwcapsAt, section + 8);
      u32(hwcapsSize, section + 12);
      hwcapsOffsets.forEach((off, i) => u32(off, hwcapsAt + i * 4));
    }
  }
  return out;
}

/** buildLdCache then serializeLdCache: the bytes of a file `ldconfig -p -C FILE` and ld.so read as ldconfig's own. */
export function ldCacheBytes(entries: readonly LdCacheInput[], options: BuildLdCacheOptions = {}): Buffer {
  return serializeLdCache(buildLdCache(entries, options));
}
