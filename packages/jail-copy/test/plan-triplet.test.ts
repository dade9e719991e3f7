/**
 * plan.triplet names the program's multiarch triplet, which profiles build paths from (ossl-modules,
 * gconv). It comes from the architecture row, not from `$LIB`: on an amd64 host whose i386 libraries are
 * the biarch /lib32 (libc6-i386), `$LIB` is "lib32", which names no triplet.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCopy } from '../src/index.js';
import { gcc, tempDir } from './helpers/jail.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('triplet');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('plan.triplet', () => {
  it('is the multiarch triplet gcc names for the program, for the host architecture and for i386 (-m32)', () => {
    for (const flags of [[], ['-m32']]) {
      const prog = gcc(path.join(dir, `prog${flags.join('')}`), 'int main(void) { return 0; }\n', flags);
      // The toolchain's own answer: Debian's multiarch directory for that ABI.
      const expected = execFileSync('gcc', [...flags, '-print-multiarch'], { encoding: 'utf8' }).trim();
      expect(expected).toMatch(/^[a-z0-9_]+-linux-gnu/);
      const plan = planCopy([prog], path.join(dir, 'jail'), { nss: false });
      expect(plan.triplet).toBe(expected);
    }
  });
});
