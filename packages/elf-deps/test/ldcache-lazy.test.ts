/**
 * The lazily decoded ld.so.cache (src/ldcache/lazy-image.ts): a parsed file's entries are decoded when
 * a lookup reaches them, and a plain name is searched over the key bytes in the file. Every answer must
 * be the one the decoded entries give (the search of lookup.ts that ldcache.test.ts checks against
 * ldconfig -p and ld.so): a copy of the cache with its entries decoded takes that path, so each lookup
 * here is made both ways. Caches the plain search must not trust (unsorted, bytes above 0x7f, digit
 * runs that wrap) are built so that trusting them would give a different answer.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EM_386, EM_X86_64 } from '../src/elf/constants.js';
import { LdCacheFormatError, ldCacheBytes, lookupLdCache, parseLdCache, readLdCache, serializeLdCache, buildLdCache, type LdCache, type LdCacheInput, type LdCacheTarget } from '../src/ldcache/index.js';
import { MAX_IRREGULAR, ORDER_CHECK_AFTER, lazyImageOf } from '../src/ldcache/lazy-image.js';
import { lookupLdCachePlain } from '../src/ldcache/lookup.js';
import { SysRoot } from '../src/sysroot.js';

const target: LdCacheTarget = { elfClass: 64, machine: EM_X86_64, hwcaps: ['x86-64-v3', 'x86-64-v2'], platform: 'x86_64', legacyHwcapDirs: [] };
const i386: LdCacheTarget = { elfClass: 32, machine: EM_386, hwcaps: [] };

/** The same cache as a plain object: lookupLdCache then searches the decoded entries. */
function decoded(cache: LdCache): LdCache {
  return { ...cache, entries: [...cache.entries] };
}

/**
 * A lookup on the lazy cache and on its decoded copy give the same answer (entries compared by value).
 * `plain`: the plain search must be the one that answered (true), must not be (false), or either.
 */
function expectSameLookup(cache: LdCache, name: string, t: LdCacheTarget = target, plain?: boolean): void {
  const copy = decoded(cache);
  expect(lookupLdCachePlain(copy, name, t)).toBeUndefined();
  const lazy = lookupLdCache(cache, name, t);
  const want = lookupLdCache(copy, name, t);
  expect({ name, ...lazy }).toEqual({ name, ...want });
  const direct = lookupLdCachePlain(cache, name, t);
  if (plain !== undefined) expect({ name, plain: direct !== undefined }).toEqual({ name, plain });
  if (direct !== undefined) expect({ name, ...direct }).toEqual({ name, ...want });
}

/**
 * Has the image behind `cache` check its order now (it does so after ORDER_CHECK_AFTER lookups) and
 * says what it found: sorted caches are then searched by the run of equal names alone.
 */
function orderChecked(cache: LdCache): boolean {
  const image = lazyImageOf(cache);
  if (!image) throw new Error('not a lazy image');
  for (let i = 0; i < ORDER_CHECK_AFTER; i++) image.knownSorted();
  return image.knownSorted();
}

/** The bytes of `entries` in exactly this order (serializeLdCache keeps the order it is given). */
function bytesInOrder(entries: LdCacheInput[]): Buffer {
  const built = buildLdCache(entries);
  const byInput = entries.map((e) => built.entries.find((b) => b.name === e.name && b.path === e.path));
  const ordered = byInput.map((e, index) => {
    if (!e) throw new Error('entry lost');
    return { ...e, index };
  });
  return serializeLdCache({ ...built, entries: ordered });
}

describe('lazily decoded ld.so.cache', () => {
  it("this machine's cache, as ldconfig wrote it, is searched plainly, and every name gives the decoded answer", { skip: !fs.existsSync('/etc/ld.so.cache') }, () => {
    const cache = readLdCache(new SysRoot('/'));
    expect(cache).toBeDefined();
    if (!cache) return;
    // The plain search answers for every ASCII name without a ten-digit run, as ldconfig -p prints them
    // (Debian's libdevmapper.so.1.02.1, with a leading zero, included).
    const printed = execFileSync('ldconfig', ['-p'], { encoding: 'latin1' }).split('\n').slice(1);
    const names = new Set(printed.map((l) => /^\s+(\S+) \(/.exec(l)?.[1]).filter((n): n is string => n !== undefined));
    expect(names.size).toBeGreaterThan(0);
    expect(names).toEqual(new Set(cache.entries.map((e) => e.name)));
    for (const name of names) {
      expectSameLookup(cache, name, target, !/[^\x01-\x7f]|[0-9]{10}/.test(name));
      expectSameLookup(cache, name, i386);
      // Equal under _dl_cache_libcmp: a leading zero in a digit run, and a name one digit off.
      expectSameLookup(cache, name.replace(/\.so\.(\d)/, '.so.0$1'));
      expectSameLookup(cache, name.replace(/(\d+)$/, (d) => String(Number(d) + 1)));
    }
    for (const absent of ['', 'a', 'libzzzz.so.1', 'libc.so', 'libc.so.60', '0', 'lib\u00e9.so.1', 'libc.so.6\uFFFD']) expectSameLookup(cache, absent);
    // ldconfig sorts its entries: after a batch's worth of lookups (these) the image knows it, and the
    // lookups since took the run the binary search found for every entry with the name.
    expect(names.size * 4).toBeGreaterThan(ORDER_CHECK_AFTER);
    expect(lazyImageOf(cache)?.knownSorted()).toBe(true);
  });

  it('the order check: a cache sorted but for one pair, or unsorted, is not taken as sorted; the answers stay', () => {
    const names = Array.from({ length: 40 }, (_, i) => `libn${String(i).padStart(2, 'x')}.so.1`);
    const sorted = buildLdCache(names.map((n) => ({ name: n, path: `/l/${n}`, flags: 0x303 }))).entries.map((e) => ({ name: e.name, path: e.path, flags: e.flags }));
    expect(orderChecked(parseLdCache(bytesInOrder(sorted), 'sorted'))).toBe(true);
    const swapped = [...sorted];
    const last = swapped.length - 1;
    [swapped[last - 1], swapped[last]] = [swapped[last] ?? sorted[0], swapped[last - 1] ?? sorted[0]] as [LdCacheInput, LdCacheInput];
    const oneOff = parseLdCache(bytesInOrder(swapped), 'one pair');
    expect(orderChecked(oneOff)).toBe(false);
    for (const n of names) expectSameLookup(oneOff, n, target, true);
    // A byte above 0x7f where two keys first differ: the order cannot be told plainly, so not sorted.
    const high = parseLdCache(ldCacheBytes([{ name: 'libq\u00e9.so', path: '/h', flags: 0x303 }, { name: 'libqa.so', path: '/a', flags: 0x303 }, ...sorted]), 'high');
    expect(orderChecked(high)).toBe(false);
    for (const n of ['libqa.so', 'libq\u00e9.so', ...names]) expectSameLookup(high, n);
  });

  it('an entry is decoded once: the lookup and the entry list hand out the same object', () => {
    const cache = parseLdCache(ldCacheBytes([{ name: 'libfoo.so.1', path: '/a/libfoo.so.1', flags: 0x303 }]), 'one');
    const hit = lookupLdCache(cache, 'libfoo.so.1', target).entry;
    expect(hit).toBeDefined();
    expect(cache.entries[0]).toBe(hit);
  });

  it('an unsorted cache: the entries with a name are all found, though they are not next to each other', () => {
    // The binary search meets the second libq.so.1 (index 2); the first one (index 0) is behind libz.so.
    // Taking the run around the hit as every entry with the name would drop it.
    const bytes = bytesInOrder([
      { name: 'libq.so.1', path: '/first/libq.so.1', flags: 0x303 },
      { name: 'libz.so', path: '/z/libz.so', flags: 0x303 },
      { name: 'libq.so.1', path: '/second/libq.so.1', flags: 0x303 },
    ]);
    // Looked up before the order check, and after it (a batch's worth of lookups made).
    for (const checked of [false, true]) {
      const cache = parseLdCache(bytes, 'unsorted');
      if (checked) expect(orderChecked(cache)).toBe(false);
      const r = lookupLdCachePlain(cache, 'libq.so.1', target);
      expect(r).toBeDefined();
      if (!r) return;
      expect(r.path).toBe('/second/libq.so.1');
      expect(r.candidates.map((e) => e.path)).toEqual(['/first/libq.so.1', '/second/libq.so.1']);
      expectSameLookup(cache, 'libq.so.1', target, true);
    }
  });

  it('one key string at two offsets (a name stored twice, or shared with the end of a path): both entries found', () => {
    const bytes = Buffer.from(
      ldCacheBytes([
        { name: 'libq.so.1', path: '/a/libq.so.1', flags: 0x303 },
        { name: 'libq.so.1', path: '/b/libq.so.1', flags: 0x3 },
        { name: 'libp.so.1', path: '/p', flags: 0x303 },
      ]),
    );
    // Point the second entry's key at the "libq.so.1" that ends "/b/libq.so.1", as ldconfig's string
    // table does when it shares a key with the end of a path.
    const cache0 = parseLdCache(bytes, 'shared');
    const second = cache0.entries.findIndex((e) => e.path === '/b/libq.so.1');
    const suffix = bytes.indexOf('/b/libq.so.1\0', 0, 'latin1') + 3;
    bytes.writeUInt32LE(suffix, 48 + second * 24 + 4);
    const cache = parseLdCache(bytes, 'shared');
    const r = lookupLdCachePlain(cache, 'libq.so.1', target);
    expect(r?.candidates.map((e) => e.path).sort()).toEqual(['/a/libq.so.1', '/b/libq.so.1']);
    expectSameLookup(cache, 'libq.so.1', target, true);
  });

  it('a leading zero: libz.so.01 and libz.so.1 are one name, and both are found for either spelling', () => {
    const cache = parseLdCache(
      ldCacheBytes([
        { name: 'libz.so.01', path: '/zero/libz.so.01', flags: 0x303 },
        { name: 'libz.so.1', path: '/one/libz.so.1', flags: 0x303 },
        { name: 'liby.so.1', path: '/y', flags: 0x303 },
      ]),
      'zero',
    );
    // Finding entries by the bytes of the name alone would miss the other spelling.
    for (const name of ['libz.so.1', 'libz.so.01', 'libz.so.001']) {
      expect(lookupLdCachePlain(cache, name, target)?.candidates.map((e) => e.path).sort()).toEqual(['/one/libz.so.1', '/zero/libz.so.01']);
      expectSameLookup(cache, name, target, true);
    }
    const one = parseLdCache(ldCacheBytes([{ name: 'libz.so.1', path: '/one/libz.so.1', flags: 0x303 }]), 'one');
    expect(lookupLdCachePlain(one, 'libz.so.01', target)?.path).toBe('/one/libz.so.1');
    expectSameLookup(one, 'libz.so.01', target, true);
  });

  it('a sorted cache: the run of equal names, in cache order, hwcaps variants first', () => {
    const bytes = ldCacheBytes([
      { name: 'libq.so.1', path: '/l/libq.so.1', flags: 0x303 },
      { name: 'libq.so.01', path: '/l/glibc-hwcaps/x86-64-v2/libq.so.1', flags: 0x303, hwcaps: 'x86-64-v2', isaLevel: 1 },
      { name: 'libq.so.1', path: '/lib32/libq.so.1', flags: 0x3 },
      { name: 'libr.so.1', path: '/l/libr.so.1', flags: 0x303 },
      { name: 'libp.so.1', path: '/l/libp.so.1', flags: 0x303 },
    ]);
    for (const checked of [false, true]) {
      const cache = parseLdCache(bytes, 'sorted');
      // Checked: the run alone (libq.so.01 in it) gives the candidates.
      if (checked) expect(orderChecked(cache)).toBe(true);
      const r = lookupLdCache(cache, 'libq.so.1', target);
      expect(r.path).toBe('/l/glibc-hwcaps/x86-64-v2/libq.so.1');
      expect(r.candidates.map((e) => e.path)).toEqual(['/l/glibc-hwcaps/x86-64-v2/libq.so.1', '/l/libq.so.1', '/lib32/libq.so.1']);
      expect(r.usable.map((e) => e.path)).toEqual(['/l/glibc-hwcaps/x86-64-v2/libq.so.1', '/l/libq.so.1']);
      for (const name of ['libq.so.1', 'libq.so.001', 'libr.so.1', 'libp.so.1', 'libo.so.1', 'libs.so.1']) {
        expectSameLookup(cache, name, target, true);
        expectSameLookup(cache, name, i386, true);
      }
    }
  });

  it('a digit run that wraps as a C int, and bytes above 0x7f, are left to the decoded names', () => {
    // 4294967297 wraps to 1 in _dl_cache_libcmp: libz.so.4294967297 and libz.so.1 are the same name.
    const wrap = parseLdCache(ldCacheBytes([{ name: 'libz.so.4294967297', path: '/w/libz', flags: 0x303 }, { name: 'liba.so.1', path: '/a', flags: 0x303 }]), 'wrap');
    expect(lookupLdCache(wrap, 'libz.so.1', target).path).toBe('/w/libz');
    expectSameLookup(wrap, 'libz.so.1');
    expectSameLookup(wrap, 'libz.so.4294967297', target, false);
    // A key that is not UTF-8 decodes to U+FFFD; the name read from a DT_NEEDED with the same bytes does too.
    const raw = Buffer.from(ldCacheBytes([{ name: 'lib\u00ff.so.1', path: '/x/lib', flags: 0x303 }, { name: 'libb.so.1', path: '/b', flags: 0x303 }]));
    const at = raw.indexOf(Buffer.from('lib\u00ff.so.1', 'utf8'));
    raw[at + 3] = 0xff; // "lib" 0xff 0xff ".so.1": not UTF-8, each byte reads as U+FFFD
    raw[at + 4] = 0xff;
    const bad = parseLdCache(raw, 'not utf-8');
    expect(lookupLdCache(bad, 'lib\uFFFD\uFFFD.so.1', target).path).toBe('/x/lib');
    expectSameLookup(bad, 'lib\uFFFD\uFFFD.so.1', target, false);
    for (const name of ['lib\uFFFD\uFFFD.so.1', 'libb.so.1', 'lib.so.1', 'libc.so.1']) expectSameLookup(bad, name);
  });

  it('more irregular keys than MAX_IRREGULAR: the plain search steps aside, the answers stay', () => {
    const inputs: LdCacheInput[] = [];
    for (let i = 0; i <= MAX_IRREGULAR; i++) inputs.push({ name: `libq.so.0${i}`, path: `/q/${i}`, flags: 0x303 });
    inputs.push({ name: 'libplain.so.1', path: '/p/libplain.so.1', flags: 0x303 });
    const many = parseLdCache(ldCacheBytes(inputs), 'many');
    expect(lookupLdCachePlain(many, 'libplain.so.1', target)).toBeUndefined();
    expect(lookupLdCache(many, 'libplain.so.1', target).path).toBe('/p/libplain.so.1');
    expect(lookupLdCache(many, 'libq.so.7', target).path).toBe('/q/7');
    for (const name of ['libplain.so.1', 'libq.so.07', 'libq.so.7', 'libq.so.256']) expectSameLookup(many, name);
    // At the limit it still answers.
    const few = parseLdCache(ldCacheBytes(inputs.slice(MAX_IRREGULAR - 40)), 'few');
    expect(lookupLdCachePlain(few, 'libplain.so.1', target)?.path).toBe('/p/libplain.so.1');
  });

  it('one path string with many irregular spans, a key pointing into it: found, as the decoded search finds it', () => {
    const long = `/d/${Array.from({ length: 200 }, (_, i) => `x\u00e9${i}`).join('')}/libw.so.1`;
    const bytes = Buffer.from(ldCacheBytes([{ name: 'libw.so.1', path: long, flags: 0x303 }, { name: 'liba.so.1', path: '/a', flags: 0x303 }]));
    const w = parseLdCache(bytes, 'long').entries.findIndex((e) => e.name === 'libw.so.1');
    bytes.writeUInt32LE(bytes.indexOf(Buffer.from(`${long}\0`, 'utf8')) + Buffer.byteLength(long) - 'libw.so.1'.length, 48 + w * 24 + 4);
    const cache = parseLdCache(bytes, 'long');
    expect(cache.entries[w]?.name).toBe('libw.so.1');
    for (const name of ['libw.so.1', 'liba.so.1', 'libb.so.1']) expectSameLookup(cache, name, target, true);
    expect(lookupLdCache(cache, 'libw.so.1', target).path).toBe(long);
  });

  it('random caches and names: the lazy search gives the decoded answer', () => {
    let knownSorted = 0;
    let unsorted = 0;
    const part = fc.constantFrom('lib', 'a', 'z', '.so', '.so.', '0', '1', '01', '9', '10', '4294967297', '-', '_', '\u00e9');
    const name = fc.array(part, { minLength: 1, maxLength: 5 }).map((p) => p.join(''));
    const entry = fc.record({ name, dir: fc.constantFrom('/a', '/b'), flags: fc.constantFrom(0x303, 0x3, 0x0), hwcaps: fc.constantFrom(undefined, 'x86-64-v2', 'x86-64-v4') });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 12 }), fc.array(name, { maxLength: 6 }), fc.boolean(), (list, extra, shuffle) => {
        const inputs: LdCacheInput[] = list.map((e, i) => {
          const input: LdCacheInput = { name: e.name, path: `${e.dir}/${i}/${e.name}`, flags: e.flags };
          if (e.hwcaps !== undefined) {
            input.hwcaps = e.hwcaps;
            input.isaLevel = e.hwcaps === 'x86-64-v2' ? 1 : 3;
          }
          return input;
        });
        const bytes = shuffle ? bytesInOrder(inputs) : ldCacheBytes(inputs);
        // Before the order check and after it: where the image finds itself sorted, by the run alone.
        const cache = parseLdCache(bytes, 'random');
        const checked = parseLdCache(bytes, 'random, order checked');
        if (orderChecked(checked)) knownSorted++;
        else unsorted++;
        for (const n of [...list.map((e) => e.name), ...extra]) {
          expectSameLookup(cache, n);
          expectSameLookup(checked, n);
        }
      }),
      { numRuns: 400 },
    );
    // Both kinds were met (ldconfig's order, shuffled ones, keys the plain comparison cannot order).
    expect(knownSorted).toBeGreaterThan(50);
    expect(unsorted).toBeGreaterThan(50);
  });

  it('mutated files: what parses gives the decoded answer for every name in it', () => {
    const sample = ldCacheBytes([
      { name: 'libfoo.so.1', path: '/opt/a/libfoo.so.1', flags: 0x303 },
      { name: 'libfoo.so.1', path: '/opt/a/glibc-hwcaps/x86-64-v3/libfoo.so.1', flags: 0x303, hwcaps: 'x86-64-v3', isaLevel: 2 },
      { name: 'libfoo.so.1', path: '/lib32/libfoo.so.1', flags: 0x3 },
      { name: 'libbar.so.2', path: '/opt/b/libbar.so.2', flags: 0x303, hwcap: (1n << 63n) | 2n },
      { name: 'libbar.so', path: '/opt/b/libbar.so', flags: 0x303 },
    ]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        const bytes = Buffer.from(sample);
        for (const [pos, value] of edits) bytes[pos % bytes.length] = value;
        let cache: LdCache;
        try {
          cache = parseLdCache(bytes, 'mutated');
        } catch (err) {
          if (err instanceof LdCacheFormatError) return;
          throw err;
        }
        const checked = parseLdCache(bytes, 'mutated, order checked');
        orderChecked(checked);
        for (const n of new Set([...cache.entries.map((e) => e.name), 'libfoo.so.1', 'libbar.so'])) {
          expectSameLookup(cache, n);
          expectSameLookup(checked, n);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('a bad string offset is refused naming the first bad field, as the decoding loop always named it', () => {
    const bytes = ldCacheBytes([
      { name: 'liba.so.1', path: '/a', flags: 0x303 },
      { name: 'libb.so.1', path: '/b', flags: 0x303 },
    ]);
    const withField = (entry: number, field: 4 | 8, value: number): Buffer => {
      const b = Buffer.from(bytes);
      b.writeUInt32LE(value, 48 + entry * 24 + field);
      return b;
    };
    expect(() => parseLdCache(withField(1, 8, 0xfffffff0), 'value')).toThrow(/value string offset 4294967280 is outside the file/);
    expect(() => parseLdCache(withField(0, 4, bytes.length + 1), 'key')).toThrow(/key string offset \d+ is outside the file/);
    // An offset into the last bytes, past the last NUL: unterminated.
    const noNul = Buffer.concat([bytes, Buffer.from('xyz')]);
    noNul.writeUInt32LE(noNul.length - 2, 48 + 4);
    expect(() => parseLdCache(noNul, 'unterminated')).toThrow(/key string is not NUL-terminated/);
    // Entry 0's value and entry 1's key both bad: the first in file order is named.
    const both = withField(1, 4, 0xffffffff);
    both.writeUInt32LE(0xfffffff0, 48 + 8);
    expect(() => parseLdCache(both, 'both')).toThrow(LdCacheFormatError);
    expect(() => parseLdCache(both, 'both')).toThrow(/value string offset 4294967280/);
  });
});
