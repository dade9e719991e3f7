/**
 * Every ELF is malformed until proven otherwise: truncated, mutated, crafted and special files give a
 * typed error (NotElfError, ElfFormatError, UnreadableFileError) quickly — never a RangeError, a
 * TypeError, a hang or unbounded memory. Crafted 32-bit big-endian files and PN_XNUM are checked
 * against readelf.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ElfDepsError, ElfFormatError, NotElfError, UnreadableFileError, readElf } from '../src/index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elfcopy-malformed-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const write = (bytes: Uint8Array): string => {
  const p = path.join(tmp, `f${n++}`);
  fs.writeFileSync(p, bytes);
  return p;
};

/** Outcome of reading: 'ok', or the typed error's class name; anything else fails the test. */
function outcome(p: string): string {
  try {
    readElf(p, { versions: true, notes: true });
    return 'ok';
  } catch (err) {
    if (err instanceof ElfDepsError) return err.name;
    throw err;
  }
}

/** A minimal ELF: header, PT_LOAD, PT_INTERP, PT_DYNAMIC, dynstr — any class and byte order. */
function craft(opts: { cls: 32 | 64; big: boolean; phnumXnum?: boolean; needed?: string[]; interp?: string }): Buffer {
  const w = opts.cls === 64 ? 8 : 4;
  const ehsize = opts.cls === 64 ? 64 : 52;
  const phent = opts.cls === 64 ? 56 : 32;
  const shent = opts.cls === 64 ? 64 : 40;
  const interp = Buffer.from((opts.interp ?? '/lib/ld.so.1') + '\0');
  const names = opts.needed ?? ['libfoo.so.1', 'libbar.so.2'];
  const strtab = Buffer.from('\0' + names.map((s) => s + '\0').join('') + 'libself.so\0');
  const phnum = 3;
  const phoff = ehsize;
  const interpOff = phoff + phnum * phent;
  const strOff = interpOff + interp.length;
  const dynOff = Math.ceil((strOff + strtab.length) / 8) * 8;
  const dynEntries: [number, number][] = [];
  let idx = 1;
  for (const s of names) {
    dynEntries.push([1, idx]);
    idx += s.length + 1;
  }
  dynEntries.push([14, idx], [5, strOff], [10, strtab.length], [0, 0]);
  const dynSize = dynEntries.length * 2 * w;
  const shoff = dynOff + dynSize;
  const total = shoff + shent;
  const b = Buffer.alloc(total);
  const u16 = (v: number, at: number) => (opts.big ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const u32 = (v: number, at: number) => (opts.big ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const word = (v: number, at: number) => (w === 8 ? (opts.big ? b.writeBigUInt64BE(BigInt(v), at) : b.writeBigUInt64LE(BigInt(v), at)) : u32(v, at));
  b.set([0x7f, 0x45, 0x4c, 0x46, opts.cls === 64 ? 2 : 1, opts.big ? 2 : 1, 1, 0], 0);
  u16(2, 16); // ET_EXEC
  u16(opts.big ? 20 : 62, 18); // PowerPC (big) / x86-64
  u32(1, 20);
  word(0, 24);
  word(phoff, 24 + w);
  word(shoff, 24 + 2 * w);
  u32(0, 24 + 3 * w);
  u16(ehsize, 28 + 3 * w);
  u16(phent, 30 + 3 * w);
  u16(opts.phnumXnum ? 0xffff : phnum, 32 + 3 * w);
  u16(shent, 34 + 3 * w);
  u16(1, 36 + 3 * w);
  u16(0, 38 + 3 * w);
  const ph = (i: number, type: number, off: number, size: number) => {
    const at = phoff + i * phent;
    u32(type, at);
    if (w === 8) {
      u32(4, at + 4);
      word(off, at + 8);
      word(off, at + 16);
      word(off, at + 24);
      word(size, at + 32);
      word(size, at + 40);
      word(8, at + 48);
    } else {
      word(off, at + 4);
      word(off, at + 8);
      word(off, at + 12);
      word(size, at + 16);
      word(size, at + 20);
      u32(4, at + 24);
      word(4, at + 28);
    }
  };
  ph(0, 1, 0, total); // PT_LOAD: identity mapping
  ph(1, 3, interpOff, interp.length); // PT_INTERP
  ph(2, 2, dynOff, dynSize); // PT_DYNAMIC
  interp.copy(b, interpOff);
  strtab.copy(b, strOff);
  dynEntries.forEach(([tag, val], i) => {
    word(tag, dynOff + i * 2 * w);
    word(val, dynOff + i * 2 * w + w);
  });
  // Section header 0: sh_info carries the real e_phnum under PN_XNUM.
  if (opts.phnumXnum) u32(phnum, shoff + (w === 8 ? 44 : 28));
  return b;
}

function readelfNeeded(p: string): { needed: string[]; interp?: string; soname?: string } {
  const out = spawnSync('readelf', ['-l', '-d', '--wide', p], { encoding: 'utf8' }).stdout;
  return {
    needed: [...out.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]!),
    interp: /Requesting program interpreter: (.*)\]/.exec(out)?.[1],
    soname: /Library soname: \[(.*)\]/.exec(out)?.[1],
  };
}

describe('crafted files, checked against readelf', () => {
  for (const [cls, big] of [
    [32, false],
    [32, true],
    [64, false],
    [64, true],
  ] as const) {
    it(`ELF${cls} ${big ? 'big' : 'little'}-endian`, () => {
      const p = write(craft({ cls, big }));
      const info = readElf(p);
      expect([info.elfClass, info.byteOrder]).toEqual([cls, big ? 'big' : 'little']);
      const re = readelfNeeded(p);
      expect(info.dynamic?.needed).toEqual(re.needed);
      expect(info.dynamic?.needed).toEqual(['libfoo.so.1', 'libbar.so.2']);
      expect(info.interpreter).toBe(re.interp);
      expect(info.dynamic?.soname).toBe(re.soname);
    });
  }

  it('PN_XNUM: e_phnum 0xffff takes the count from section header 0', () => {
    const p = write(craft({ cls: 64, big: false, phnumXnum: true }));
    const info = readElf(p);
    expect(info.dynamic?.needed).toEqual(readelfNeeded(p).needed);
    expect(info.interpreter).toBe('/lib/ld.so.1');
  });
});

describe('bad input gives a typed error, quickly', () => {
  const real = fs.readFileSync('/usr/bin/true');

  it('0, 3 and 15-byte files; every truncation of the first 4 KiB of a real ELF', () => {
    expect(outcome(write(Buffer.alloc(0)))).toBe('NotElfError');
    expect(outcome(write(real.subarray(0, 3)))).toBe('NotElfError');
    expect(outcome(write(real.subarray(0, 15)))).toBe('ElfFormatError');
    for (let len = 16; len <= 4096; len += 7) {
      expect(['ok', 'ElfFormatError', 'NotElfError']).toContain(outcome(write(real.subarray(0, len))));
    }
  });

  it('special files are refused by type, never opened for reading (a FIFO must not block)', () => {
    const fifo = path.join(tmp, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect(() => readElf(fifo)).toThrow(UnreadableFileError);
    expect(() => readElf(tmp)).toThrow(/is a directory/);
    expect(() => readElf('/dev/zero')).toThrow(/character device/);
    const a = path.join(tmp, 'la');
    const b = path.join(tmp, 'lb');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    expect(() => readElf(a)).toThrow(/symlink loop|symbolic links/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('offsets past the end, huge counts, strings without NUL, version-chain loops', () => {
    const base = craft({ cls: 64, big: false });
    const cases: [string, (b: Buffer) => void][] = [
      ['e_phoff past EOF', (b) => b.writeBigUInt64LE(1n << 40n, 32)],
      ['e_phnum huge (PN_XNUM with a huge sh_info)', (b) => {
        b.writeUInt16LE(0xffff, 56);
        b.writeUInt32LE(0xffffffff, b.readUInt32LE(40) + 44);
      }],
      ['PT_DYNAMIC past EOF', (b) => b.writeBigUInt64LE(1n << 33n, 64 + 2 * 56 + 8)],
      ['DT_NEEDED index past DT_STRSZ', (b) => {
        const dyn = Number(b.readBigUInt64LE(64 + 2 * 56 + 8));
        b.writeBigUInt64LE(1n << 20n, dyn + 8);
      }],
      ['dynstr without NUL', (b) => {
        const dyn = Number(b.readBigUInt64LE(64 + 2 * 56 + 8));
        const strOff = Number(b.readBigUInt64LE(dyn + 3 * 16 + 8));
        for (let i = strOff; i < dyn; i++) b[i] = 0x41;
      }],
    ];
    for (const [name, mutate] of cases) {
      const b = Buffer.from(base);
      mutate(b);
      const t0 = Date.now();
      expect(outcome(write(b)), name).toBe('ElfFormatError');
      expect(Date.now() - t0, name).toBeLessThan(1000);
    }
  });

  it('property: mutated real headers only ever give typed errors, always return, in bounded time', () => {
    const seeds = ['/usr/bin/ls', '/lib/x86_64-linux-gnu/libc.so.6', '/usr/bin/true'].map((f) => {
      const fd = fs.openSync(f, 'r');
      const size = Math.min(fs.fstatSync(fd).size, 256 * 1024);
      const buf = Buffer.alloc(size);
      fs.readSync(fd, buf, 0, size, 0);
      fs.closeSync(fd);
      return buf;
    });
    const target = path.join(tmp, 'mutant');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
        (which, edits) => {
          const b = Buffer.from(seeds[which]!);
          for (const [at, value, nearHead] of edits) b[nearHead ? at % 4096 : at % b.length] = value;
          fs.writeFileSync(target, b);
          const t0 = Date.now();
          try {
            readElf(target, { versions: true, notes: true });
          } catch (err) {
            if (!(err instanceof ElfFormatError || err instanceof NotElfError || err instanceof UnreadableFileError)) throw err;
          }
          return Date.now() - t0 < 1000;
        },
      ),
      { numRuns: 400, seed: 20261128 },
    );
  });
});
