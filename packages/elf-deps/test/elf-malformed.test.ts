/**
 * Every ELF is malformed until proven otherwise. Empty, truncated, crafted-hostile and mutated files and
 * things that are not files at all give one of the typed errors (NotElfError, ElfFormatError,
 * UnreadableFileError — all ElfDepsError), quickly: never a RangeError or TypeError from a Buffer read,
 * never a hang on a FIFO, never a loop on a version chain.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfDepsError, ElfFormatError, NotElfError, UnreadableFileError, readElf, vaddrToOffset } from '../src/internal.js';
import { craftElf, DT, dynValueOffset, ehdrFields, FieldWriter, phdrFields, phdrOffset, UNMAPPED_ADDRESS, type CraftSpec } from './helpers/elf-writer.js';
import { bundleReaderRunner, compileC, makeTempDir, outcomeName, readElfRaw, readInChild, readOutcome } from './helpers/fixtures.js';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = makeTempDir('malformed');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeTemp(bytes: Uint8Array, name = `f${n++}`): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Reads `file` and returns the typed error it must raise (failing the test on success or an untyped error). */
function typedError(file: string): ElfDepsError {
  const t0 = performance.now();
  const r = readOutcome(file, { versions: true, notes: true });
  const ms = performance.now() - t0;
  expect(ms, `${file} took ${ms.toFixed(0)} ms`).toBeLessThan(1000);
  if (r.ok) throw new Error(`${file} was read without error: ${JSON.stringify(r.info)}`);
  return r.error;
}

function expectFormatError(file: string, field: RegExp): ElfFormatError {
  const err = typedError(file);
  expect(err, err.message).toBeInstanceOf(ElfFormatError);
  const fe = err as ElfFormatError;
  expect(fe.field, fe.message).toMatch(field);
  expect(Number.isInteger(fe.offset), fe.message).toBe(true);
  expect(fe.path).toBe(file);
  return fe;
}

function expectUnreadable(file: string, kind: UnreadableFileError['kind']): void {
  const err = typedError(file);
  expect(err, err.message).toBeInstanceOf(UnreadableFileError);
  expect((err as UnreadableFileError).kind, err.message).toBe(kind);
}

const BASE_SPEC: CraftSpec = {
  elfClass: 64,
  byteOrder: 'little',
  interp: '/lib64/ld-linux-x86-64.so.2',
  needed: ['libfoo.so.1', 'libbar.so.2'],
  soname: 'libself.so',
  verneed: [{ file: 'libfoo.so.1', versions: [{ name: 'FOO_1' }, { name: 'FOO_2' }] }],
  verdef: [{ name: 'libself.so', base: true }, { name: 'SELF_1' }],
};

/** A crafted file with one change, written to a temp file. */
function craftedWith(spec: CraftSpec, mutate: (f: FieldWriter, layout: ReturnType<typeof craftElf>['layout']) => void): string {
  const { bytes, layout } = craftElf(spec);
  mutate(new FieldWriter(bytes, spec.elfClass, spec.byteOrder), layout);
  return writeTemp(bytes);
}

describe('short and truncated files', () => {
  it('a 0-byte file is not ELF', () => {
    expect(typedError(writeTemp(Buffer.alloc(0)))).toBeInstanceOf(NotElfError);
  });

  it('a 3-byte file (the start of the magic) is not ELF', () => {
    expect(typedError(writeTemp(Buffer.from([0x7f, 0x45, 0x4c])))).toBeInstanceOf(NotElfError);
  });

  it('a file without the magic is not ELF, whatever follows', () => {
    const b = fs.readFileSync('/usr/bin/true');
    b[0] = 0x7e;
    expect(typedError(writeTemp(b))).toBeInstanceOf(NotElfError);
  });

  it('every truncation of the first 4 KiB of a real ELF: NotElfError below 4 bytes, else ElfFormatError or a successful parse', () => {
    const real = fs.readFileSync('/usr/bin/true').subarray(0, 4096);
    const target = path.join(dir, 'prefix');
    const t0 = performance.now();
    const seen = new Map<string, number>();
    for (let len = 0; len <= real.length; len++) {
      fs.writeFileSync(target, real.subarray(0, len));
      const r = readOutcome(target, { versions: true, notes: true });
      const name = r.ok ? 'ok' : r.error.name;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      if (len < 4) expect(name, `prefix of ${len} bytes`).toBe('NotElfError');
      else if (len < 64) expect(name, `prefix of ${len} bytes`).toBe('ElfFormatError');
      else expect(['ok', 'ElfFormatError'], `prefix of ${len} bytes`).toContain(name);
    }
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(seen.get('ElfFormatError') ?? 0).toBeGreaterThan(4000);
  });

  it('every truncation of a whole crafted big-endian ELF32 with versions: typed errors only', () => {
    const { bytes } = craftElf({ ...BASE_SPEC, elfClass: 32, byteOrder: 'big' });
    const target = path.join(dir, 'prefix-be');
    for (let len = 0; len <= bytes.length; len++) {
      fs.writeFileSync(target, bytes.subarray(0, len));
      const name = outcomeName(target, { versions: true });
      expect(['ok', 'ElfFormatError', 'NotElfError'], `prefix of ${len} bytes`).toContain(name);
      if (len === bytes.length) expect(name).toBe('ok');
    }
  });
});

describe('things that are not regular files are refused by type, before open()', () => {
  let runner: string;
  beforeAll(() => {
    runner = bundleReaderRunner(dir);
  });

  it('a directory', () => {
    expectUnreadable(dir, 'directory');
  });

  it('a FIFO with no writer: refused without blocking (checked in a child process with a timeout)', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = readInChild(runner, fifo, 10_000);
    expect(r.timedOut, 'reading a FIFO blocked').toBe(false);
    expect(r).toMatchObject({ outcome: 'UnreadableFileError', kind: 'fifo' });
    expect(r.ms ?? Infinity).toBeLessThan(1000);
    // And in-process, now that it is known not to hang.
    expectUnreadable(fifo, 'fifo');
  });

  it('/dev/null and /dev/zero are character devices', () => {
    expectUnreadable('/dev/null', 'char-device');
    expectUnreadable('/dev/zero', 'char-device');
  });

  it('a Unix socket', async () => {
    const sock = path.join(dir, 'sock');
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, resolve);
    });
    try {
      expectUnreadable(sock, 'socket');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a symlink loop (a -> b, b -> a) is a symlink-loop, not a hang', () => {
    const a = path.join(dir, 'loop-a');
    const b = path.join(dir, 'loop-b');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    expectUnreadable(a, 'symlink-loop');
  });

  it('a dangling symlink and a missing file are not-found', () => {
    const d = path.join(dir, 'dangling');
    fs.symlinkSync(path.join(dir, 'no-such-target'), d);
    expectUnreadable(d, 'not-found');
    expectUnreadable(path.join(dir, 'no-such-file'), 'not-found');
    expectUnreadable(path.join(dir, 'no-such-dir', 'x'), 'not-found');
  });

  it('a file the caller may not read (mode 000) is a permission error', () => {
    const sub = path.join(dir, 'perm');
    fs.mkdirSync(sub, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const f = path.join(sub, 'secret');
    fs.copyFileSync('/usr/bin/true', f);
    fs.chmodSync(f, 0o000);
    const isRoot = process.geteuid?.() === 0;
    if (!isRoot) {
      expectUnreadable(f, 'permission');
      return;
    }
    // Root reads anything (CAP_DAC_OVERRIDE): drop to `nobody` for the one call. The real uid stays 0, so
    // seteuid(0) afterwards restores root and its capabilities. Forks pool: this worker is a process.
    if (typeof process.seteuid !== 'function' || typeof process.setegid !== 'function') {
      console.log('SKIPPED: permission case needs process.seteuid (not available in a worker thread); running as root, mode 000 cannot fail');
      return;
    }
    process.setegid(65534);
    process.seteuid(65534);
    try {
      expectUnreadable(f, 'permission');
    } finally {
      process.seteuid(0);
      process.setegid(0);
    }
    expect(process.geteuid?.()).toBe(0);
  });
});

describe('hostile fields in a crafted file give ElfFormatError naming the field', () => {
  const ph = phdrFields(64);
  const eh = ehdrFields(64);

  it('the unmodified crafted file reads (so each case below fails for its one change)', () => {
    const info = readElf(writeTemp(craftElf(BASE_SPEC).bytes), { versions: true });
    expect(info.dynamic?.needed).toEqual(['libfoo.so.1', 'libbar.so.2']);
    expect(info.versionNeeds?.[0]?.versions.map((v) => v.name)).toEqual(['FOO_1', 'FOO_2']);
  });

  it('a huge e_phnum: the program header table cannot fit in the file', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.u16(eh.phnum, 0xfffe)), /e_phoff|e_phnum/);
  });

  it('PN_XNUM whose section header 0 claims 2^32-1 program headers', () => {
    expectFormatError(
      craftedWith(BASE_SPEC, (f, l) => {
        f.u16(eh.phnum, 0xffff);
        f.u32(l.shoff + 44, 0xffffffff);
      }),
      /e_phnum|e_phoff/,
    );
  });

  it('PN_XNUM with no section header table', () => {
    expectFormatError(
      craftedWith(BASE_SPEC, (f) => {
        f.u16(eh.phnum, 0xffff);
        f.addr(eh.shoff, 0);
      }),
      /e_phnum/,
    );
  });

  it('e_phoff past the end of the file, and at 2^64-8', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.addr(eh.phoff, 1n << 40n)), /e_phoff/);
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.addr(eh.phoff, (1n << 64n) - 8n)), /e_phoff/);
  });

  it('an executable or library with no program headers is not loadable (e_phnum 0; PN_XNUM with sh_info 0), as ld.so --verify says', () => {
    const noPhdrs = [
      craftedWith(BASE_SPEC, (f) => f.u16(eh.phnum, 0)),
      craftedWith(BASE_SPEC, (f, l) => {
        f.u16(eh.phnum, 0xffff);
        f.u32(l.shoff + 44, 0);
      }),
    ];
    // The same two changes to a real program, for the loader's own verdict.
    const real = fs.readFileSync('/usr/bin/true');
    const shoff = Number(real.readBigUInt64LE(eh.shoff));
    const realZero = Buffer.from(real);
    realZero.writeUInt16LE(0, eh.phnum);
    const realXnum = Buffer.from(real);
    realXnum.writeUInt16LE(0xffff, eh.phnum);
    realXnum.writeUInt32LE(0, shoff + 44);
    expect(spawnSync('/lib64/ld-linux-x86-64.so.2', ['--verify', '/usr/bin/true']).status).toBe(0);
    for (const file of [...noPhdrs, writeTemp(realZero), writeTemp(realXnum)]) {
      const fe = expectFormatError(file, /^e_phnum$/);
      expect(fe.message).toMatch(/not loadable: .*no program headers/);
      expect(fe.offset).toBe(eh.phnum);
    }
    for (const file of [writeTemp(realZero), writeTemp(realXnum)]) expect(spawnSync('/lib64/ld-linux-x86-64.so.2', ['--verify', file]).status, file).not.toBe(0);
  });

  it('a relocatable object keeps having no program headers (cc -c output reads)', () => {
    const obj = path.join(dir, 'obj.o');
    execFileSync('gcc', ['-c', '-x', 'c', '-', '-o', obj], { input: 'int f(void) { return 1; }\n' });
    expect(readElf(obj).kind).toBe('relocatable');
  });

  it('offsets above 2^53 are printed exactly, never through a double (e_phoff, PT_DYNAMIC p_offset and p_filesz)', () => {
    // 2^64 - 65609: the nearest double prints as 18446744073709486000.
    const odd = (1n << 64n) - 65609n;
    const exact = `0x${odd.toString(16)}`;
    const phoffErr = expectFormatError(craftedWith(BASE_SPEC, (f) => f.addr(eh.phoff, odd)), /^e_phoff$/);
    expect(phoffErr.message).toContain(exact);
    expect(phoffErr.message).not.toMatch(/18446744073709486000|0xffffffffffff0000/);
    expect(phoffErr.offset).toBe(eh.phoff);
    for (const field of ['offset', 'filesz'] as const) {
      const fe = expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(phdrOffset(l, l.phIndex.dynamic) + ph[field], odd)), new RegExp(`^PT_DYNAMIC p_${field}$`));
      expect(fe.message).toContain(exact);
    }
  });

  it('addresses above 2^53 are printed exactly, never through a double (DT_STRTAB, DT_VERNEED, e_shoff)', () => {
    const odd = (1n << 64n) - 65609n;
    const exact = `0x${odd.toString(16)}`;
    // Without section headers nothing else can locate .dynstr: DT_STRTAB's address is the error.
    const strtab = expectFormatError(craftedWith({ ...BASE_SPEC, noSections: true }, (f, l) => f.addr(dynValueOffset(l, 64, DT.STRTAB), odd)), /^DT_STRTAB$/);
    expect(strtab.message).toContain(exact);
    const verneed = expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(dynValueOffset(l, 64, DT.VERNEED), odd)), /^DT_VERNEED$/);
    expect(verneed.message).toContain(exact);
    // e_shoff is followed only when DT_STRTAB does not translate through PT_LOAD.
    const shoff = expectFormatError(craftedWith({ ...BASE_SPEC, strtabOutsideLoad: true }, (f) => f.addr(eh.shoff, odd)), /^e_shoff$/);
    expect(shoff.message).toContain(exact);
    expect(shoff.offset).toBe(eh.shoff);
  });

  it('e_phentsize smaller than a program header', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.u16(eh.phentsize, 8)), /e_phentsize/);
  });

  it('PT_DYNAMIC pointing past EOF, or with a size running past it', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(phdrOffset(l, l.phIndex.dynamic) + ph.offset, 1n << 33n)), /PT_DYNAMIC/);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(phdrOffset(l, l.phIndex.dynamic) + ph.filesz, 1n << 62n)), /PT_DYNAMIC/);
  });

  it('PT_INTERP past EOF, empty, or longer than any path', () => {
    const interp = (l: ReturnType<typeof craftElf>['layout']): number => phdrOffset(l, l.phIndex.interp ?? -1);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(interp(l) + ph.offset, 1n << 36n)), /PT_INTERP/);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(interp(l) + ph.filesz, 0)), /PT_INTERP/);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(interp(l) + ph.filesz, 1 << 20)), /PT_INTERP/);
  });

  it('DT_NEEDED index past DT_STRSZ', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(dynValueOffset(l, 64, DT.NEEDED), l.dynstr.size + 5)), /DT_NEEDED/);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(dynValueOffset(l, 64, DT.NEEDED), (1n << 64n) - 1n)), /DT_NEEDED/);
  });

  it('a DT_SONAME string with no NUL before the end of the string table', () => {
    const file = craftedWith(BASE_SPEC, (f, l) => {
      const at = l.dynstr.offset + (l.strings.get('libself.so') ?? 0);
      // Overwrite the string's NUL and every byte to the end of .dynstr: the table ends unterminated.
      f.buf.fill(0x41, at, l.dynstr.offset + l.dynstr.size);
    });
    expect(expectFormatError(file, /DT_SONAME|DT_NEEDED|vn_file|vna_name|vda_name/).message).toMatch(/NUL/);
  });

  it('DT_STRTAB in no PT_LOAD and no section headers to fall back on', () => {
    expectFormatError(craftedWith({ ...BASE_SPEC, noSections: true }, (f, l) => f.addr(dynValueOffset(l, 64, DT.STRTAB), UNMAPPED_ADDRESS)), /DT_STRTAB/);
  });

  it('DT_VERNEED in no PT_LOAD', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.addr(dynValueOffset(l, 64, DT.VERNEED), UNMAPPED_ADDRESS)), /DT_VERNEED/);
  });

  it('a verneed next-pointer loop (vn_next -16: a cycle under 32-bit wrap-around, DT_VERNEEDNUM 2^32-1) ends quickly', () => {
    const file = craftedWith(BASE_SPEC, (f, l) => {
      const vn = l.verneed?.offset ?? -1;
      f.u32(vn + 12, 0xfffffff0);
      f.addr(dynValueOffset(l, 64, DT.VERNEEDNUM), 0xffffffff);
    });
    expectFormatError(file, /Elf_Verneed|DT_VERNEED/);
  });

  it('a verneed chain that steps forward one byte at a time with DT_VERNEEDNUM 2^32-1 ends quickly', () => {
    const file = craftedWith(BASE_SPEC, (f, l) => {
      f.u32((l.verneed?.offset ?? -1) + 12, 1);
      f.addr(dynValueOffset(l, 64, DT.VERNEEDNUM), 0xffffffff);
    });
    typedError(file);
  });

  it('a vernaux next-pointer loop (vna_next -16) and a vn_cnt of 65535 end quickly', () => {
    const file = craftedWith(BASE_SPEC, (f, l) => {
      const vn = l.verneed?.offset ?? -1;
      f.u16(vn + 2, 0xffff);
      f.u32(vn + 16 + 12, 0xfffffff0);
    });
    expectFormatError(file, /Elf_Vernaux/);
  });

  it('a verdef next-pointer loop (vd_next -20) ends quickly', () => {
    const file = craftedWith(BASE_SPEC, (f, l) => {
      f.u32((l.verdef?.offset ?? -1) + 16, 0xffffffec);
      f.addr(dynValueOffset(l, 64, DT.VERDEFNUM), 0xffffffff);
    });
    expectFormatError(file, /Elf_Verdef/);
  });

  it('vn_file and vna_name indexes past the string table', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.u32((l.verneed?.offset ?? -1) + 4, 0x7fffffff)), /vn_file/);
    expectFormatError(craftedWith(BASE_SPEC, (f, l) => f.u32((l.verneed?.offset ?? -1) + 16 + 8, 0x7fffffff)), /vna_name/);
  });

  it('an invalid EI_CLASS and EI_DATA', () => {
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.u8(4, 7)), /EI_CLASS/);
    expectFormatError(craftedWith(BASE_SPEC, (f) => f.u8(5, 0)), /EI_DATA/);
  });

  it('a section header table past EOF matters only when the fallback needs it', () => {
    // DT_STRTAB maps: the broken section table is never read.
    expect(outcomeName(craftedWith(BASE_SPEC, (f) => f.addr(eh.shoff, 1n << 40n)))).toBe('ok');
    // DT_STRTAB does not map: the fallback reads the section table and must fail typed.
    expectFormatError(
      craftedWith({ ...BASE_SPEC, strtabOutsideLoad: true }, (f) => f.addr(eh.shoff, 1n << 40n)),
      /e_shoff|DT_STRTAB/,
    );
  });
});

describe('property: mutated real ELF files only ever return or throw a typed error, within a second', () => {
  interface Seed {
    name: string;
    file: string;
    original: Buffer;
    /** [offset, size] regions to mutate: the first 4 KiB, the dynamic array, its strings, the version tables. */
    regions: [number, number][];
  }
  const seeds: Seed[] = [];

  beforeAll(() => {
    const sources: { name: string; path: string }[] = [
      { name: 'ls', path: '/usr/bin/ls' },
      { name: 'libc.so.6', path: fs.realpathSync('/lib/x86_64-linux-gnu/libc.so.6') },
      { name: 'exe32', path: compileC(dir, 'seed32', '#include <math.h>\nint main(int c, char **v) { (void)v; return (int)sin(c); }\n', ['-m32', '-lm']) },
      { name: 'crafted-be64', path: writeTemp(craftElf({ ...BASE_SPEC, byteOrder: 'big' }).bytes, 'seed-be64') },
    ];
    for (const s of sources) {
      const info = readElfRaw(s.path, { versions: true });
      const raw = info.raw;
      const dynPh = raw?.programHeaders.find((p) => p.type === 2);
      const regions: [number, number][] = [[0, Math.min(4096, info.size)]];
      if (dynPh) regions.push([dynPh.offset, dynPh.filesz]);
      if (raw?.strings) regions.push([raw.strings.offset, Math.min(raw.strings.size, 4096)]);
      const loads = raw?.programHeaders.filter((p) => p.type === 1) ?? [];
      for (const vaddr of [raw?.dynamicTags?.verneed, raw?.dynamicTags?.verdef]) {
        const at = vaddr === undefined ? undefined : vaddrToOffset(loads, vaddr);
        if (at !== undefined) regions.push([at, Math.min(512, info.size - at)]);
      }
      const copy = path.join(dir, `mutant-${s.name}`);
      fs.copyFileSync(s.path, copy);
      seeds.push({ name: s.name, file: copy, original: fs.readFileSync(copy), regions });
    }
  });

  it('random bytes in the first 4 KiB, the dynamic array, its strings and the version tables (300 runs)', () => {
    let typed = 0;
    let ok = 0;
    let slowest = 0;
    fc.assert(
      fc.property(
        fc.nat(),
        fc.array(fc.record({ region: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 16 }),
        (seedIndex, edits) => {
          const seed = seeds[seedIndex % seeds.length];
          if (!seed) return false;
          const fd = fs.openSync(seed.file, 'r+');
          const touched: number[] = [];
          try {
            for (const e of edits) {
              const [start, size] = seed.regions[e.region % seed.regions.length] ?? [0, 1];
              const at = start + (e.at % Math.max(1, size));
              if (at >= seed.original.length) continue;
              fs.writeSync(fd, Buffer.from([e.value]), 0, 1, at);
              touched.push(at);
            }
          } finally {
            fs.closeSync(fd);
          }
          const t0 = performance.now();
          let ms = 0;
          try {
            readElf(seed.file, { versions: true, notes: true });
            ok++;
          } catch (err) {
            if (!(err instanceof ElfDepsError)) throw err;
            typed++;
          } finally {
            ms = performance.now() - t0;
            // Restore the seed for the next run.
            const wfd = fs.openSync(seed.file, 'r+');
            for (const at of touched) fs.writeSync(wfd, seed.original, at, 1, at);
            fs.closeSync(wfd);
          }
          slowest = Math.max(slowest, ms);
          return ms < 1000;
        },
      ),
      { numRuns: 300 },
    );
    console.log(`mutation property: ${ok} parsed, ${typed} typed errors, slowest ${slowest.toFixed(1)} ms`);
    expect(ok + typed).toBeGreaterThanOrEqual(300);
  });
});
