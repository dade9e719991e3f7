/**
 * The machine table (src/elf/machines.ts) against readelf: a bare ELF header for every e_machine value
 * from 0 to 1023 and for the large values binutils knows (the "unofficial" 0x9026 alpha and friends), in
 * both classes and byte orders; readelf's "Machine:" line must be what the table says, and the reader
 * must still read class, byte order and machine of a value it has no architecture row for.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ELF_MACHINES, readElf, readelfMachineName } from '../src/internal.js';
import { makeTempDir } from './helpers/fixtures.js';

const tmp = makeTempDir('elf-machines');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HIGH = [0x1057, 0x1059, 0x4157, 0x4688, 0x5441, 0x5aa5, 0x9026, 0x9041, 0x9080, 0xa390, 0xabc7, 0xbaab, 0xdead, 0xf00d, 0xfeb0, 0xfeba, 0xfeb8, 0xffff];
const values = [...new Set([...Array.from({ length: 1024 }, (_, i) => i), ...HIGH, ...ELF_MACHINES.keys()])].sort((a, b) => a - b);

/**
 * A header-only ET_REL file: no program or section headers. (Relocatable: an ET_EXEC or ET_DYN without
 * program headers is not loadable and is refused, as the kernel and ld.so refuse it.)
 */
function header(machine: number, elfClass: 32 | 64, big: boolean): Buffer {
  const size = elfClass === 64 ? 64 : 52;
  const b = Buffer.alloc(size);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = elfClass === 64 ? 2 : 1;
  b[5] = big ? 2 : 1;
  b[6] = 1;
  const u16 = (v: number, at: number): number => (big ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const u32 = (v: number, at: number): number => (big ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  u16(1, 16);
  u16(machine, 18);
  u32(1, 20);
  u16(size, elfClass === 64 ? 52 : 40);
  return b;
}

function readelfMachines(files: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < files.length; i += 400) {
    const r = spawnSync('readelf', ['-h', '-W', ...files.slice(i, i + 400)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    let current = '';
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('File: ')) current = line.slice(6);
      const m = /^\s+Machine:\s+(.*)$/.exec(line);
      if (m && current) out.set(current, (m[1] ?? '').trim());
    }
  }
  return out;
}

describe('every e_machine readelf names', () => {
  for (const [elfClass, big] of [
    [64, false],
    [32, true],
  ] as const) {
    it(`ELF${elfClass} ${big ? 'big' : 'little'}-endian: readelf's name is the table's, and the reader reads the header`, () => {
      const dir = path.join(tmp, `${elfClass}${big ? 'be' : 'le'}`);
      fs.mkdirSync(dir);
      const files = values.map((m) => {
        const f = path.join(dir, String(m));
        fs.writeFileSync(f, header(m, elfClass, big));
        return f;
      });
      const theirs = readelfMachines(files);
      expect(theirs.size).toBe(files.length);
      const mismatches: string[] = [];
      values.forEach((m, i) => {
        const file = files[i] ?? '';
        if (readelfMachineName(m) !== theirs.get(file)) mismatches.push(`${m}: table ${readelfMachineName(m)}, readelf ${theirs.get(file)}`);
        const info = readElf(file);
        if (info.machine !== m || info.elfClass !== elfClass || info.byteOrder !== (big ? 'big' : 'little')) mismatches.push(`${m}: read as ${info.elfClass}/${info.byteOrder}/${info.machine}`);
      });
      expect(mismatches).toEqual([]);
      // Not vacuous: most values here are named, the rest are readelf's "<unknown>".
      expect(values.filter((m) => ELF_MACHINES.has(m)).length).toBeGreaterThan(200);
    });
  }
});
