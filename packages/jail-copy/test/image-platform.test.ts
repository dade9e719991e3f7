/**
 * The OCI platform table against readelf: for each row, an ELF crafted with its machine, class and byte
 * order is named by readelf as the machine GOARCH calls that architecture (Go's list: amd64, arm64,
 * arm, 386, riscv64, ppc64le, ppc64, s390x). A wrong EM_ number in the table would name another machine.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readElf } from '@elfcopy/elf-deps';
import { craftElf } from '../../elf-deps/test/helpers/elf-writer.js';
import { OCI_PLATFORMS, platformOf } from '../src/internal.js';
import { tempDir } from './helpers/jail.js';

const tmp = tempDir('image-platform');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** readelf's "Machine:" and "Data:" for each GOARCH, as binutils prints them. */
const READELF: Record<string, { machine: RegExp; data: RegExp; class: RegExp }> = {
  amd64: { machine: /X86-64/, data: /little endian/, class: /ELF64/ },
  arm64: { machine: /AArch64/, data: /little endian/, class: /ELF64/ },
  arm: { machine: /^ARM$/, data: /little endian/, class: /ELF32/ },
  '386': { machine: /Intel 80386/, data: /little endian/, class: /ELF32/ },
  riscv64: { machine: /RISC-V/, data: /little endian/, class: /ELF64/ },
  ppc64le: { machine: /PowerPC64/, data: /little endian/, class: /ELF64/ },
  ppc64: { machine: /PowerPC64/, data: /big endian/, class: /ELF64/ },
  s390x: { machine: /IBM S\/390/, data: /big endian/, class: /ELF64/ },
};

describe('OCI_PLATFORMS', () => {
  it.each(OCI_PLATFORMS.map((r) => [r.architecture, r] as const))('%s: readelf names the machine of its row', (arch, row) => {
    const file = path.join(tmp, arch);
    fs.writeFileSync(file, craftElf({ elfClass: row.elfClass, byteOrder: row.byteOrder, machine: row.machine }).bytes);
    const out = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
    const field = (name: string): string => new RegExp(`^\\s*${name}:\\s*(.+)$`, 'm').exec(out)?.[1]?.trim() ?? '';
    const want = READELF[arch];
    expect(want, arch).toBeDefined();
    expect(field('Machine')).toMatch(want?.machine ?? /^$/);
    expect(field('Data')).toMatch(want?.data ?? /^$/);
    expect(field('Class')).toMatch(want?.class ?? /^$/);
    expect(platformOf(readElf(file))?.architecture).toBe(arch);
  });

  it('arm: armhf (ld-linux-armhf.so.3) is v7, armel (ld-linux.so.3) is v5; arm64 is v8', () => {
    expect(platformOf({ machine: 40, elfClass: 32, byteOrder: 'little', interpreter: '/lib/ld-linux-armhf.so.3' })).toEqual({ architecture: 'arm', os: 'linux', variant: 'v7' });
    expect(platformOf({ machine: 40, elfClass: 32, byteOrder: 'little', interpreter: '/lib/ld-linux.so.3' })).toEqual({ architecture: 'arm', os: 'linux', variant: 'v5' });
    expect(platformOf({ machine: 183, elfClass: 64, byteOrder: 'little' })?.variant).toBe('v8');
    expect(platformOf({ machine: 8, elfClass: 32, byteOrder: 'big' })).toBeUndefined();
  });
});
