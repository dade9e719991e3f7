/**
 * ElfFile, the lazy file: each part is read on first request and kept, a closed file reopens for a later
 * request and refuses one that was replaced meanwhile. The parts themselves are checked against readelf.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElfFile, UnreadableFileError } from '../src/index.js';
import { countBytesRead } from './helpers/elf-files.js';
import { compileC, makeTempDir } from './helpers/fixtures.js';
import { compareWithReadelf, readelfBatch } from './helpers/readelf.js';

let dir: string;
let lib: string;
beforeAll(() => {
  dir = makeTempDir('elffile');
  // Versioned glibc symbols (printf@GLIBC_2.2.5), a soname and a dynamic symbol table of its own.
  lib = compileC(dir, 'libv.so', '#include <stdio.h>\nint answer(void) { printf("x"); return 42; }\n', ['-shared', '-fPIC', '-Wl,-soname,libv.so.1']);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ElfFile', () => {
  it('opening reads the dynamic information only; versions and symbols are read on first request, then kept', () => {
    const { value: elf, bytes: atOpen } = countBytesRead(() => ElfFile.open(lib));
    try {
      expect(elf.info.dynamic?.soname).toBe('libv.so.1');
      const first = countBytesRead(() => elf.versionNeeds());
      expect(first.bytes).toBeGreaterThan(0);
      // The same array, not a second parse.
      expect(elf.versionNeeds()).toBe(first.value);
      expect(elf.dynamicSymbols()).toBe(elf.dynamicSymbols());
      expect(elf.dynamicSymbols().some((s) => s.name === 'answer' && s.defined)).toBe(true);
      expect(atOpen).toBeGreaterThan(0);
      // What the accessors read is what readelf reads.
      const view = readelfBatch([lib]).get(lib);
      expect(view).toBeDefined();
      if (view) expect(compareWithReadelf(lib, elf.snapshot({ versions: true }), view)).toEqual([]);
    } finally {
      elf.close();
    }
  });

  it('after close() an accessor opens the file again for its read, and gives what an open file gives', () => {
    const open = ElfFile.open(lib);
    const expected = { needs: open.versionNeeds(), defs: open.versionDefinitions(), notes: open.dlopenNotes() };
    open.close();
    const closed = ElfFile.open(lib);
    closed.close();
    expect(closed.versionNeeds()).toEqual(expected.needs);
    expect(closed.versionDefinitions()).toEqual(expected.defs);
    expect(closed.dlopenNotes()).toEqual(expected.notes);
    expect(closed.versionNeeds().map((n) => n.file)).toContain('libc.so.6');
  });

  it('a file replaced after close() (another inode) is refused, not read as the old one', () => {
    const copy = path.join(dir, 'libcopy.so');
    fs.copyFileSync(lib, copy);
    const elf = ElfFile.open(copy);
    elf.close();
    // A new file renamed over the old one while both exist: another inode, same size and bytes.
    fs.copyFileSync(lib, `${copy}.new`);
    fs.renameSync(`${copy}.new`, copy);
    expect(() => elf.dynamicSymbols()).toThrow(UnreadableFileError);
    expect(() => elf.dynamicSymbols()).toThrow(/changed while elfcopy was reading it/);
  });
});
